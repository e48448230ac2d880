"""Why a cascade run's bad debt arose: each bad-debt account classified into a cause.

A :class:`RunObserver` attached to a runner records, only when a report is written
(``run_cascade(..., explain=True)``), a little more than the run itself needs:

- per account, the first scan that found it liquidatable: its step, and its collateral and
  debt at the oracle prices then (one exact read per account in the whole run);
- per liquidation (``Liquidate``, ``Absorb``, ``Bark``, ``BidPortfolioAuction``), from
  the engine's outcomes: the keeper (or bidder), the account, the debt it retired and any
  debt written off or socialized; a ``LiquidatePerp`` counts for its liquidator's tally.

:func:`explain` then reads the end state and classifies every account with bad debt
(debt above its collateral at the end, or debt written off during the run) into the first
cause of :data:`CAUSES` whose rule holds. The rules, in order (docs/simulator.md has the
same table):

``auction_near_zero`` / ``auction_shortfall``
    Its bad debt is an auction's shortfall (the debt at ``Bark`` less what the auction
    raised); ``near_zero`` when the auction settled below 5% of the oracle price at kick.
``portfolio_insolvent``
    Its bad debt is what an insolvent portfolio auction (Derive's options clearing,
    ``BidPortfolioAuction``) socialized: the security module could not pay the bidder
    the portfolio's negative value.
``oracle_lag``
    Under water (collateral below debt, at the oracle) when first found liquidatable, and
    the headline asset's oracle was at least :data:`ORACLE_LAG_MIN` above its market
    (external) price at that step or the step before: an on-time oracle would have shown
    the account liquidatable earlier.
``gapped``
    Under water when first found liquidatable, without such a lag: the price fell through
    the liquidation bonus's cushion between two scans, so no liquidation could cover the
    debt.
``absorb_shortfall``
    Above water when first found, and its bad debt is what a Comet ``Absorb`` wrote off:
    the protocol credits collateral at its liquidation factor (95% for WETH), so an
    account between its debt and its debt over that factor leaves bad debt however fast
    it is absorbed.
``gas_blocked``
    Above water when first found, and gas was above every keeper's ``max_gas_gwei`` in at
    least half of the steps from then until its collateral ran out or the run ended.
``no_keeper``
    Never liquidated, and the run has no keeper (a scripted ``[liquidator]`` with
    ``enabled = false``).
``unprofitable``
    Above water when found, never liquidated, and at the end no keeper's best chunk pays
    after gas and slippage.
``outpaced``
    Above water when found, liquidated at least once, yet it ended with bad debt: the price
    fell through the bonus before keepers had taken all of it (close factor, latency, gas).
``late``
    Above water when found, never liquidated, and a keeper would still profit at the end:
    its latency, capital or turn had not come.

The debt of running auctions their lots would not cover is the bulk cause ``in_auction``.
Every figure is in USD at the end's prices; the causes add up to the summary's
``bad_debt`` (``residual_usd``: what no account carries, a few smallest units of rounding).

A scripted run (explicit prices, :mod:`marginengine.sim.scripted`) is explained by the
same rules: :mod:`marginengine.sim.scripted_explain` presents it as a runner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from marginengine.config.families import LiquidationMechanism
from marginengine.engine import (
    Absorb,
    Bark,
    BidPortfolioAuction,
    Change,
    Engine,
    Liquidate,
    LiquidatePerp,
)
from marginengine.fixedpoint import PRICE_UNIT, WAD, Rounding
from marginengine.liquidation import best_chunk
from marginengine.margin import underwater_value, value_of
from marginengine.sim.agents import KeeperState, LendingScreen
from marginengine.sim.markets import AssetMarket

#: Mechanisms of the pooled lending book, whose runner (sim/cascade.py) keeps a lending
#: risk book to classify accounts by.
POOLED = frozenset({LiquidationMechanism.CLOSE_FACTOR, LiquidationMechanism.ABSORB,
                    LiquidationMechanism.AUCTION})
#: Every other mechanism is a family's (Liquity, Morpho, Euler, Drift, Mango: runners of
#: sim/family_cascade.py and beside it, with no lending risk book): its bad debt is given
#: in bulk (``unclassified``). The complement, so that a new family's runner is covered
#: (Mango's was not listed and its CLI run crashed on ``runner.book``).
FAMILIES = frozenset(LiquidationMechanism) - POOLED
#: An oracle at least this far above the market price counts as lagging (1%).
ORACLE_LAG_MIN = 0.01
#: Share of an account's liquidatable steps with every keeper priced out by gas from
#: which ``gas_blocked`` is its cause.
GAS_BLOCKED_SHARE = 0.5


class BelowScreen(Protocol):
    """The accounts a run's last scan found below the liquidation threshold (a
    :class:`~marginengine.scan.RiskBook` is one)."""

    def below_accounts(self) -> list[str]:
        """Their ids."""


class CascadeRunner(Protocol):
    """What the explanation reads of a run (``sim.cascade.CascadeRunner`` is one;
    ``sim.scripted_explain.ScriptedWorld`` presents a scripted run)."""

    engine: Engine
    series: dict[str, list[float]]
    gas: np.ndarray
    observer: RunObserver | None

    @property
    def book(self) -> BelowScreen:
        """The accounts below the threshold at the last scan (the run's risk book)."""

    @property
    def keepers(self) -> Sequence[KeeperState]:
        """Every keeper's state."""

    @property
    def markets(self) -> Mapping[str, AssetMarket]:
        """Every simulated asset's venue and oracle."""

    def bad_debt_parts(self) -> tuple[float, float, float]:
        """``(realized, in auctions, underwater)`` USD."""

    def lending_screen(self) -> LendingScreen:
        """The step's shared screen of liquidatable accounts."""

    def trades_on_venue(self, market: AssetMarket) -> bool:
        """Whether sales of the asset trade on its venue."""

    def seized_value(self, amount: int, asset: str, i: int) -> float:
        """USD a keeper would get for seized collateral."""

    def sale_price_cap(self, asset: str, i: int) -> int:
        """No sale of ``asset`` fetches more than this per whole token (8 decimals)."""

    def gas_usd(self, action: str, i: int) -> float:
        """USD of gas one ``action`` costs at step ``i``."""


@runtime_checkable
class FamilyEnd(Protocol):
    """What a family runner (sim/family_cascade.py ``FamilyRunner``) says of its end
    state: why each position still liquidatable was not liquidated, and which are under
    water."""

    def end_reasons(self, step: int) -> dict[str, str]:
        """Account -> a key of :data:`END_REASONS`, for every position still liquidatable
        at ``step``."""

    def underwater_accounts(self) -> list[str]:
        """Open positions whose debt is above their collateral at the oracle."""


@dataclass(frozen=True)
class Cause:
    """One cause of bad debt: its name, a title for people and its rule."""

    name: str
    title: str
    rule: str


#: The causes, in the order their rules are tried (see the module docstring).
CAUSES: tuple[Cause, ...] = (
    Cause("auction_near_zero", "auction settled near zero",
          "its bad debt is the shortfall of an auction that settled below 5% of the oracle "
          "price at kick"),
    Cause("auction_shortfall", "auction raised less than the debt",
          "its bad debt is the shortfall of an auction (debt at Bark less what it raised)"),
    Cause("portfolio_insolvent", "insolvent portfolio auction",
          "its bad debt is what an insolvent portfolio auction socialized: the security "
          "module could not pay the bidder the portfolio's negative value"),
    Cause("oracle_lag", "oracle lag",
          "under water when first found liquidatable, and the oracle was at least 1% above "
          "the market price at that step or the step before"),
    Cause("gapped", "price gapped through the bonus",
          "under water (collateral below debt at the oracle) when first found liquidatable"),
    Cause("absorb_shortfall", "absorbed below the liquidation factor",
          "above water when found; its bad debt was written off by a Comet Absorb, which "
          "credits collateral at its liquidation factor"),
    Cause("gas_blocked", "keepers stopped by gas",
          "above water when found; gas above every keeper's max_gas_gwei in at least half "
          "of its liquidatable steps"),
    Cause("no_keeper", "no keeper",
          "never liquidated, and the run has no keeper (a scripted [liquidator] with "
          "enabled = false)"),
    Cause("unprofitable", "no keeper could profit",
          "above water when found, never liquidated, and at the end no keeper's best chunk "
          "pays after gas and slippage"),
    Cause("outpaced", "liquidated too slowly",
          "above water when found, liquidated at least once, still ended with bad debt"),
    Cause("late", "keepers had not reached it",
          "above water when found, never liquidated, and a keeper would still profit at "
          "the end (latency, capital or order)"),
    Cause("unclassified", "not classified per account",
          "a Liquity, Morpho, Euler, Drift or Mango protocol (sim/family_cascade.py): its bad "
          "debt is given in bulk, with the family's own columns"),
    Cause("in_auction", "in running auctions",
          "debt of auctions still running that their lots would not cover at the market "
          "price"),
)
CAUSE_NAMES = tuple(c.name for c in CAUSES)

#: Why an account still liquidatable at the end was not liquidated (see
#: :func:`end_reason`).
END_REASONS = {
    "gas_blocked": "every keeper priced out by gas",
    "gas_cost": "no keeper could profit after gas (a chunk pays before gas)",
    "no_profit": "no chunk pays even before gas (slippage on the venue, no bonus left)",
    "would_pay": "a keeper would still liquidate it (latency, capital or order)",
    "no_keeper": "no keeper runs (a scripted [liquidator] with enabled = false)",
    "not_evaluated": "not a close-factor protocol: not evaluated",
    "no_quote_debt": "owes no quote (liquidatable through another token or a perp): the "
                     "keepers liquidate with the quote only",
}


@dataclass(frozen=True)
class FirstSight:
    """An account when a scan first found it liquidatable (values at the oracle, base
    units of 8 decimals)."""

    step: int
    collateral: int
    debt: int


@dataclass
class KeeperTally:
    """A keeper's liquidations as the engine's outcomes tell them."""

    liquidations: int = 0
    value_usd: float = 0.0


@dataclass
class RunObserver:
    """What a run records for its explanation (see the module docstring); attach with
    :meth:`attach` before the run starts."""

    first: dict[str, FirstSight] = field(default_factory=dict)
    #: Account -> steps of its liquidations.
    liquidated: dict[str, list[int]] = field(default_factory=dict)
    #: Account -> asset -> debt written off by liquidations (smallest units).
    written_off: dict[str, dict[str, int]] = field(default_factory=dict)
    keepers: dict[str, KeeperTally] = field(default_factory=dict)
    #: Accounts a Comet ``Absorb`` left bad debt on.
    absorbed_short: set[str] = field(default_factory=set)
    #: Account -> what insolvent portfolio auctions of it socialized (options quote,
    #: smallest units).
    socialized: dict[str, int] = field(default_factory=dict)
    step: int = 0
    _runner: CascadeRunner | None = None

    def attach(self, runner: CascadeRunner) -> None:
        """Listen to ``runner``'s engine and let its scans report here."""
        self._runner = runner
        runner.observer = self
        runner.engine.subscribe(self._on_change, when="apply")

    def scanned(self, step: int, unsafe: Sequence[str]) -> None:
        """The scan of ``step`` found ``unsafe`` liquidatable: note the new ones."""
        self.step = step
        runner = self._runner
        assert runner is not None
        new = set(unsafe).difference(self.first)
        for account in sorted(new):
            data = runner.engine.account_data(account)
            self.first[account] = FirstSight(step, data.total_collateral, data.total_debt)

    def _on_change(self, change: Change) -> None:
        event = change.outcome.event
        if not isinstance(event, Liquidate | Absorb | Bark | BidPortfolioAuction
                          | LiquidatePerp):
            return
        runner = self._runner
        assert runner is not None
        engine = runner.engine
        d = change.outcome.details
        markets = engine.config.markets
        if isinstance(event, LiquidatePerp):
            # Tallied for its liquidator only: a perp's losses are the backstop
            # waterfall's (perp_waterfall), not lending bad debt.
            perp = engine.config.perps[event.market]
            tally = self.keepers.setdefault(event.liquidator, KeeperTally())
            tally.liquidations += 1
            tally.value_usd += abs(d["closed"]) / perp.base_unit * d["price"] / PRICE_UNIT
            return
        if isinstance(event, Liquidate):
            keeper, account = event.liquidator, event.account
            value = d["debt_repaid"] / markets[event.debt_asset].unit * engine.prices[
                event.debt_asset] / PRICE_UNIT
            off = dict(d.get("deficit", {}))
        elif isinstance(event, Absorb):
            keeper, account = event.absorber, event.account
            compound = engine.config.compound
            assert compound is not None
            base = compound.base_asset
            value = d["debt_absorbed"] / markets[base].unit * engine.prices[base] / PRICE_UNIT
            off = {base: d["bad_debt"]} if d.get("bad_debt") else {}
            if off:
                self.absorbed_short.add(account)
        elif isinstance(event, BidPortfolioAuction):
            keeper, account = event.bidder, event.account
            options = engine.config.options
            assert options is not None
            # The mark-to-market the bid took, as the options summary's value liquidated.
            value = abs(d["mtm_taken"]) / markets[options.quote].unit * engine.prices.get(
                options.quote, PRICE_UNIT) / PRICE_UNIT
            off = {}
            if d["socialized"]:
                self.socialized[account] = self.socialized.get(account, 0) + d["socialized"]
        else:
            keeper, account = event.keeper, event.account
            value = d["debt"] / WAD  # the auction's debt, as the cascade counts it
            off = {}
        tally = self.keepers.setdefault(keeper, KeeperTally())
        tally.liquidations += 1
        tally.value_usd += float(value)
        self.liquidated.setdefault(account, []).append(self.step)
        if off:
            mine = self.written_off.setdefault(account, {})
            for asset, amount in off.items():
                mine[asset] = mine.get(asset, 0) + amount


def blocked_steps(runner: CascadeRunner) -> list[bool]:
    """Per step 0..n: whether gas was above every keeper's ``max_gas_gwei`` (never, when
    a keeper has no cap)."""
    caps = [k.spec.max_gas_gwei for k in runner.keepers]
    if not caps or any(c is None for c in caps):
        return [False] * len(runner.gas)
    top = max(float(c) for c in caps if c is not None)
    return [float(g) > top for g in runner.gas]


def end_reason(runner: CascadeRunner, account: str, step: int) -> str:
    """Why ``account``, liquidatable at the end, was not liquidated: a key of
    :data:`END_REASONS`. Each keeper's own decision is asked again (the ladder of
    :func:`marginengine.liquidation.best_chunk`, with its gas, minimum profit and capital),
    then once more with no gas and no minimum profit."""
    engine = runner.engine
    if engine.rules.liquidation is not LiquidationMechanism.CLOSE_FACTOR:
        return "not_evaluated"
    if not runner.keepers:
        return "no_keeper"
    active = [k for k in runner.keepers if k.spec.max_gas_gwei is None
              or float(runner.gas[step]) <= float(k.spec.max_gas_gwei)]
    if runner.keepers and not active:
        return "gas_blocked"
    screen = runner.lending_screen()
    plans = screen.exact_plans
    try:
        pair = screen.inputs(account)
        if pair is None:
            return "no_profit"
        _, coll_asset, inputs = pair
        offer, bounds, plan0 = screen.offer(account, inputs)
        if offer <= 0:
            return "no_profit"
        mid = engine.prices[coll_asset]
        market = runner.markets.get(coll_asset)
        if market is not None and runner.trades_on_venue(market):
            mid = min(mid, market.venue_price())

        def sale(amount: int) -> float:
            return runner.seized_value(amount, coll_asset, step)

        cap = runner.sale_price_cap(coll_asset, step)
        gas = runner.gas_usd("liquidate", step)

        def pays(gas_usd: float, min_profit: float, capital: float | None) -> bool:
            chunk, _ = best_chunk(inputs, offer, bounds, plan0, engine.config.aave,
                                  engine.rules.liquidation_rounding, sale, mid, gas_usd,
                                  min_profit, capital, cap)
            return chunk is not None

        if any(pays(gas, float(k.spec.min_profit),
                    None if k.spec.flash_loan else k.capital) for k in active):
            return "would_pay"
        return "gas_cost" if pays(0.0, 0.0, None) else "no_profit"
    finally:
        screen.exact_plans = plans  # the explanation's plans are not the run's


def _lag(series: dict[str, list[float]], step: int) -> float:
    """How far the headline oracle was above its market price at ``step`` (a ratio)."""
    oracle = series["oracle_price_usd"][step]
    market = series["external_price_usd"][step]
    return oracle / market - 1 if market > 0 else 0.0


def explain(runner: CascadeRunner, observer: RunObserver) -> dict[str, Any]:
    """The explanation of one protocol's run (JSON-ready; see the module docstring).

    Returns
    -------
    dict
        ``bad_debt_usd``, ``causes`` (name -> accounts and USD), ``accounts`` (every
        account with bad debt, largest first: collateral, debt, bad debt, cause),
        ``still_liquidatable`` (count and reasons), ``keepers`` (per keeper),
        ``gas``, ``oracle``, ``venue`` (the run's conditions), ``residual_usd`` and
        ``sentences`` (the explanation in words).
    """
    engine = runner.engine
    series = runner.series
    steps = len(series["step"]) - 1
    markets = engine.config.markets
    prices = engine.prices
    blocked = blocked_steps(runner)
    if engine.rules.liquidation in FAMILIES:
        return _family(runner, observer, blocked)

    def usd(amounts: dict[str, int]) -> int:
        return sum(value_of(n, prices[a], markets[a].unit, Rounding.UP)
                   for a, n in amounts.items() if n)

    auction_off: dict[str, int] = {}
    near_zero: set[str] = set()
    house = engine.auctions
    if house is not None:
        debt_asset = house.config.debt
        for o in house.outcomes:
            if o.shortfall:
                auction_off[o.account] = auction_off.get(o.account, 0) + usd(
                    {debt_asset: o.shortfall})
                if o.near_zero:
                    near_zero.add(o.account)

    portfolio_off: dict[str, int] = {}
    options = engine.config.options
    if options is not None:
        portfolio_off = {a: usd({options.quote: n}) for a, n in observer.socialized.items()}

    still = [a for a in runner.book.below_accounts() if engine.is_liquidatable(a)]
    end_reasons = {a: end_reason(runner, a, steps) for a in still}
    candidates = (set(observer.first) | set(observer.written_off) | set(auction_off)
                  | set(portfolio_off))
    rows: list[dict[str, Any]] = []
    for account in sorted(candidates):
        data = engine.account_data(account) if account in engine.ledger.accounts else None
        under = underwater_value(data) if data is not None else 0
        realized = usd(observer.written_off.get(account, {}))
        from_auctions = auction_off.get(account, 0)
        from_portfolio = portfolio_off.get(account, 0)
        bad = under + realized + from_auctions + from_portfolio
        if bad <= 0:
            continue
        sight = observer.first.get(account)
        liquidations = observer.liquidated.get(account, [])
        cause = _classify(account, sight, liquidations, from_auctions, near_zero, bad,
                          blocked, series, end_reasons, steps, realized > 0,
                          account in observer.absorbed_short, from_portfolio,
                          bool(runner.keepers))
        rows.append({"account": account, "cause": cause,
                     "collateral_usd": (data.total_collateral if data else 0) / PRICE_UNIT,
                     "debt_usd": (data.total_debt if data else 0) / PRICE_UNIT,
                     "written_off_usd": (realized + from_auctions + from_portfolio)
                     / PRICE_UNIT,
                     "bad_debt_usd": bad / PRICE_UNIT,
                     "first_liquidatable_step": sight.step if sight else None,
                     "collateral_at_first_usd": sight.collateral / PRICE_UNIT if sight else None,
                     "debt_at_first_usd": sight.debt / PRICE_UNIT if sight else None,
                     "liquidations": len(liquidations)})
    rows.sort(key=lambda r: (-r["bad_debt_usd"], r["account"]))
    causes: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = causes.setdefault(r["cause"], {"accounts": 0, "bad_debt_usd": 0.0})
        c["accounts"] += 1
        c["bad_debt_usd"] += r["bad_debt_usd"]
    realized_total, in_auctions, underwater = runner.bad_debt_parts()
    if in_auctions > 0:
        causes["in_auction"] = {"accounts": len(house.running) if house else 0,
                                "bad_debt_usd": in_auctions}
    total = realized_total + in_auctions + underwater
    attributed = sum(c["bad_debt_usd"] for c in causes.values())
    out: dict[str, Any] = {
        "bad_debt_usd": total,
        "causes": {n: causes[n] for n in CAUSE_NAMES if n in causes},
        "accounts": rows,
        "residual_usd": total - attributed,
        "still_liquidatable": {
            "accounts": len(still),
            "reasons": {k: sum(1 for v in end_reasons.values() if v == k)
                        for k in END_REASONS if k in end_reasons.values()}},
        "keepers": _keepers(runner, observer),
        "gas": _gas(runner, blocked),
        "oracle": _oracle(series),
        "venue": _venue(series),
        "liquidatable_steps": sum(1 for n in series["liquidatable_accounts"] if n),
        "perp": perp_waterfall(series),
    }
    out["sentences"] = sentences(out)
    return out


#: The perp waterfall's parts per step (sim/metrics.py PERP_SERIES_COLUMNS): what paid
#: each step's bankrupt shortfall.
PERP_PARTS = (("insurance_drawdown_usd", "insurance_usd"), ("adl_covered_usd", "adl_usd"),
              ("socialized_loss_usd", "socialized_usd"), ("perp_deficit_usd", "deficit_usd"))


def perp_waterfall(series: dict[str, list[float]]) -> dict[str, float] | None:
    """A run's perp backstop waterfall summed over its steps (``None`` without perps):
    the bankrupt shortfall and what paid it, the perp liquidations, the insurance fund at
    the start and the end."""
    if "insurance_fund_usd" not in series:
        return None
    out = {name: float(sum(series.get(column, []))) for column, name in PERP_PARTS}
    out["shortfall_usd"] = sum(out[name] for _, name in PERP_PARTS)
    cum = series.get("perp_liquidations_cum", [])
    out["liquidations"] = float(cum[-1]) if cum else 0.0
    fund = series["insurance_fund_usd"]
    out["fund_start_usd"], out["fund_end_usd"] = float(fund[0]), float(fund[-1])
    return out


def _family(runner: CascadeRunner, observer: RunObserver,
            blocked: list[bool]) -> dict[str, Any]:
    """A family protocol's explanation (Liquity, Morpho, Euler, Drift, Mango): its bad debt
    in bulk (its runner keeps no lending risk book to classify accounts by), with the run's
    conditions."""
    realized, in_auctions, underwater = runner.bad_debt_parts()
    total = realized + in_auctions + underwater
    series = runner.series
    still: dict[str, Any] = {"accounts": 0, "reasons": {}}
    if isinstance(runner, FamilyEnd):
        # The family's own keepers asked again at the last step (Morpho's; the others
        # say "not evaluated"), and how many of those positions are under water.
        reasons = runner.end_reasons(len(series["step"]) - 1)
        under = set(runner.underwater_accounts())
        still = {"accounts": len(reasons),
                 "reasons": {k: sum(1 for v in reasons.values() if v == k)
                             for k in END_REASONS if k in reasons.values()},
                 "underwater": sum(1 for a in reasons if a in under)}
    out: dict[str, Any] = {
        "bad_debt_usd": total,
        "causes": {"unclassified": {"accounts": 0, "bad_debt_usd": total}} if total > 0
        else {},
        "accounts": [], "residual_usd": 0.0,
        "still_liquidatable": still,
        "keepers": _keepers(runner, observer), "gas": _gas(runner, blocked),
        "oracle": _oracle(series), "venue": _venue(series),
        "liquidatable_steps": sum(1 for n in series["liquidatable_accounts"] if n),
    }
    out["perp"] = perp_waterfall(series)
    out["sentences"] = sentences(out)
    return out


def _classify(account: str, sight: FirstSight | None, liquidations: list[int],
              from_auctions: int, near_zero: set[str], bad: int, blocked: list[bool],
              series: dict[str, list[float]], end_reasons: dict[str, str], steps: int,
              ran_out: bool, absorbed_short: bool, from_portfolio: int = 0,
              keepers: bool = True) -> str:
    """The first cause whose rule holds (see the module docstring)."""
    if from_auctions * 2 >= bad:
        return "auction_near_zero" if account in near_zero else "auction_shortfall"
    if from_portfolio * 2 >= bad:
        return "portfolio_insolvent"
    if sight is not None and sight.collateral < sight.debt:
        lags = [_lag(series, s) for s in (sight.step - 1, sight.step) if s >= 0]
        return "oracle_lag" if max(lags) >= ORACLE_LAG_MIN else "gapped"
    if absorbed_short:
        return "absorb_shortfall"
    first = sight.step if sight is not None else 0
    last = liquidations[-1] if ran_out and liquidations else steps
    window = blocked[first:last + 1]
    if window and sum(window) >= GAS_BLOCKED_SHARE * len(window):
        return "gas_blocked"
    if not keepers and not liquidations:
        return "no_keeper"
    if liquidations:
        return "outpaced"
    return "late" if end_reasons.get(account) == "would_pay" else "unprofitable"


def _keepers(runner: CascadeRunner, observer: RunObserver) -> list[dict[str, Any]]:
    """Per keeper: its liquidations (the engine's outcomes), profit, gas and limits; then
    every other account that liquidated (a portfolio auction's bidders), with what the
    outcomes tell (its liquidations and their value; ``None`` for the rest)."""
    out = []
    for k in runner.keepers:
        tally = observer.keepers.get(k.spec.id, KeeperTally())
        cap = k.spec.max_gas_gwei
        out.append({"keeper": k.spec.id, "liquidations": tally.liquidations,
                    "value_usd": tally.value_usd, "profit_usd": k.profit,
                    "gas_spent_usd": k.gas_spent, "actions": k.actions,
                    "latency_steps": k.spec.latency,
                    "max_gas_gwei": float(cap) if cap is not None else None,
                    "steps_priced_out": sum(1 for g in runner.gas[1:]
                                            if cap is not None and float(g) > float(cap)),
                    "flash_loan": bool(k.spec.flash_loan)})
    ids = {k.spec.id for k in runner.keepers}
    for name in sorted(set(observer.keepers) - ids):
        tally = observer.keepers[name]
        out.append({"keeper": name, "liquidations": tally.liquidations,
                    "value_usd": tally.value_usd, "profit_usd": None, "gas_spent_usd": None,
                    "actions": tally.liquidations, "latency_steps": None,
                    "max_gas_gwei": None, "steps_priced_out": 0, "flash_loan": False})
    return out


def _gas(runner: CascadeRunner, blocked: list[bool]) -> dict[str, Any]:
    gas = [float(g) for g in runner.gas]
    peak = max(range(len(gas)), key=gas.__getitem__)
    caps = [float(k.spec.max_gas_gwei) for k in runner.keepers
            if k.spec.max_gas_gwei is not None]
    return {"peak_gwei": gas[peak], "peak_step": peak, "start_gwei": gas[0],
            "all_blocked_steps": sum(blocked[1:]),
            "all_blocked_above_gwei": max(caps) if blocked and any(blocked) else None}


def _oracle(series: dict[str, list[float]]) -> dict[str, Any]:
    lags = [_lag(series, i) for i in range(len(series["step"]))]
    worst = max(range(len(lags)), key=lags.__getitem__) if lags else 0
    return {"max_lag": lags[worst] if lags else 0.0, "max_lag_step": worst,
            "steps_lagging": sum(1 for x in lags if x >= ORACLE_LAG_MIN)}


def _venue(series: dict[str, list[float]]) -> dict[str, Any]:
    gaps = [v / e - 1 if e > 0 else 0.0
            for v, e in zip(series["venue_price_usd"], series["external_price_usd"],
                            strict=True)]
    worst = min(range(len(gaps)), key=gaps.__getitem__) if gaps else 0
    oracle, venue = series["oracle_price_usd"][-1], series["venue_price_usd"][-1]
    return {"max_discount": -gaps[worst] if gaps else 0.0, "max_discount_step": worst,
            "end_discount": 1 - venue / oracle if oracle > 0 else 0.0}


def _money(x: float) -> str:
    return f"{x:,.0f} USD" if abs(x) >= 100 else f"{x:,.2f} USD"


def _n(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def sentences(e: dict[str, Any]) -> list[str]:
    """The explanation in words, from the figures :func:`explain` computed (every count
    and amount is the run's)."""
    out: list[str] = []
    total = e["bad_debt_usd"]
    causes = e["causes"]
    rows = e["accounts"]
    perp = e.get("perp")
    if total <= 0 and perp and perp["shortfall_usd"] > 0:
        out.append("No lending bad debt; the perp backstop paid for bankrupt positions "
                   "(below).")
    elif total <= 0:
        out.append("No bad debt: every liquidatable account was liquidated before its "
                   "collateral fell below its debt.")
    else:
        bulk = causes.get("unclassified", {}).get("bad_debt_usd", 0.0)
        across = f" across {_n(len(rows), 'account', 'accounts')}" if rows else ""
        also = f" (and {_money(bulk)} not classified per account)" if rows and bulk else ""
        out.append(f"Bad debt {_money(total)}{across}{also}.")
    gas, oracle, venue = e["gas"], e["oracle"], e["venue"]
    lag_pc = f"{oracle['max_lag']:.1%}"
    out_of_gas = [f"{k['keeper']} {_n(k['steps_priced_out'], 'step', 'steps')}"
                  for k in e["keepers"] if k["steps_priced_out"]]
    priced = f" while keepers were priced out by gas ({', '.join(out_of_gas)})" \
        if out_of_gas else ""
    for name in sorted(causes, key=lambda n: -causes[n]["bad_debt_usd"]):
        c = causes[name]
        n, money = c["accounts"], _money(c["bad_debt_usd"])
        who = _n(n, "account", "accounts")
        liq = sum(r["liquidations"] for r in rows if r["cause"] == name)
        text = {
            "gapped": f"{money} from {who} already under water when first liquidatable "
                      "(the price gapped through the threshold and the bonus between two "
                      "scans: no liquidation could cover their debt).",
            "oracle_lag": f"{money} from {who} under water when the oracle first showed "
                          f"them liquidatable: oracle lag (up to {lag_pc} above the market, "
                          f"{_n(oracle['steps_lagging'], 'step', 'steps')} at 1% or more).",
            "absorb_shortfall": f"{money} from {who} absorbed while still above water: "
                                "the protocol credits collateral at its liquidation "
                                "factor and wrote off the rest.",
            "gas_blocked": f"{money} from {who}: keepers stopped: gas above "
                           f"{gas['all_blocked_above_gwei'] or 0:,.0f} gwei for "
                           f"{_n(gas['all_blocked_steps'], 'step', 'steps')}.",
            "unprofitable": f"{money} from {who} never liquidated: no keeper could profit "
                            "after gas and slippage.",
            "outpaced": f"{money} from {who} liquidated in part "
                        f"({_n(liq, 'liquidation', 'liquidations')}) but the price fell "
                        "through the bonus before keepers were done.",
            "late": f"{money} from {who} that a keeper could still profit from: latency, "
                    "capital or order had not let it act.",
            "auction_near_zero": f"{money} from {who} whose auctions settled near zero "
                                 f"(below 5% of the oracle price at kick){priced}.",
            "auction_shortfall": f"{money} from {who} whose auctions raised less than the "
                                 f"debt{priced}.",
            "portfolio_insolvent": f"{money} from {who} whose portfolio auctions went "
                                   "insolvent: the security module could not pay their "
                                   "bidders the portfolios' negative value, and the rest "
                                   "was socialized.",
            "no_keeper": f"{money} from {who} never liquidated: the run has no keeper "
                         "([liquidator] enabled = false).",
            "unclassified": f"{money} in a Liquity, Morpho, Euler, Drift or Mango protocol, not "
                            "classified per account (its own columns are in steps.parquet).",
            "in_auction": f"{money} in {_n(n, 'running auction', 'running auctions')} "
                          "whose lots would not cover their debt at the market price "
                          "(auction depth exhausted).",
        }[name]
        out.append(text)
    if perp and perp["shortfall_usd"] > 0:
        paid = [f"{label} {_money(perp[key])}" for key, label in (
            ("insurance_usd", "the insurance fund"), ("adl_usd", "auto-deleveraging"),
            ("socialized_usd", "socialized loss"), ("deficit_usd", "left as deficit"))
            if perp[key] > 0]
        out.append(f"Perp bankruptcies: {_money(perp['shortfall_usd'])} of shortfall "
                   f"beyond the positions' margin, paid by {', '.join(paid)} "
                   f"({_n(int(perp['liquidations']), 'perp liquidation', 'perp liquidations')}"
                   f"; insurance fund {_money(perp['fund_start_usd'])} at the start, "
                   f"{_money(perp['fund_end_usd'])} at the end).")
    still = e["still_liquidatable"]
    if still["accounts"]:
        reasons = still["reasons"]
        cannot = reasons.get("gas_cost", 0) + reasons.get("no_profit", 0)
        parts = []
        if cannot:
            part = f"{cannot:,} with no keeper able to profit after gas and slippage"
            if reasons.get("no_profit"):
                part += (f" ({reasons['no_profit']:,} not even before gas: the venue's "
                         f"price, {venue['end_discount']:.1%} below the oracle at the end, "
                         "and its slippage eat the liquidation bonus)")
            parts.append(part)
        if still.get("underwater"):
            parts.append(f"{still['underwater']:,} of them under water at the oracle (all "
                         "their collateral is worth less than their debt: a liquidation "
                         "seizes it all and realizes the rest as bad debt)")
        if reasons.get("gas_blocked"):
            parts.append(f"{reasons['gas_blocked']:,} with every keeper priced out by gas")
        if reasons.get("would_pay"):
            parts.append(f"{reasons['would_pay']:,} that a keeper would still liquidate")
        if reasons.get("no_keeper"):
            parts.append(f"{reasons['no_keeper']:,} with no keeper in the run")
        if reasons.get("not_evaluated"):
            parts.append(f"{reasons['not_evaluated']:,} not evaluated (not a close-factor "
                         "protocol)")
        if reasons.get("no_quote_debt"):
            parts.append(f"{reasons['no_quote_debt']:,} owing no quote (liquidatable "
                         "through another token or a perp; the keepers liquidate with the "
                         "quote only)")
        out.append(f"{_n(still['accounts'], 'account', 'accounts')} still liquidatable "
                   f"at the end: {'; '.join(parts)}.")
    if gas["all_blocked_steps"] and "gas_blocked" not in causes:
        out.append(f"Keepers stopped: gas above {gas['all_blocked_above_gwei']:,.0f} gwei "
                   f"for {_n(gas['all_blocked_steps'], 'step', 'steps')} (peak "
                   f"{gas['peak_gwei']:,.0f} gwei at step {gas['peak_step']}).")
    for k in e["keepers"]:
        if k["steps_priced_out"] and not gas["all_blocked_steps"]:
            out.append(f"Keeper {k['keeper']!r} was priced out by gas (above "
                       f"{k['max_gas_gwei']:,.0f} gwei) for "
                       f"{_n(k['steps_priced_out'], 'step', 'steps')}.")
    if oracle["steps_lagging"] and "oracle_lag" not in causes:
        out.append(f"Oracle lag: up to {lag_pc} above the market at step "
                   f"{oracle['max_lag_step']} ({_n(oracle['steps_lagging'], 'step', 'steps')}"
                   " at 1% or more).")
    if venue["max_discount"] >= 0.01:
        out.append(f"Venue depth: liquidation sales pushed the venue's price up to "
                   f"{venue['max_discount']:.1%} below the market (step "
                   f"{venue['max_discount_step']}).")
    if abs(e["residual_usd"]) >= 0.01:
        out.append(f"{_money(e['residual_usd'])} of bad debt is carried by no account "
                   "(rounding of the valuations).")
    return out


def _sum_perp(parts: Sequence[dict[str, float] | None]) -> dict[str, float] | None:
    present = [p for p in parts if p]
    if not present:
        return None
    return {k: sum(p[k] for p in present) for k in present[0]}


def combine(named: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One explanation over several protocols: causes and accounts summed (each account
    named ``protocol:account``), with ``protocols``: name -> its own explanation."""
    if len(named) == 1:
        return named[0][1]
    first = named[0][1]
    causes: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    still_count = 0
    reasons: dict[str, int] = {}
    keepers: list[dict[str, Any]] = []
    for name, e in named:
        for cause, c in e["causes"].items():
            mine = causes.setdefault(cause, {"accounts": 0, "bad_debt_usd": 0.0})
            mine["accounts"] += c["accounts"]
            mine["bad_debt_usd"] += c["bad_debt_usd"]
        rows += [{**r, "account": f"{name}:{r['account']}", "protocol": name}
                 for r in e["accounts"]]
        still_count += e["still_liquidatable"]["accounts"]
        for k, v in e["still_liquidatable"]["reasons"].items():
            reasons[k] = reasons.get(k, 0) + v
        keepers += [{**k, "keeper": f"{name}:{k['keeper']}", "protocol": name}
                    for k in e["keepers"]]
    rows.sort(key=lambda r: (-r["bad_debt_usd"], r["account"]))
    out: dict[str, Any] = {
        "bad_debt_usd": sum(e["bad_debt_usd"] for _, e in named),
        "causes": {n: causes[n] for n in CAUSE_NAMES if n in causes},
        "accounts": rows,
        "residual_usd": sum(e["residual_usd"] for _, e in named),
        "still_liquidatable": {"accounts": still_count, "reasons": reasons},
        "keepers": keepers,
        "gas": first["gas"], "oracle": first["oracle"], "venue": first["venue"],
        "liquidatable_steps": max(e["liquidatable_steps"] for _, e in named),
        "perp": _sum_perp([e.get("perp") for _, e in named]),
        "protocols": dict(named),
    }
    out["sentences"] = sentences(out)
    return out


__all__ = ["CAUSES", "CAUSE_NAMES", "END_REASONS", "GAS_BLOCKED_SHARE", "ORACLE_LAG_MIN",
           "Cause", "FirstSight", "RunObserver", "combine", "end_reason", "explain",
           "sentences"]
