"""Perps in the cascade: perp markets on the simulated prices, a book of traders, the
perp liquidators and the backstop waterfall, step by step (``[perps]`` of a cascade).

Each perp market (``[protocol.perps.SYMBOL]`` holds its rules: dYdX v4 or Hyperliquid
presets) follows a simulated asset (``[perps.markets.SYMBOL] asset``, default the
headline asset):

- **index**: the asset's external price as the market's own oracle publishes it
  (``SetPrice SYMBOL``; ``direct``, ``osm``, ``push`` or the ``venue``'s spot/TWAP);
- **mark**: the engine's rule (median of the index, the last trade and the index moved
  by an EMA of the trade basis, ``mark_basis_alpha``). With ``mark = "venue"`` (the
  default) a print of one step size trades each step at the mid of the asset's venue
  between a market maker (``_mark``) and the book's counterparty, so the mark follows the
  venue, which liquidations move: the premium follows the order flow;
- **funding**: the engine's, at the market's interval, from the mark's premium over the
  index (``AdvanceTime``).

Order of work within a step, after the lending oracles publish (sim/cascade.py): the
indices publish, the prints trade, the scan finds the buckets below maintenance, then
each perp liquidator (:class:`~marginengine.sim.agents.PerpLiquidator`, in a seeded
order when there are several) sends ``LiquidatePerp`` for them. The engine fills at its
price (dYdX's fillable price, or the mark less the takeover discount) and, for a
bankrupt bucket, runs its waterfall: the insurance fund when it can pay the loss at the
fill price, else auto-deleveraging at the bankruptcy price (a market with ``adl =
false`` socializes instead), then socialization of what is left over the market's open
positions (per unit of size, both sides), then the clearing's deficit. What a liquidator
takes over it lays off on the asset's venue at once (``hedge``): selling a long, buying
back a short; with the venue's ``feedback`` on, those trades move the venue the next
prints read.

The waterfall per step, exact in quote smallest units (:attr:`PerpSim.waterfall`):
``insurance_paid + adl_covered + socialized + deficit == shortfall``, where
``shortfall`` is the loss beyond the bankrupt buckets' equity at their fill prices (the
engine's ``LiquidatePerp`` outcome reports each part).

Nothing here re-implements a rule: every decision is an engine event.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from marginengine.config import ProtocolConfig
from marginengine.engine import (
    DepositQuote,
    Engine,
    Event,
    FundInsurance,
    Outcome,
    SetPrice,
    Trade,
)
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT, Rounding, parse_units
from marginengine.ledger.perp import quote_value
from marginengine.sim.agents import KeeperState, PerpLiquidator
from marginengine.sim.books import COUNTERPARTY, Book, BookAccount, open_book, read_book
from marginengine.sim.cascade_config import (
    MARK_MAKER,
    PERP_RESERVED,
    SHARED,
    PerpBookSpec,
    PerpMarketSpec,
    PerpsSpec,
    quote_amount,
)
from marginengine.sim.joint import JointPaths
from marginengine.sim.markets import AssetMarket
from marginengine.sim.metrics import PERP_SERIES_COLUMNS
from marginengine.venue import VenueError, gmx, synthetix


class PerpHost(Protocol):
    """What :class:`PerpSim` needs of its run (``sim.cascade.PerpHost``)."""

    engine: Engine
    protocol: ProtocolConfig
    collateral: str
    markets: dict[str, AssetMarket]
    fixed: dict[str, list[int]]
    rng: np.random.Generator
    gas: np.ndarray
    paths: JointPaths

    def gas_usd(self, action: str, i: int) -> float:
        """USD of gas one ``action`` costs at step ``i``."""

    def sell(self, amount: int, i: int, asset: str | None = None) -> float:
        """Sell ``amount`` of a simulated asset; USD received."""

    def trades_on_venue(self, market: AssetMarket) -> bool:
        """Whether sales of the asset trade on its venue."""

#: Waterfall parts per step, quote smallest units (exact).
WATERFALL = ("shortfall", "insurance_paid", "adl_covered", "socialized", "deficit")


@dataclass(frozen=True)
class PerpMarket:
    """One perp market of a run: its rules' symbol, the asset its index follows, the
    index oracle (an :class:`AssetMarket` reading the asset's venue), its spec."""

    symbol: str
    asset: str
    oracle: AssetMarket
    spec: PerpMarketSpec
    base_unit: int
    step_units: int


class PerpSim:
    """The perp venue of one cascade run (see the module docstring).

    Parameters
    ----------
    runner
        The cascade runner (its engine, prices, venues, gas and generator).
    spec
        The scenario's ``[perps]``.
    """

    def __init__(self, runner: PerpHost, spec: PerpsSpec) -> None:
        self.runner = runner
        self.spec = spec
        engine = runner.engine
        protocol = runner.protocol
        self.quote_asset = next(iter(protocol.perps.values())).quote
        self.quote_unit = protocol.markets[self.quote_asset].unit
        self.markets: dict[str, PerpMarket] = {}
        for symbol, perp in sorted(protocol.perps.items()):
            market_spec = spec.markets.get(symbol, PerpMarketSpec())
            asset = market_spec.asset or runner.collateral
            base = runner.markets[asset]
            oracle = AssetMarket(symbol, None, market_spec.oracle, runner.fixed[asset][0],
                                 base.base_unit, base.quote_unit)
            oracle.share_venue(base)  # a ``venue`` index reads the asset's venue
            self.markets[symbol] = PerpMarket(symbol, asset, oracle, market_spec,
                                              perp.base_unit, perp.step_units)
        self.keepers = [KeeperState(k, float(k.capital)) for k in spec.keepers]
        self.agents = [PerpLiquidator(k) for k in self.keepers]
        #: Every account the perp side opened (traders, keepers, counterparty, maker).
        self.accounts: set[str] = set()
        self.traders: list[str] = []
        self.rejected_setup = 0
        self.insurance_start = 0
        #: Per step (0 = set-up), quote smallest units: the waterfall's parts.
        self.waterfall: list[dict[str, int]] = []
        self._step: dict[str, int] = dict.fromkeys(WATERFALL, 0)
        self.liquidations = 0
        self._liquidations_step = 0
        self.liquidated_value = 0.0
        self._liquidated_step = 0.0
        self._liquidatable = 0
        self._adl_volume_seen = 0
        self.engine = engine

    # ------------------------------------------------------------------ set-up
    def apply(self, event: Event) -> Outcome:
        """Apply an event to the engine."""
        return self.runner.engine.apply(event)

    def setup(self) -> None:
        """Index prices, insurance funds, liquidators' quote, the maker, the book."""
        runner, protocol = self.runner, self.runner.protocol
        for symbol, market in self.markets.items():
            self.apply(SetPrice(symbol, runner.fixed[market.asset][0]))
        decimals = protocol.markets[self.quote_asset].decimals
        problems: list[str] = []
        for key, raw in sorted(self.spec.insurance.items()):
            amount = quote_amount(raw, decimals, f"perps.insurance.{key}", problems)
            if amount:
                self.apply(FundInsurance(amount, "" if key == SHARED else key))
        if problems:
            raise ConfigError(problems)
        self.insurance_start = self.insurance_total()
        for keeper in self.keepers:
            self.apply(DepositQuote(keeper.spec.id, parse_units(str(keeper.spec.capital),
                                                                decimals)))
            self.accounts.add(keeper.spec.id)
        book = self._book()
        counterparty = self.spec.book.counterparty_quote
        cp_quote = (parse_units(str(counterparty), decimals) if counterparty is not None
                    else self._net_notional(book))
        refused = open_book(self.apply, book, protocol, max(cp_quote, 1))
        b = self.spec.book
        if refused and b.file:
            raise ConfigError([f"{r} (the protocol would not have allowed this position "
                               "at the scenario's step-0 prices)" for r in refused[:20]]
                              + ([f"... and {len(refused) - 20} more"]
                                 if len(refused) > 20 else []))
        self.rejected_setup = len(refused)
        self.traders = [a.id for a in book.accounts]
        self.accounts.update(self.traders)
        self.accounts.add(COUNTERPARTY)
        if any(m.spec.mark == "venue" for m in self.markets.values()):
            # Enough quote for a step-size position at any price the run can reach.
            self.apply(DepositQuote(MARK_MAKER, 10**6 * self.quote_unit))
            self.accounts.add(MARK_MAKER)
        self._adl_volume_seen = self._adl_volume()
        self.waterfall.append(dict.fromkeys(WATERFALL, 0))

    def _book(self) -> Book:
        b = self.spec.book
        protocol = self.runner.protocol
        if b.file:
            book = read_book(protocol, perps=b.file)
            taken = sorted({a.id for a in book.accounts} & (self.accounts
                                                            | set(PERP_RESERVED)))
            if taken:
                raise ConfigError([f"{book.accounts[0].where}: account: {taken[0]!r} is "
                                   "the runner's own account (a keeper or the maker)"])
            lending = {a for a in book.accounts if a.supplied or a.borrowed}
            if lending:
                raise ConfigError([f"{next(iter(lending)).where}: a perp book holds "
                                   "positions and quote only"])
            return book
        index = {s: self.runner.fixed[m.asset][0] for s, m in self.markets.items()}
        return synthetic_perp_book(self.runner.rng, protocol, index, b)

    def _net_notional(self, book: Book) -> int:
        """The counterparty's net position's notional at step-0 entries (quote units)."""
        net: dict[str, int] = {}
        for acct in book.accounts:
            for market, (size, _) in acct.positions.items():
                net[market] = net.get(market, 0) + size
        total = 0
        for market, size in net.items():
            perp = self.runner.protocol.perps[market]
            price = self.runner.fixed[self.markets[market].asset][0]
            total += abs(quote_value(size, price, perp.base_unit, self.quote_unit,
                                     Rounding.UP))
        return total

    # ------------------------------------------------------------------ one step
    def publish(self, i: int, now: int) -> None:
        """The indices of step ``i`` (each market's oracle), then the prints."""
        runner = self.runner
        for symbol, market in self.markets.items():
            market.oracle.move(runner.fixed[market.asset][i])
            price = market.oracle.oracle_price(now)
            if price is not None:
                self.apply(SetPrice(symbol, price))
        ledger = self.engine.ledger
        for symbol, market in self.markets.items():
            if market.spec.mark != "venue":
                continue
            mid = runner.markets[market.asset].venue_price()
            held = ledger.perp_size(MARK_MAKER, symbol)
            buyer, seller = (MARK_MAKER, COUNTERPARTY) if held <= 0 else \
                (COUNTERPARTY, MARK_MAKER)
            self.apply(Trade(buyer, seller, symbol, market.step_units, mid))

    def split(self, unsafe: Sequence[str]) -> tuple[list[str], list[str]]:
        """The scan's accounts below the threshold: lending ones, perp ones."""
        perp = [a for a in unsafe if a in self.accounts]
        if not perp:
            return list(unsafe), []
        return [a for a in unsafe if a not in self.accounts], perp

    def act(self, i: int, unsafe: Sequence[str]) -> None:
        """The perp liquidators act on the perp buckets below maintenance."""
        runner = self.runner
        self._step = dict.fromkeys(WATERFALL, 0)
        self._liquidations_step = 0
        self._liquidated_step = 0.0
        self._liquidatable = len(unsafe)
        order = (runner.rng.permutation(len(self.agents)).tolist()
                 if len(self.agents) > 1 else [0] * len(self.agents))
        for k in order:
            keeper = self.keepers[k]
            if keeper.spec.max_gas_gwei is not None and runner.gas[i] > float(
                    keeper.spec.max_gas_gwei):
                continue
            self.agents[k].act(self, i, unsafe)
        self.waterfall.append(self._step)

    # ------------------------------------------------------------------ the agents' world
    def gas_usd(self, action: str, step: int) -> float:
        """USD of gas one ``action`` costs at ``step`` (the runner's gas)."""
        return self.runner.gas_usd(action, step)

    def perp_liquidated(self, keeper: KeeperState, account: str, market: str,
                        size_before: int, outcome: Outcome, step: int) -> float:
        """Record an accepted ``LiquidatePerp`` and lay off what the keeper took over on
        the asset's venue; return the keeper's profit on it in USD (before gas): the
        hedge's proceeds against the fill."""
        d = outcome.details
        for part in WATERFALL:
            self._step[part] += int(d[part])
        self.liquidations += 1
        self._liquidations_step += 1
        perp = self.runner.protocol.perps[market]
        closed, price = int(d["closed"]), int(d["price"])
        notional = quote_value(closed, price, perp.base_unit, self.quote_unit,
                               Rounding.DOWN) / self.quote_unit
        self.liquidated_value += notional
        self._liquidated_step += notional
        if d["adl"] or not self.spec.hedge:
            return 0.0  # deleveraged against opposite positions: nothing taken over
        pm = self.markets[market]
        if pm.spec.pricing != "venue":
            profit = self._close_on_pool(keeper, pm, closed, size_before > 0, notional)
            if profit is not None:
                return profit
        return self._hedge(pm, closed, size_before > 0, notional, step)

    def open_interest(self, symbol: str) -> tuple[int, int]:
        """The long and short open interest (base smallest units) the perp venue as a
        pool sees in ``symbol``: every position but the counterparty's (the pool's own
        side) and the mark maker's (its prints stand for the rest of the market)."""
        long_oi = short_oi = 0
        for account_id, account in self.engine.ledger.accounts.items():
            if account_id in (COUNTERPARTY, MARK_MAKER):
                continue
            pos = account.perps.get(symbol)
            if pos is None:
                continue
            if pos.size > 0:
                long_oi += pos.size
            else:
                short_oi -= pos.size
        return long_oi, short_oi

    def pool_price(self, symbol: str, closed: int, long: bool) -> int:
        """The price (8 decimals) a close of ``closed`` (a long when ``long``) fills at
        against the perp venue as a pool, by the market's ``pricing`` rule on the open
        interest now (:func:`pool_fill_price`)."""
        market = self.markets[symbol]
        long_oi, short_oi = self.open_interest(symbol)
        return pool_fill_price(market.spec, long_oi, short_oi, closed, long,
                               self.engine.prices[symbol], market.base_unit)

    def _close_on_pool(self, keeper: KeeperState, market: PerpMarket, closed: int,
                       long: bool, paid: float) -> float | None:
        """Close the takeover against the pool (the counterparty) at the pricing rule's
        fill; ``None`` when the rule or the engine refuses (then it is hedged instead)."""
        try:
            price = self.pool_price(market.symbol, closed, long)
        except (ValueError, VenueError):
            return None  # e.g. an impact larger than the order: no fill on the pool
        me = keeper.spec.id
        buyer, seller = (COUNTERPARTY, me) if long else (me, COUNTERPARTY)
        if not self.apply(Trade(buyer, seller, market.symbol, closed, price)).accepted:
            return None
        value = quote_value(closed, price, market.base_unit, self.quote_unit,
                            Rounding.DOWN if long else Rounding.UP) / self.quote_unit
        return value - paid if long else paid - value

    def _hedge(self, market: PerpMarket, closed: int, long: bool, paid: float,
               step: int) -> float:
        runner = self.runner
        asset_market = runner.markets[market.asset]
        amount = closed * asset_market.base_unit // market.base_unit
        external = float(amount / asset_market.base_unit * runner.paths.path(market.asset)[step])
        if long:  # it took a long: sell it
            try:
                return runner.sell(amount, step, market.asset) - paid
            except VenueError:  # more than the venue's bids: sold elsewhere
                return external - paid
        cost = external
        # More than the venue holds: bought elsewhere at the external price.
        with contextlib.suppress(VenueError):
            if runner.trades_on_venue(asset_market):
                cost = asset_market.buy(amount) / asset_market.quote_unit
        return paid - cost

    # ------------------------------------------------------------------ figures
    def insurance_total(self) -> int:
        """Every insurance fund's balance, quote smallest units."""
        clearing = self.engine.ledger.clearing
        return clearing.insurance + sum(m.insurance for m in clearing.markets.values())

    def _adl_volume(self) -> int:
        return sum(m.adl_volume for m in self.engine.ledger.clearing.markets.values())

    def usd(self, quote: int) -> float:
        """Quote smallest units as USD at the quote asset's oracle price (display)."""
        return float(quote / self.quote_unit * self.engine.prices.get(
            self.quote_asset, PRICE_UNIT) / PRICE_UNIT)

    def open_interest_usd(self) -> float:
        """Open interest (long sizes) at the marks, USD."""
        marks = self.engine.marks()
        total = 0.0
        for symbol, state in self.engine.ledger.clearing.markets.items():
            total += state.open_interest / self.markets[symbol].base_unit * marks.get(
                symbol, 0) / PRICE_UNIT
        return total

    def row(self) -> dict[str, float]:
        """This step's columns (:data:`marginengine.sim.metrics.PERP_SERIES_COLUMNS`)."""
        step = self.waterfall[-1]
        adl = self._adl_volume()
        adl_step, self._adl_volume_seen = adl - self._adl_volume_seen, adl
        marks = self.engine.marks()
        out: dict[str, float] = {
            "perp_liquidatable_accounts": self._liquidatable,
            "perp_liquidations": self._liquidations_step,
            "perp_liquidations_cum": self.liquidations,
            "perp_liquidated_value_usd_step": self._liquidated_step,
            "insurance_fund_usd": self.usd(self.insurance_total()),
            "bankrupt_shortfall_usd": self.usd(step["shortfall"]),
            "insurance_drawdown_usd": self.usd(step["insurance_paid"]),
            "adl_covered_usd": self.usd(step["adl_covered"]),
            "adl_volume_usd": self.usd(adl_step),
            "socialized_loss_usd": self.usd(step["socialized"]),
            "perp_deficit_usd": self.usd(step["deficit"]),
            "open_interest_usd": self.open_interest_usd(),
            "perp_keeper_profit_usd_cum": sum(k.profit for k in self.keepers),
        }
        for symbol in self.markets:
            out[f"perp_index_usd.{symbol}"] = self.engine.prices.get(symbol, 0) / PRICE_UNIT
            out[f"perp_mark_usd.{symbol}"] = marks.get(symbol, 0) / PRICE_UNIT
        return out

    def columns(self) -> list[str]:
        """The names :meth:`row` fills, in order."""
        return [*PERP_COLUMN_NAMES, *(f"{c}.{s}" for s in self.markets
                                      for c in ("perp_index_usd", "perp_mark_usd"))]

    def summary(self) -> dict[str, Any]:
        """The run's perp figures (docs/simulator.md), USD unless named otherwise."""
        totals = {p: sum(w[p] for w in self.waterfall) for p in WATERFALL}
        clearing = self.engine.ledger.clearing
        return {
            "perp_liquidation_count": self.liquidations,
            "perp_liquidated_value": self.liquidated_value,
            "bankrupt_shortfall": self.usd(totals["shortfall"]),
            "insurance_fund_start": self.usd(self.insurance_start),
            "insurance_fund_end": self.usd(self.insurance_total()),
            "insurance_fund_drawdown": self.usd(totals["insurance_paid"]),
            "adl_covered": self.usd(totals["adl_covered"]),
            "adl_volume": self.usd(self._adl_volume()),
            "socialized_loss": self.usd(totals["socialized"]),
            "perp_deficit": self.usd(clearing.deficit),
            "perp_keeper_profit": sum(k.profit for k in self.keepers),
            "perp_keeper_gas_spent": sum(k.gas_spent for k in self.keepers),
            "perp_accounts": len(self.traders),
            "perp_setup_rejected": self.rejected_setup,
            "open_interest_end": self.open_interest_usd(),
            "waterfall_quote_units": {p: str(v) for p, v in totals.items()},
        }


def _wad(amount: int, unit: int) -> int:
    """``amount`` of ``unit`` per whole token in 18 decimals, toward zero (exact when
    ``unit`` divides 1e18, as for the 18-decimal bases and the 8-decimal prices)."""
    q = abs(amount) * 10**18 // unit
    return q if amount >= 0 else -q


def pool_fill_price(spec: PerpMarketSpec, long_oi: int, short_oi: int, closed: int,
                    long: bool, index: int, base_unit: int) -> int:
    """The price (8 decimals per whole base token) at which a close of ``closed`` base
    smallest units of a long (``long``) or a short fills against a pool whose traders hold
    ``long_oi`` and ``short_oi`` (base smallest units), at the ``index`` (8 decimals).

    - ``gmx-v2``: :func:`marginengine.venue.gmx.position_impact` of decreasing the side
      by the close's USD at the index, then
      :func:`~marginengine.venue.gmx.decrease_execution_price` (GMX's 30-decimal USD per
      smallest unit: ``index x 1e30 / (1e8 x base_unit)``, down);
    - ``synthetix-v3``: :func:`marginengine.venue.synthetix.fill_price` of the trade
      (``-closed`` for a long, ``+closed`` for a short) on the skew ``long_oi -
      short_oi`` (18 decimals).

    Back to 8 decimals against the closer: a long's sale rounds down, a short's buy up.

    Raises
    ------
    VenueError, ValueError
        What the rules refuse (an impact larger than the order, a premium below -100%).
    """
    def back(value: int, scale: int) -> int:  # ``value / scale`` against the closer
        return value // scale if long else -(-value // scale)

    if spec.pricing == "gmx-v2":
        assert spec.impact_factor_negative is not None  # check_pricing
        negative = int(spec.impact_factor_negative.scaleb(30))
        positive = (negative if spec.impact_factor_positive is None
                    else int(spec.impact_factor_positive.scaleb(30)))
        exponent = int(spec.impact_exponent.scaleb(30))
        params = gmx.ImpactParams(positive, negative, exponent, exponent)
        unit_price = index * gmx.FLOAT_PRECISION // (PRICE_UNIT * base_unit)
        size_usd = closed * unit_price
        impact = gmx.position_impact(long_oi * unit_price, short_oi * unit_price,
                                     -size_usd, long, params)
        execution = gmx.decrease_execution_price(unit_price, unit_price, size_usd, closed,
                                                 size_usd, impact.usd, long)
        return back(execution * PRICE_UNIT * base_unit, gmx.FLOAT_PRECISION)
    if spec.pricing == "synthetix-v3":
        assert spec.skew_scale is not None  # check_pricing
        fill = synthetix.fill_price(_wad(long_oi - short_oi, base_unit),
                                    int(spec.skew_scale.scaleb(18)),
                                    _wad(-closed if long else closed, base_unit),
                                    _wad(index, PRICE_UNIT))
        return back(fill * PRICE_UNIT, synthetix.UNIT)
    return index


#: The perp columns of ``steps.parquet`` besides the per-market ones.
PERP_COLUMN_NAMES = tuple(c.name for c in PERP_SERIES_COLUMNS)


def synthetic_perp_book(rng: np.random.Generator, protocol: ProtocolConfig,
                        index: dict[str, int], spec: PerpBookSpec) -> Book:
    """A seeded perp book: ``accounts`` traders (``whales`` of them holding
    ``whale_share`` of the notional, the rest lognormal sizes), each long with
    probability ``long_share``, at a lognormal leverage (notional over quote) capped at
    ``leverage_max`` or what the first tier's initial margin allows less 2%, in one of the
    markets drawn uniformly, opened at the step-0 index.

    Draws, in order: sizes, leverages, sides, markets.
    """
    n = spec.accounts
    whales = min(spec.whales, n - 1) if n > 1 else 0
    small = n - whales
    total = float(spec.total_notional)
    share = float(spec.whale_share) if whales else 0.0
    sizes = rng.lognormal(0.0, 1.2, size=small)
    sizes *= total * (1 - share) / sizes.sum()
    # No whales: every trader ordinary (dividing the whales' share by 0 raised).
    notionals = [*([total * share / whales] * whales if whales else []), *sizes.tolist()]
    leverage = rng.lognormal(float(np.log(float(spec.leverage_median))),
                             float(spec.leverage_sigma), size=n)
    longs = rng.random(n) < float(spec.long_share)
    symbols = sorted(index)
    which = rng.integers(0, len(symbols), size=n)
    book = Book()
    for i in range(n):
        symbol = symbols[int(which[i])]
        perp = protocol.perps[symbol]
        quote_unit = protocol.markets[perp.quote].unit
        cap = (float(spec.leverage_max) if spec.leverage_max is not None
               else 0.98 / float(perp.tiers[0].imf))
        lev = min(max(float(leverage[i]), 1.0), cap)
        price = index[symbol]
        step = perp.step_units
        size = max(step, int(notionals[i] / (price / PRICE_UNIT) * perp.base_unit)
                   // step * step)
        notional = size / perp.base_unit * price / PRICE_UNIT
        quote = max(1, int(notional / lev * quote_unit))
        prefix = "pwhale" if i < whales else "trader"
        acct = BookAccount(f"{prefix}{i:05d}", quote=quote,
                           positions={symbol: (size if longs[i] else -size, price)},
                           where=f"perps.book: account {i}")
        book.accounts.append(acct)
    return book


__all__ = ["PERP_COLUMN_NAMES", "WATERFALL", "PerpHost", "PerpMarket", "PerpSim",
           "pool_fill_price", "synthetic_perp_book"]
