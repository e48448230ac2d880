"""Backtests of margin policies: the same book and price paths under each policy.

``backtest(data, policies, runs)`` runs a cascade scenario once per run and policy, with
**common random numbers**: run ``i`` of every policy starts from the same child seed
(``SeedSequence(seed).spawn(runs)[i]``, as :mod:`marginengine.sim.montecarlo`), so the
price path, the gas path and the synthetic book are the same; only the margin differs.

Policies:

- ``static``: the scenario's protocol without ``[protocol.adaptive]``;
- ``adaptive[:MODEL[:MODE]]``: the scenario's ``[protocol.adaptive]`` table (defaults where
  absent) with ``model = MODEL`` (``ewma`` by default; ``realized``, ``garch``, ``fhs``) and
  ``mode = MODE`` when given (``direct`` or ``governed``), the
  estimator sampled at the scenario's step (``period_seconds = step_seconds``). Each step,
  after the oracle's ``SetPrice``, the estimator publishes a ``SetConditions`` from the
  oracle prices so far (volatility), the venue (2% depth) and the ledger (collateral
  supplied: open interest). In ``direct`` mode the conditions event sets the parameters;
  in ``governed`` mode the proposer's steward-bounded ``SetRiskParams`` follows it.

Per run and policy: bad debt, liquidations, liquidated value, and capital efficiency:
**average borrowing power** (the mean over steps of what the margin model lets the book's
accounts borrow, the lender's liquidity left out: each account's initial value at the
parameters in force, summed, :func:`borrowing_power_base`, kept per account between steps
by :class:`BookPower`; base currency) and **borrow usage** (the mean over steps of the
book's debt in every market over that borrowing power, :func:`power_and_usage`: both at
the parameters in force, so above 1 means debt opened under higher LTVs or before a fall
now exceeds the cut borrowing power, and the report says so). A scenario of one
protocol: ``[[protocols]]`` is refused. Each is reported with a percentile-bootstrap CI
over the runs (:func:`marginengine.sim.montecarlo.statistics`'s resampler), and each
adaptive policy's paired difference from ``static`` with its CI.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from marginengine.config import ProtocolConfig
from marginengine.config.adaptive import MODEL_NAMES, AdaptiveConfig
from marginengine.engine import Engine, Event, Outcome, SetPrice
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT, RAY
from marginengine.sim.adaptive_agent import conditions_event, min_prices, propose_risk_params
from marginengine.sim.cascade import CascadeRunner, scenario_spec
from marginengine.sim.cascade_config import CascadeFile
from marginengine.sim.family_cascade_config import family_kind
from marginengine.sim.montecarlo import BOOTSTRAP_RESAMPLES, BOOTSTRAP_STREAM, CONFIDENCE_LEVEL
from marginengine.sim.pipeline import child_seed

#: Per-run figures of a backtest, side by side per policy.
METRICS = ("bad_debt", "liquidation_count", "liquidated_value", "avg_borrowing_power",
           "borrow_usage")

#: What ``borrow_usage`` means, printed under the report's table (:func:`report_markdown`).
USAGE_NOTE = ("Borrow usage: the book's debt over its borrowing power, both at the LTVs in "
              "force at each step (mean over steps).")

#: Added when a policy's mean usage is above 1: a reader took 1.03 for borrowing past 100%.
USAGE_ABOVE_ONE = ("Usage above 1 ({which}) is existing debt over the borrowing power in "
                   "force, not borrowing past a limit: the debt was opened at the static "
                   "LTVs (or before the collateral fell) and the policy's cut LTVs (or the "
                   "lower prices) now allow less than is owed. Those accounts can borrow "
                   "no more; they are liquidated only below a health factor of 1, at the "
                   "liquidation threshold.")


def parse_policy(text: str) -> tuple[str, str | None, str | None]:
    """``static`` -> ``("static", None, None)``; ``adaptive[:MODEL[:MODE]]`` ->
    ``("adaptive", MODEL, MODE)`` (``MODE``: ``direct`` or ``governed``; ``None`` keeps the
    scenario's).

    Raises
    ------
    ConfigError
        Naming ``--margin`` and the choices, on anything else.
    """
    if ":" in text and "" in text.split(":"):
        # "static:" or "adaptive::governed" would read as a default silently: say so.
        raise ConfigError([f"--margin: {text!r} has an empty part (static or "
                           "adaptive[:MODEL[:MODE]], e.g. adaptive:ewma:governed)"])
    kind, _, rest = text.partition(":")
    model, _, mode = rest.partition(":")
    if kind == "static" and not rest:
        return "static", None, None
    if kind == "adaptive":
        model = model or "ewma"
        if model not in MODEL_NAMES:
            raise ConfigError([f"--margin: unknown adaptive model {model!r} (one of "
                               f"{', '.join(MODEL_NAMES)})"])
        if mode and mode not in ("direct", "governed"):
            raise ConfigError([f"--margin: unknown adaptive mode {mode!r} (direct or "
                               "governed)"])
        return "adaptive", model, mode or None
    raise ConfigError([f"--margin: {text!r} is not a policy (static or "
                       "adaptive[:MODEL[:MODE]])"])


def policy_data(data: dict[str, Any], policy: str) -> dict[str, Any]:
    """The scenario with its protocol set for ``policy``."""
    kind, model, mode = parse_policy(policy)
    out = copy.deepcopy(data)
    protocol = out.setdefault("protocol", {})
    if not isinstance(protocol, dict):
        raise ConfigError(["protocol: must be a table"])
    table = protocol.pop("adaptive", {})
    if kind == "adaptive":
        table = dict(table) if isinstance(table, dict) else {}
        table["model"] = model
        if mode is not None:
            table["mode"] = mode
        table["period_seconds"] = out.get("step_seconds", 600)
        protocol["adaptive"] = table
    return out


class BacktestRunner(CascadeRunner):
    """A cascade run that publishes market conditions each step (an adaptive policy) and
    records the capital-efficiency figures of every step."""

    def __init__(self, spec: CascadeFile, protocol: ProtocolConfig,
                 rng: np.random.Generator) -> None:
        super().__init__(spec, protocol, rng, feedback=None)
        self.adaptive: AdaptiveConfig | None = protocol.adaptive
        self.history: list[int] = []
        self.power: list[float] = []
        self.usage: list[float] = []
        self.param_updates = 0
        #: The book's borrowing power, each account read again only when it may move.
        self.book_power = BookPower()
        #: The lowest and highest liquidation threshold in force after any step (bps).
        lt = protocol.markets[self.collateral].liquidation_threshold_bps
        self.threshold_range = [lt, lt]

    def apply(self, event: Event) -> Outcome:
        """Apply an event; after the collateral's oracle price, publish its conditions."""
        outcome = self.engine.apply(event)
        if (self.adaptive is not None and isinstance(event, SetPrice)
                and event.asset == self.collateral and outcome.accepted):
            self.history.append(event.price)
            # From the first price the model can estimate from (GARCH waits for 31):
            # until then the static parameters stand, as before any adaptive update.
            if len(self.history) >= min_prices(self.adaptive):
                self._publish()
        return outcome

    def _publish(self) -> None:
        assert self.adaptive is not None
        engine = self.engine
        price = engine.prices[self.collateral]
        depth = None
        pool = self.market.pool  # the headline asset's venue (sim/markets.py)
        if pool is not None:
            # A 2% fall of a constant-product mid sells x (1 / sqrt(0.98) - 1) of base.
            base = pool.base_reserve * (1 / math.sqrt(0.98) - 1)
            depth = int(base * price / self.coll_unit)
        reserve = engine.ledger.reserves[self.collateral]
        supplied = reserve.scaled_supply * reserve.liquidity_index // RAY
        engine.apply(conditions_event(self.collateral, self.history, self.adaptive,
                                      depth=depth, open_interest=supplied))
        if self.adaptive.mode == "governed":
            proposal = propose_risk_params(engine, self.collateral)
            if (proposal is not None and proposal.event is not None
                    and engine.apply(proposal.event).accepted):
                self.param_updates += 1

    def step(self, i: int) -> None:
        """Run step ``i`` and record the borrowing power and usage after it."""
        super().step(i)
        engine = self.engine
        market = engine.config.markets[self.collateral]
        lt = market.liquidation_threshold_bps
        self.threshold_range = [min(self.threshold_range[0], lt),
                                max(self.threshold_range[1], lt)]
        # Every market, so a book of several assets is measured whole (it was the headline
        # collateral against book.debt_asset alone: a KeyError for lst_crash, whose
        # default debt asset DAI is no market of it). The lender's supply is liquidity,
        # not the book's collateral. The power is the margin model's per account, summed
        # (it was a second formula per market, blind to the collateral flag).
        power, usage = power_and_usage(engine, power_base=self.book_power(engine))
        self.power.append(power)
        self.usage.append(usage)


def power_and_usage(engine: Engine, lender: str = "lender",
                    power_base: int | None = None) -> tuple[float, float]:
    """The backtest's two capital-efficiency figures of one state: the borrowing power
    (:func:`borrowing_power_base`, USD) and the borrow usage, the debt in every market
    (USD at the engine's prices) over that power (0 without power). ``power_base``: that
    borrowing power (base currency) when the caller holds it (a :class:`BookPower`'s).

    Both sides are read at the parameters in force *now*, so usage above 1 is a true
    figure, not an overdraft: the book owes more than its collateral would let it borrow
    today, because the debt was opened under higher LTVs (an adaptive policy's cut, or a
    governance update, lowers the LTV of debt already owed) or before the collateral's
    price fell. Such accounts can borrow nothing more (Aave's ``availableBorrowsBase`` is
    0) and are liquidated only if their health factor, at the liquidation threshold, is
    below 1. E.g. 1 WETH at 2,000 USD owing 1,100 USDC: 0.6832 at the 80.5% LTV it was
    opened at (1,610 USD of power); 1.0577 once the LTV is cut to 52% (1,040), the health
    factor 2,000 x 55.5% / 1,100 = 1.009 (tests/sim/test_backtest.py).
    """
    debt = 0.0
    for asset, m in sorted(engine.config.markets.items()):
        reserve = engine.ledger.reserves[asset]
        if reserve.scaled_debt:
            debt += (reserve.scaled_debt * reserve.borrow_index // RAY
                     / m.unit * engine.prices[asset] / PRICE_UNIT)
    if power_base is None:
        power_base = borrowing_power_base(engine, lender)
    power = power_base / PRICE_UNIT
    return power, (debt / power if power > 0 else 0.0)


def borrowing_power_base(engine: Engine, lender: str = "lender") -> int:
    """The backtest's borrowing power after a step, base currency (8 decimals): the sum
    over the book's accounts, ``lender``'s liquidity left out, of what the margin model
    lets each borrow against its collateral at the prices and parameters in force.

    Each account's figure is the lending margin model's own initial value
    (:meth:`marginengine.engine.Engine.account_data`, the
    :class:`~marginengine.margin.weighted.AccountData` the engine's ``Borrow`` check
    reads; Aave's ``calculateUserAccountData``: ``totalCollateralBase x avgLtv``), so the
    backtest has no borrowing-power rule of its own: a reserve the account switched off as
    collateral (``SetUseAsCollateral``) adds 0, an e-mode account's collateral counts at
    the category's LTV (``getUserReserveLtv``), and an account of several collaterals at
    its average LTV floored to whole bps (aave-dao/aave-v3-origin@fd1fbd91
    ``GenericLogic.sol``: ``avgLtv = sum(value_i x ltv_i) / totalCollateralBase``).
    :class:`BookPower` gives the same figure step after step, reading an account again
    only when what its figure depends on moved.
    """
    read = engine.account_data
    return sum(read(account_id).initial_value for account_id in engine.ledger.accounts
               if account_id != lender)


class BookPower:
    """:func:`borrowing_power_base` step after step, each account read again only when its
    figure may have moved.

    An account's initial value depends on its positions (the ledger's
    :meth:`~marginengine.ledger.Ledger.account_version`, which moves with every write to
    the account: a supply, a withdrawal, a liquidation, its collateral flag, its e-mode),
    on the margin model in force (rebuilt on every parameter change), and on the price and
    liquidity index of what it supplies. The last two are read for every market the book
    supplies (the lender's supply left out): while none of them moves, only the accounts
    written since the last call are read again, the others keep their figure; when one
    moves, every account is read again. The figures are the margin model's own, so the
    sum equals :func:`borrowing_power_base` at every step (tests/sim/test_backtest.py).

    On the Black Thursday replay (an OSM price that moves once an hour, 10-minute steps)
    five steps in six read only the accounts a liquidation touched.

    Parameters
    ----------
    lender
        The account whose supply is liquidity, not the book's collateral.
    """

    def __init__(self, lender: str = "lender") -> None:
        self.lender = lender
        #: Per account: its version when read and its initial value (base currency).
        self._figures: dict[str, tuple[int, int]] = {}
        self._inputs: tuple[object, ...] | None = None
        #: Accounts read through the margin model so far (the others were kept).
        self.reads = 0

    def __call__(self, engine: Engine) -> int:
        """The book's borrowing power now, base currency (8 decimals)."""
        ledger, prices, lender = engine.ledger, engine.prices, self.lender
        supplier = ledger.accounts.get(lender)
        supplied = []
        for asset, reserve in sorted(ledger.reserves.items()):
            scaled = reserve.scaled_supply
            if supplier is not None and asset in supplier.lending:
                scaled -= supplier.lending[asset].scaled_supply
            if scaled > 0:
                supplied.append((asset, prices.get(asset), reserve.liquidity_index))
        inputs = (engine.model, tuple(supplied))
        figures = self._figures
        if inputs != self._inputs:
            figures.clear()
            self._inputs = inputs
        read, version = engine.account_data, ledger.account_version
        total = 0
        kept: dict[str, tuple[int, int]] = {}
        for account_id in ledger.accounts:
            if account_id == lender:
                continue
            v = version(account_id)
            figure = figures.get(account_id)
            if figure is None or figure[0] != v:
                figure = (v, read(account_id).initial_value)
                self.reads += 1
            kept[account_id] = figure
            total += figure[1]
        self._figures = kept
        return total


def _too_short(adaptive: AdaptiveConfig) -> str:
    need = min_prices(adaptive)
    return f"the {adaptive.model} model needs at least {need} prices ({need - 1} returns)"


def run_policy(data: dict[str, Any], policy: str, seed: int, index: int,
               source: str | None = None) -> dict[str, Any]:
    """Run ``index`` of ``policy`` (child seed ``index`` of ``seed``): its figures."""
    spec, protocol = scenario_spec(policy_data(data, policy), source)
    runner = BacktestRunner(spec, protocol, np.random.default_rng(child_seed(seed, index)))
    runner.run()
    summary = runner.summary()
    lt = runner.engine.config.markets[runner.collateral].liquidation_threshold_bps
    return {"policy": policy, "run": index, "seed": f"{seed}/{index}",
            "bad_debt": float(summary["bad_debt"]),
            "bad_debt_realized": float(summary["bad_debt_realized"]),
            "bad_debt_in_auctions": float(summary["bad_debt_in_auctions"]),
            "bad_debt_underwater": float(summary["bad_debt_underwater"]),
            "liquidation_count": float(summary["liquidation_count"]),
            "liquidated_value": float(summary["liquidated_value"]),
            "avg_borrowing_power": float(np.mean(runner.power)) if runner.power else 0.0,
            "borrow_usage": float(np.mean(runner.usage)) if runner.usage else 0.0,
            "final_threshold_bps": lt, "min_threshold_bps": runner.threshold_range[0],
            "max_threshold_bps": runner.threshold_range[1],
            "param_updates": runner.param_updates,
            "min_price": float(summary["min_price"]), "state_hash": summary["state_hash"]}


@dataclass(frozen=True)
class Interval:
    """An estimate with its percentile-bootstrap confidence interval."""

    value: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float]:
        """Plain data."""
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}


