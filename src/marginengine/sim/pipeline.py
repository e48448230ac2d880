"""The one pipeline: every scenario, whatever its price source, runs through :func:`run`.

``simulate`` (one run, its event log, ``steps.parquet`` and the report), Monte Carlo
(:mod:`marginengine.sim.montecarlo`), sweeps (:mod:`marginengine.sim.sweep`) and the
Python API (:func:`marginengine.simulate`) all call :func:`run` (Monte Carlo and sweeps
through :func:`run_draw`) and get a
:class:`RunResult`: the summary, the per-step series with the columns of
``steps.parquet`` (:data:`marginengine.sim.metrics.SERIES_COLUMNS`) and the engine.

A scenario with a price model is driven by :class:`~marginengine.sim.cascade.CascadeRunner`
(the step loop of docs/simulator.md). A scenario with explicit prices and actions is
driven by :class:`~marginengine.sim.scripted.ScenarioRunner`, one step at a time, and the
pipeline records the same series columns after each step (the keeper's liquidations, the
bad debt, health quantiles, the headline asset's prices) and adds the figures every run
has to its summary (``borrower_loss``, ``min_price``, ``setup_rejected``, the book's
capacity, ...). Its events, state hash and scripted figures are those of
:func:`~marginengine.sim.scripted.run_scenario`: the recording only reads.

Randomness: ``rng=None`` is the scenario's own run (a model draws from ``seed``; explicit
prices run as written). A generator given is a Monte Carlo draw: a model draws its paths,
book and keeper order from it; explicit prices are perturbed by ``[noise]``
(:meth:`~marginengine.sim.scenario.Scenario.perturbed`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from marginengine.errors import field_path
from marginengine.fixedpoint import PRICE_UNIT, WAD, Rounding
from marginengine.margin import NO_DEBT_HEALTH, underwater_value, value_of
from marginengine.sim.metrics import SERIES_COLUMNS
from marginengine.sim.schema import ScenarioSpec, load_spec, resolve_kind

if TYPE_CHECKING:
    from marginengine.engine import Engine
    from marginengine.sim.cascade import CascadeResult
    from marginengine.sim.scripted import ScenarioResult, ScenarioRunner


@dataclass
class RunResult:
    """One run of any scenario.

    Attributes
    ----------
    kind
        ``scripted`` (explicit prices) or ``cascade`` (a price model).
    summary
        The run's ``summary.json`` figures.
    series
        The per-step columns of ``steps.parquet``, from step 0 (the state after set-up);
        empty when traces are off.
    engine
        The engine after the run.
    auctions, twin_series, ltv_log
        A model's auction outcomes, its run without venue feedback and its loan-to-value
        log (empty or ``None`` for explicit prices: no auctions, no venue).
    scripted
        The scripted records (liquidations, refusals) of an explicit run, else ``None``.
    cascade
        A model run's own result (what only a model run has), else ``None``.
    explanation
        Why the run's bad debt arose (:mod:`marginengine.sim.explain`; a run with
        explicit prices through :mod:`marginengine.sim.scripted_explain`), when asked
        for, else ``None``.
    """

    kind: str
    summary: dict[str, Any]
    series: dict[str, list[float]]
    engine: Engine
    auctions: list[dict[str, Any]] = field(default_factory=list)
    twin_series: dict[str, list[float]] | None = None
    ltv_log: list[dict[str, Any]] = field(default_factory=list)
    scripted: ScenarioResult | None = None
    cascade: CascadeResult | None = None
    explanation: dict[str, Any] | None = None


def run(scenario: dict[str, Any] | ScenarioSpec, rng: np.random.Generator | None = None, *,
        traces: bool = True, amplification: bool = True, log_path: Path | None = None,
        source: str | None = None, on_step: Callable[[int], None] | None = None,
        explain: bool = False) -> RunResult:
    """Run a scenario once.

    Parameters
    ----------
    scenario
        Its data (validated here) or a :func:`~marginengine.sim.schema.load_spec` spec.
    rng
        The run's generator (a Monte Carlo draw); ``None``: the scenario's own run.
    traces
        Keep the per-step series.
    amplification
        A model only: run the same path again without venue feedback (``amplification``
        in the summary).
    log_path
        Write the event log there.
    source
        The file the data came from (relative files are read from its folder).
    on_step
        Called after each step (progress bars).
    explain
        Record what the report's explanation needs (:mod:`marginengine.sim.explain`)
        and return it in ``explanation``.

    Raises
    ------
    ConfigError
        The scenario is invalid (every problem named by its field).
    """
    if isinstance(scenario, ScenarioSpec):
        data, source, kind = scenario.data, scenario.source, scenario.kind
    else:
        data, kind = scenario, resolve_kind(scenario, source)
    if kind == "cascade":
        from marginengine.sim.cascade import run_cascade

        # The model's own loop, called exactly as before the one pipeline: its figures,
        # draws and state hash are unchanged.
        res = run_cascade(data, rng, traces=traces, amplification=amplification,
                          log_path=log_path, source=source, on_step=on_step,
                          explain_run=explain)
        return RunResult("cascade", res.summary, res.series, res.engine, res.auctions,
                         res.twin_series, res.ltv_log, cascade=res,
                         explanation=res.explanation)
    spec = scenario if isinstance(scenario, ScenarioSpec) else load_spec(data, source)
    return _run_explicit(spec, rng, traces, log_path, on_step, explain)


def setup_warnings(summary: dict[str, Any]) -> list[str]:
    """What a run's user should hear about its set-up: the events the protocol refused
    while the book opened (``setup_rejected``, per protocol with ``[[protocols]]``), so
    the run is of a smaller book than the one asked for. Empty when none was refused.

    A synthetic ``[book]`` drawn below what initial margin allows (e.g.
    ``min_collateralization`` under ``1 / LTV``: gas_chains's 1.2 under WETH's 80.5%
    refuses 117 of its 400 accounts per protocol) loses those borrows; the printed
    summary did not say so, and only ``summary.json`` counted them.
    """
    refused = summary.get("setup_rejected") or 0
    if not refused:
        return []
    protocols = summary.get("protocols") or {}
    # The first protocol's book is [book]; each further one's is its [[protocols]]
    # entry's (protocols.N, in the summary's order), opened by its own book.open.
    refusing = [(name, figures["setup_rejected"],
                 "book.open" if i == 0 else f"{field_path('protocols', i - 1)}.book.open")
                for i, (name, figures) in enumerate(protocols.items())
                if isinstance(figures, dict) and figures.get("setup_rejected")]
    each = ", ".join(f"{name} {count}" for name, count, _ in refusing)
    how = ("(\"import\" opens a book as it stands: "
           + ", ".join(f"{path} for {name}" for name, _, path in refusing) + ")"
           if refusing else "(book.open = \"import\" opens it as it stands)")
    served = summary.get("demand_served")
    share = (f", {served:.0%} of the debt asked for (demand_served)"
             if isinstance(served, float) and served < 1 else "")
    return [f"setup_rejected: the protocol refused {refused} of the set-up's events"
            f"{f' ({each})' if each else ''}: the run is of the book it accepted{share}. "
            "A synthetic [book] drawn below what initial margin allows (book."
            f"min_collateralization under 1 / LTV) has those borrows refused {how}; the "
            "refusals are in summary.json"]


def run_draw(data: dict[str, Any], seed: int, index: int | None) -> RunResult:
    """One run of a Monte Carlo or a sweep, without traces, log or twin run.

    ``index`` ``None`` is the scenario's own run on ``seed``; else run ``index`` draws
    from child ``index`` of ``SeedSequence(seed)`` (:func:`draw_label` names it), the same
    at every point of a sweep (common random numbers).
    """
    rng = None if index is None else np.random.default_rng(child_seed(seed, index))
    return run(data, rng, traces=False, amplification=False)


def child_seed(seed: int, index: int) -> np.random.SeedSequence:
    """Child ``index`` of ``SeedSequence(seed)``, the one ``spawn(index + 1)[index]``
    gives (same entropy, spawn key ``(index,)``: the same draws, bit for bit), built in
    constant time: spawning ``index + 1`` children per run made run ``i`` cost ``O(i)``
    (10 ms at run 1,000, ~0.1 s at run 10,000), so a large Monte Carlo's later runs
    were slower than its first and the whole grew quadratically."""
    return np.random.SeedSequence(seed, spawn_key=(index,))


def draw_label(seed: int, index: int | None) -> str:
    """How a run's seed is recorded: ``"seed"`` for the scenario's own run, else
    ``"seed/index"``."""
    return str(seed) if index is None else f"{seed}/{index}"


# ---------------------------------------------------------------- explicit prices
def _run_explicit(spec: ScenarioSpec, rng: np.random.Generator | None, traces: bool,
                  log_path: Path | None, on_step: Callable[[int], None] | None,
                  explain: bool = False) -> RunResult:
    from marginengine.sim.explain import RunObserver
    from marginengine.sim.explain import explain as explain_run
    from marginengine.sim.options_metrics import options_capacity, options_outcome
    from marginengine.sim.scripted import ScenarioRunner
    from marginengine.sim.scripted_explain import ScriptedWorld

    assert spec.scripted is not None
    perturbed = rng is not None and spec.scripted.spec.noise is not None
    scenario = spec.scripted.perturbed(rng) if rng is not None else spec.scripted
    runner = ScenarioRunner(scenario, log_path)
    recorder = _Recorder(runner)
    # The explanation's records (only when asked: a report), read from the engine's
    # outcomes and the liquidatable accounts of each step; they change nothing.
    world = ScriptedWorld(runner, recorder.series) if explain else None
    observer = RunObserver() if explain else None
    if world is not None and observer is not None:
        observer.attach(world)

    def scanned(step: int) -> int:
        unsafe = recorder.liquidatable_accounts()
        if observer is not None:
            observer.scanned(step, unsafe)
        return len(unsafe)

    try:
        runner.setup()
        setup_rejected = len(runner.result.rejected)
        capacity = recorder.capacity()
        if scenario.options is not None:
            capacity.update(options_capacity(runner.engine, scenario.options.events,
                                             runner.result.rejected))
        recorder.record(0, scanned(0))
        for i in range(len(scenario.steps)):
            runner.begin_step(i)
            # Counted before the keeper acts, as a model's scan counts them.
            unsafe = scanned(i + 1)
            runner.end_step(i)
            recorder.market_step(i)
            recorder.record(i + 1, unsafe)
            if on_step is not None:
                on_step(i)
    finally:
        runner.engine.close()
    summary = runner.result.summary()
    external = recorder.series["external_price_usd"]
    summary.update({
        "price_source": "explicit",
        "headline": recorder.headline,
        "seed": spec.seed,
        "perturbed": perturbed,
        "bad_debt_in_auctions": 0.0,
        "bad_debt_underwater": summary["bad_debt_unrealized"],
        "borrower_loss": recorder.borrower_loss / PRICE_UNIT,
        "keeper_gas_spent": 0.0,
        "auctions_started": 0,
        "auctions_settled": 0,
        "auctions_settled_near_zero": 0,
        "auctions_running": 0,
        "amplification": None,
        "min_price": min(external),
        "final_price": external[-1],
        # No venue: sales fill at the explicit price.
        "min_venue_price": min(external),
        "setup_rejected": setup_rejected,
        # A scripted scenario opens its accounts by Borrow, each decided by initial margin
        # (no ImportAccount): none opens above its borrowing power, so none below health
        # 1 either (the counts a Monte Carlo and a sweep read of a cascade's book).
        "opened_above_borrowing_power": 0,
        "opened_below_health_1": 0,
        **capacity,
        # The options block's figures at the top level, as Monte Carlo rows read them.
        **options_outcome(summary.get("options")),
    })
    explanation = None
    if world is not None and observer is not None:
        world.finish(summary["bad_debt_realized"], summary["bad_debt_unrealized"])
        explanation = explain_run(world, observer)
    return RunResult("scripted", summary, recorder.series if traces else {}, runner.engine,
                     scripted=runner.result, explanation=explanation)


class _Recorder:
    """The series columns of an explicit run, read after each step (reads only)."""

    def __init__(self, runner: ScenarioRunner) -> None:
        self.runner = runner
        scenario = runner.scenario
        self.headline = scenario.headline
        #: The explicit market price of every asset, held between the steps that give it.
        self.market = dict(scenario.prices)
        self.others = [a for a in sorted(self.market) if a != self.headline]
        self.series: dict[str, list[float]] = {c.name: [] for c in SERIES_COLUMNS}
        for asset in self.others:
            for column in ("external_price_usd", "venue_price_usd", "oracle_price_usd"):
                self.series[f"{column}.{asset}"] = []
        self.borrower_loss = 0
        self.counted = 0

    def market_step(self, i: int) -> None:
        self.market.update(self.runner.scenario.steps[i][1])

    def borrowers(self) -> list[str]:
        keeper = self.runner.keeper.id
        return [a for a in sorted(self.runner.engine.ledger.accounts) if a != keeper]

    def liquidatable_accounts(self) -> list[str]:
        engine = self.runner.engine
        return [a for a in self.borrowers() if engine.is_liquidatable(a)]

    def capacity(self) -> dict[str, float]:
        """The book's capital efficiency after set-up (as a model's ``book_capacity``),
        over the accounts that borrow at set-up (a lender's deposits are not borrowing
        power anyone asked for)."""
        engine = self.runner.engine
        power = borrowed = 0
        asking = {a for a, _, borrows in self.runner.scenario.accounts if borrows}
        for account in sorted(asking & set(engine.ledger.accounts)):
            data = engine.account_data(account)
            power += data.initial_value
            borrowed += data.total_debt
        markets = engine.config.markets
        demand = sum(value_of(amount, engine.prices[asset], markets[asset].unit,
                              Rounding.DOWN)
                     for _, _, borrows in self.runner.scenario.accounts
                     for asset, amount in borrows.items() if asset in engine.prices)
        borrowed_usd = borrowed / PRICE_UNIT
        demand_usd = demand / PRICE_UNIT
        return {"borrowing_power": power / PRICE_UNIT, "borrowed_value": borrowed_usd,
                "borrow_demand": demand_usd,
                "borrow_usage": borrowed / power if power > 0 else 0.0,
                "demand_served": min(1.0, borrowed_usd / demand_usd) if demand > 0
                else 1.0}

    def _new_losses(self) -> None:
        """Borrower loss (sim/metrics.py) of the liquidations since the last record, at
        the engine's prices now: the keeper acts last in a step, so these are the prices
        it liquidated at."""
        engine = self.runner.engine
        markets = engine.config.markets
        records = self.runner.result.liquidations
        for r in records[self.counted:]:
            retired = value_of(r.debt_repaid, engine.prices[r.debt_asset],
                               markets[r.debt_asset].unit, Rounding.UP)
            if r.kind == "liquidation":
                retired += r.bad_debt_value  # debt written off as deficit, valued up
            self.borrower_loss += max(0, r.collateral_value - retired)
        self.counted = len(records)

    def record(self, step: int, unsafe: int) -> None:
        runner, engine = self.runner, self.runner.engine
        result = runner.result
        self._new_losses()
        health = []
        underwater = 0
        for account in self.borrowers():
            underwater += underwater_value(engine.account_data(account))
            hf = engine.health_factor(account)
            if hf != NO_DEBT_HEALTH:
                health.append(hf / WAD)
        realized = engine.bad_debt_value()
        count = len(result.liquidations) + len(result.perp_liquidations)
        value = (sum(r.debt_value for r in result.liquidations)
                 + sum(result.perp_notional_base(r) for r in result.perp_liquidations))
        s = self.series
        previous_count = s["liquidations_cum"][-1] if s["liquidations_cum"] else 0
        previous_value = s["liquidated_value_usd_cum"][-1] if s["step"] else 0.0
        profit = sum(r.liquidator_value - r.debt_value for r in result.liquidations
                     if r.kind == "liquidation")

        def oracle(asset: str) -> float:
            price = engine.prices.get(asset)
            return price / PRICE_UNIT if price is not None else math.nan

        def external(asset: str) -> float:
            price = self.market.get(asset)
            return price / PRICE_UNIT if price is not None else math.nan

        row: dict[str, float] = {
            "step": step,
            "time_s": engine.ledger.time,
            "external_price_usd": external(self.headline),
            "venue_price_usd": external(self.headline),
            "oracle_price_usd": oracle(self.headline),
            "gas_gwei": 0.0,
            "liquidatable_accounts": unsafe,
            "liquidations_step": count - previous_count,
            "liquidations_cum": count,
            "liquidated_value_usd_step": value / PRICE_UNIT - previous_value,
            "liquidated_value_usd_cum": value / PRICE_UNIT,
            "bad_debt_usd": (realized + underwater) / PRICE_UNIT,
            "bad_debt_realized_usd_cum": realized / PRICE_UNIT,
            "bad_debt_in_auctions_usd": 0.0,
            "underwater_usd": underwater / PRICE_UNIT,
            "borrower_loss_usd_cum": self.borrower_loss / PRICE_UNIT,
            "auctions_running": 0,
            "health_p05": float(np.quantile(health, 0.05)) if health else math.nan,
            "health_p50": float(np.quantile(health, 0.5)) if health else math.nan,
            "keeper_profit_usd_cum": profit / PRICE_UNIT,
        }
        for asset in self.others:
            row[f"external_price_usd.{asset}"] = external(asset)
            row[f"venue_price_usd.{asset}"] = external(asset)
            row[f"oracle_price_usd.{asset}"] = oracle(asset)
        for name, column in s.items():
            column.append(row[name])