def _bootstrap_means(sample: np.ndarray, index: np.ndarray) -> Interval:
    boot = sample[index].mean(axis=-1)
    low, high = (1 - CONFIDENCE_LEVEL) / 2, (1 + CONFIDENCE_LEVEL) / 2
    return Interval(float(sample.mean()), float(np.quantile(boot, low)),
                    float(np.quantile(boot, high)))


def compare(rows: list[dict[str, Any]], policies: list[str], seed: int,
            resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, Any]:
    """Means per policy and paired differences from ``static`` (or the first policy), each
    with a percentile-bootstrap CI: the runs are resampled with replacement, the same
    resamples for every policy and figure (so a difference keeps its pairing), drawn from
    ``PCG64(SeedSequence([seed, BOOTSTRAP_STREAM]))`` as the Monte Carlo's."""
    by = {p: sorted((r for r in rows if r["policy"] == p), key=lambda r: int(r["run"]))
          for p in policies}
    n = len(by[policies[0]])
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed,
                                                                      BOOTSTRAP_STREAM])))
    index = rng.integers(0, n, size=(resamples, n))
    base = "static" if "static" in policies else policies[0]
    table: dict[str, dict[str, dict[str, float]]] = {}
    diff: dict[str, dict[str, dict[str, float]]] = {}
    for p in policies:
        table[p] = {}
        for m in METRICS:
            sample = np.array([r[m] for r in by[p]], dtype=float)
            table[p][m] = _bootstrap_means(sample, index).as_dict()
        if p != base:
            diff[p] = {}
            for m in METRICS:
                d = (np.array([r[m] for r in by[p]], dtype=float)
                     - np.array([r[m] for r in by[base]], dtype=float))
                diff[p][m] = _bootstrap_means(d, index).as_dict()
    verdict = {}
    for p, d in diff.items():
        less_bad_debt = d["bad_debt"]["value"] < 0
        power_kept = d["avg_borrowing_power"]["value"] >= 0
        verdict[p] = {"less_bad_debt": less_bad_debt, "equal_or_higher_power": power_kept,
                      "both": less_bad_debt and power_kept,
                      "bad_debt_ci_below_zero": d["bad_debt"]["ci_high"] < 0}
    return {"runs": n, "baseline": base, "policies": table, "difference": diff,
            "verdict": verdict,
            "confidence": {"method": "percentile bootstrap, paired", "level": CONFIDENCE_LEVEL,
                           "resamples": resamples,
                           "generator": f"PCG64(SeedSequence([{seed}, {BOOTSTRAP_STREAM}]))"}}


def backtest(data: dict[str, Any], policies: list[str], runs: int, seed: int | None = None,
             source: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run every policy ``runs`` times on common random numbers; return the per-run rows
    and the comparison (:func:`compare`)."""
    if not policies:
        raise ConfigError(["--margin: give at least one policy"])
    for p in policies:
        parse_policy(p)
    if len(set(policies)) != len(policies):
        raise ConfigError(["--margin: a policy is given twice"])
    for p in policies:  # validate every variant before running any
        spec, protocol = scenario_spec(policy_data(data, p), source)
        if spec.protocols:
            # The backtest runs one engine: the further protocols were dropped silently
            # (shared_collateral's static bad debt 0, lender2's 0.6M not in it).
            raise ConfigError([f"protocols: backtest compares margin policies of one "
                               f"protocol ([protocol]); this scenario has "
                               f"{len(spec.protocols) + 1} (run them with simulate, or "
                               "remove [[protocols]])"], source=source)
        if family_kind(protocol) is not None:
            raise ConfigError([f"protocol.preset: {protocol.preset} keeps troves or "
                               "markets of its own; backtest compares margin policies "
                               "of a lending protocol (run it with simulate)"],
                              source=source)
        adaptive = protocol.adaptive
        if adaptive is not None:
            need = min_prices(adaptive)
            spec, _ = scenario_spec(policy_data(data, p), source)
            if adaptive.history < need:
                raise ConfigError([f"--margin {p}: {_too_short(adaptive)}; "
                                   f"protocol.adaptive.history keeps {adaptive.history}"],
                                  source=source)
            if spec.steps + 1 < need:
                raise ConfigError([f"--margin {p}: {_too_short(adaptive)}; the scenario's "
                                   f"path has {spec.steps + 1} prices (steps = {spec.steps}): give "
                                   f"steps >= {need - 1} or another model"], source=source)
    master = int(data.get("seed", 0)) if seed is None else seed
    rows = [run_policy(data, p, master, i, source) for i in range(runs) for p in policies]
    result = compare(rows, policies, master)
    result["seed"] = master
    result["scenario"] = data.get("name")
    return rows, result


def report_markdown(result: dict[str, Any]) -> str:
    """The comparison as a Markdown table (means with 95% CIs) and the verdict."""
    labels = {"bad_debt": "bad debt (USD)", "liquidation_count": "liquidations",
              "liquidated_value": "liquidated value (USD)",
              "avg_borrowing_power": "avg borrowing power (USD)",
              "borrow_usage": "borrow usage"}
    policies = list(result["policies"])
    lines = [f"# Backtest: {result.get('scenario')}", "",
             f"{result['runs']} run(s) per policy on common random numbers (seed "
             f"{result.get('seed')}); means with {int(CONFIDENCE_LEVEL * 100)}% bootstrap CIs.",
             "", "| figure | " + " | ".join(policies) + " |",
             "|---|" + "---:|" * len(policies)]
    for m in METRICS:
        cells = []
        for p in policies:
            e = result["policies"][p][m]
            # A mean count over several runs keeps its fraction (2.4 liquidations, not 2).
            fmt = ("{:,.4f}" if m == "borrow_usage" else
                   "{:,.2f}" if m == "liquidation_count" and result["runs"] > 1 else "{:,.0f}")
            cells.append(f"{fmt.format(e['value'])} [{fmt.format(e['ci_low'])}, "
                         f"{fmt.format(e['ci_high'])}]")
        lines.append(f"| {labels[m]} | " + " | ".join(cells) + " |")
    lines += ["", USAGE_NOTE]
    above = [f"{p}: {result['policies'][p]['borrow_usage']['value']:,.4f}" for p in policies
             if result["policies"][p]["borrow_usage"]["value"] > 1]
    if above:
        lines[-1] += " " + USAGE_ABOVE_ONE.format(which=", ".join(above))
    for p, v in result["verdict"].items():
        d = result["difference"][p]
        lines += ["", f"**{p} vs {result['baseline']}**: bad debt "
                  f"{d['bad_debt']['value']:+,.0f} [{d['bad_debt']['ci_low']:+,.0f}, "
                  f"{d['bad_debt']['ci_high']:+,.0f}], borrowing power "
                  f"{d['avg_borrowing_power']['value']:+,.0f} "
                  f"[{d['avg_borrowing_power']['ci_low']:+,.0f}, "
                  f"{d['avg_borrowing_power']['ci_high']:+,.0f}]: "
                  + ("less bad debt at equal or higher borrowing power." if v["both"] else
                     "NOT less bad debt at equal or higher borrowing power "
                     f"(less bad debt: {v['less_bad_debt']}, power kept: "
                     f"{v['equal_or_higher_power']}).")]
    return "\n".join(lines) + "\n"


__all__ = ["METRICS", "USAGE_NOTE", "BacktestRunner", "BookPower", "Interval", "backtest",
           "borrowing_power_base", "compare", "parse_policy", "policy_data",
           "power_and_usage", "report_markdown", "run_policy"]
