"""The live service's state: one engine, its risk book, the alert tracker, and the reads.

Every write is one call to :meth:`Service.apply`: the events of one request (a tick, a
batch of ticks, account events) are applied inside one ``engine.batch()``, so they are
committed to the log together, once, before anything is answered or pushed; the book
follows the engine through ``Engine.subscribe``; then one alert pass compares every
account's health band with the previous one.

Alerts. Thresholds (``1.10, 1.05, 1.0`` by default) cut health into bands; an account's
*level* is how many thresholds its health is below. The float health of every account
comes from the book; where it is within a relative ``1e-9`` of a threshold the engine's
exact rule decides (:func:`marginengine.scan.confirm_below`), as it does for accounts
holding perps. Liquidatable is not a threshold: it is the book's exactly confirmed scan at 1
(the engine's rule, per preset). Each tick's alert lists the accounts whose level changed
and the accounts that became (or stopped being) liquidatable, with the engine's best
liquidation for up to ``max_quotes`` of them, the largest debts first.

No rules live here: health, liquidatability and quotes are the engine's and the book's.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from marginengine.engine import (
    Absorb,
    AdvanceTime,
    BidPortfolioAuction,
    Borrow,
    BuyCollateral,
    ConvertToInsolventAuction,
    Deposit,
    DepositOptionCash,
    DepositQuote,
    Engine,
    Event,
    FundInsurance,
    FundSecurityModule,
    Liquidate,
    LiquidationQuote,
    Outcome,
    Repay,
    SetConditions,
    SetPrice,
    SetSviSurface,
    SetVolSurface,
    StartPortfolioAuction,
    TerminatePortfolioAuction,
    Trade,
    TradeOption,
    TransferQuote,
    Withdraw,
    WithdrawOptionCash,
    WithdrawQuote,
)
from marginengine.errors import InvariantViolation, LogError
from marginengine.fixedpoint import PRICE_UNIT, WAD
from marginengine.ledger.book_file import RESERVED_ACCOUNTS
from marginengine.margin.account import Valuation
from marginengine.margin.base import NO_DEBT_HEALTH, MarginKind
from marginengine.margin.portfolio_rules import rule_of, scenario_rows
from marginengine.scan import RiskBook, confirm_below, threshold_wad
from marginengine.scan.portfolio_screen import ScreenResult
from marginengine.scan.portfolio_screens import PortfolioScreen, has_screen, portfolio_screen
from marginengine.scan.sidematrix import MIN_LAYOUT_SLOTS
from marginengine.scan.whatif import ScenarioOutcome, evaluate, parse_fraction, shock_curve

#: Default alert thresholds (health), highest first.
DEFAULT_THRESHOLDS = (Decimal("1.10"), Decimal("1.05"), Decimal("1"))
#: Portfolio accounts listed (lowest health first) in ``/summary``'s options block.
SUMMARY_LOWEST = 20
#: Relative distance to a threshold under which the float health is not trusted.
EXACT_BAND = 1e-9

IntArray = NDArray[np.int64]

#: Events that change no account's positions (the book cannot regroup its rows on them).
QUIET = (SetPrice, SetConditions, AdvanceTime)
#: Events that change at most two accounts.
FEW_ACCOUNTS = (Deposit, Withdraw, Borrow, Repay, Liquidate, Absorb, BuyCollateral,
                DepositQuote, WithdrawQuote, TransferQuote, Trade, FundInsurance)
#: Events that change the portfolio margin of the accounts they name only (every other
#: event, a price, a vol surface, time, a settlement, may change any portfolio's margin).
PORTFOLIO_LOCAL = (*FEW_ACCOUNTS, DepositOptionCash, WithdrawOptionCash, TradeOption,
                   StartPortfolioAuction, BidPortfolioAuction, TerminatePortfolioAuction,
                   ConvertToInsolventAuction, FundSecurityModule)
#: Fields of those events that name an account.
NAMING_FIELDS = ("account", "liquidator", "absorber", "buyer", "seller", "keeper", "bidder",
                 "source", "target")


@dataclass(frozen=True)
class _Crossed:
    """The level changes of one alert pass: how many, and those listed."""

    count: int
    listed: list[tuple[str, int, int, float]]


@dataclass(frozen=True)
class Settings:
    """How the service alerts and what it accepts.

    Attributes
    ----------
    thresholds
        Alert thresholds (health), any order; stored highest first.
    max_quotes
        Newly liquidatable accounts quoted per tick (the largest debts first).
    max_events
        Events in one request, at most.
    max_crossed
        Accounts listed per tick among those whose level changed (all are counted).
    screen_portfolios
        Screen portfolio accounts in float under the grid rule and read exactly only
        those near a line (:class:`PortfolioWatch`); ``False``: read every one exactly.
    """

    thresholds: tuple[Decimal, ...] = DEFAULT_THRESHOLDS
    max_quotes: int = 100
    max_events: int = 10_000
    max_crossed: int = 1_000
    screen_portfolios: bool = True

    def __post_init__(self) -> None:
        ordered = tuple(sorted({Decimal(str(t)) for t in self.thresholds}, reverse=True))
        for t in ordered:
            threshold_wad(t)  # the book's own bounds
        object.__setattr__(self, "thresholds", ordered)


@dataclass
class TickReport:
    """What one request did: its outcomes, and the alert it produced."""

    seq: int
    outcomes: list[Outcome]
    alert: dict[str, Any]
    received: float
    applied: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (amounts as ints, health as strings of the exact wad where exact)."""
        return {
            "seq": self.seq,
            "outcomes": [_outcome(o) for o in self.outcomes],
            "alert": self.alert,
        }


def _outcome(o: Outcome) -> dict[str, Any]:
    out: dict[str, Any] = {"seq": o.seq, "outcome": o.name, "accepted": o.accepted}
    if not o.accepted:
        out["reason"] = o.reason
        if o.code is not None:
            out["code"] = o.code
            out["data"] = o.data
    return out


def quote_dict(q: LiquidationQuote) -> dict[str, Any]:
    """A liquidation quote as plain data (exact ints in smallest units)."""
    out: dict[str, Any] = {"account": q.account, "debt_asset": q.debt_asset,
                           "collateral_asset": q.collateral_asset, "refusal": q.refusal}
    if q.plan is not None:
        out.update(debt_to_cover=q.debt_to_cover, debt_repaid=q.plan.debt_repaid,
                   collateral_to_liquidator=q.plan.collateral_to_liquidator,
                   protocol_fee=q.plan.protocol_fee, close_factor_bps=q.plan.close_factor_bps)
    if q.absorb is not None:
        out.update(absorb_bad_debt=q.absorb.bad_debt, absorb_new_balance=q.absorb.new_balance)
    return out


def _health(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 6)


class KnownAccounts:
    """The accounts a request may name as existing: the ledger's and the options
    clearing's (a portfolio account holding only options and options cash is not in the
    ledger)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __contains__(self, account_id: object) -> bool:
        if account_id in self.engine.ledger.accounts:
            return True
        return isinstance(account_id, str) and self.engine.is_portfolio_account(account_id)


def memoized(valuation: Valuation) -> Valuation:
    """``valuation`` with its portfolio evaluation memoized per account: every rule that
    reads a portfolio account's margin from it (health, is_below, margin, liquidation)
    shares one evaluation of the protocol's portfolio rule (the valuation is of one state
    and one set of prices, so the evaluation cannot change while it is read)."""
    if valuation.portfolio is None:
        return valuation
    return replace(valuation, portfolio=functools.lru_cache(maxsize=None)(valuation.portfolio))


def screen_decisions(result: ScreenResult, thresholds_wad: Sequence[int] = ()
                     ) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_],
                                IntArray, NDArray[np.bool_]]:
    """What a portfolio screen's float figures settle, each account: ``(sure, no_req,
    has_req, level, liquidatable)``. ``sure``: the screen's error bound leaves no doubt
    about the requirement's sign, the level (thresholds, wad) and liquidatability, which
    are then the exact rule's; elsewhere the exact rule decides. The exact rule: below a
    threshold ``t`` iff ``value < t x requirement`` (health rounds down), liquidatable
    iff ``value < requirement`` with a requirement."""
    value, req, err = result.value, result.requirement, result.error
    # A requirement surely zero or surely positive; else the exact rule decides.
    no_req = req < -err
    has_req = req > err
    sure = no_req | has_req
    level = np.zeros(len(value), dtype=np.int64)
    for t_wad in thresholds_wad:
        t = t_wad / WAD
        gap = value - t * req
        sure &= no_req | (np.abs(gap) > err * (1.0 + t))
        level += has_req & (gap < 0)
    gap = value - req
    sure &= no_req | (np.abs(gap) > 2.0 * err)
    return sure, no_req, has_req, level, has_req & (gap < 0)


def internal(account_id: str) -> bool:
    """Whether ``account_id`` is one of the tool's own accounts
    (:data:`~marginengine.ledger.book_file.RESERVED_ACCOUNTS`: ``_book``, the other side
    of a snapshot book's option positions; ``_liquidity``, the lending book's supply).
    They are not the book's: in no count, list, alert or metric of the service (no
    request may name them, so nobody could act on an alert about them); ``GET
    /accounts/{id}`` still reads them, marked ``internal``."""
    return account_id in RESERVED_ACCOUNTS


def portfolio_accounts(engine: Engine) -> set[str]:
    """Every account in portfolio mode (options or options cash; ``StateReads.
    is_portfolio_account``) but the tool's own (:func:`internal`); empty without
    ``[protocol.options]``."""
    clearing = engine.state.options
    if clearing is None:
        return set()
    return {a for a in (*clearing.cash, *clearing.positions)
            if not internal(a) and engine.is_portfolio_account(a)}


@dataclass(frozen=True)
class PortfolioFigures:
    """One portfolio account as the engine's one margin interface decides it now.

    ``health`` is the maintenance health (wad); ``value`` and ``requirement`` the
    maintenance state in base-currency units (8 decimals); ``level`` the thresholds the
    health is below and ``liquidatable`` the engine's rule (each through
    :class:`~marginengine.margin.AccountMarginModel`). ``unpriced`` names what the
    margin cannot be computed without (a missing price or vol surface); then nothing
    else is set.

    ``exact``: whether ``health``, ``value`` and ``requirement`` are the margin
    interface's exact figures; ``False`` when the account was decided by the float
    screen (``scan.portfolio_screens``), far enough from every threshold that ``level``
    and ``liquidatable`` are the exact rule's, its figures the screen's floats (within
    the screen's error bound of the exact ones; :meth:`PortfolioWatch.exact` computes
    the exact figures on demand).
    """

    health: int = NO_DEBT_HEALTH
    value: int = 0
    requirement: int = 0
    level: int = 0
    liquidatable: bool = False
    unpriced: str | None = None
    exact: bool = True

    @property
    def health_float(self) -> float:
        """The health as a float (``inf`` without requirement or price): for sorting."""
        if self.unpriced is not None or self.health == NO_DEBT_HEALTH:
            return math.inf
        return self.health / WAD

    def decisions(self) -> tuple[int, bool, str | None]:
        """What the alerts decide on: ``(level, liquidatable, unpriced)``."""
        return self.level, self.liquidatable, self.unpriced


#: Events after which the portfolio screen's positions still hold (markets and time:
#: every portfolio's margin may move, no position does).
MARKET_EVENTS = (SetPrice, SetConditions, AdvanceTime, SetVolSurface, SetSviSurface)


class PortfolioWatch:
    """The alert state of the portfolio (options) accounts, decided exactly.

    The risk book mirrors the ledger (lending and perps); options live in the engine's
    options clearing and are margined by the protocol's portfolio rule (``derive-pm2``,
    ``derive-pm1``, ``derive-srm``). After each write the watch re-reads every portfolio
    account the write could have changed: those named by its events when all of them
    are account events, else all (a price, a vol surface, time or a settlement moves
    every portfolio). An exact re-read goes through the engine's margin interface, each
    account's portfolio margin computed once per pass (the engine's hook, memoized) and
    read by the model's own health, threshold and liquidation rules. An account that
    also holds lending or perps is margined by the same interface (the sum of both
    margins) and is left out of the book's float screen.

    Screen. A re-read of all accounts first screens them in one vectorized pass, by the
    float screen of the protocol's portfolio rule (:func:`~marginengine.scan.
    portfolio_screens.portfolio_screen`: PMRM_2's portfolio risk book, PMRM v1's or the
    SRM's maintenance in float, each with a conservative error bound) and reads exactly
    only the accounts whose decision the screen cannot settle: within its error bound of
    a threshold, of the liquidation line or of a zero requirement; holding lending or
    perps beside, or an add-on; without options; unpriced. The others keep the screen's
    level and liquidatability, which are then the exact rule's, and the screen's float
    figures (``PortfolioFigures.exact`` false; :meth:`exact` computes the exact ones on
    demand, as ``GET /accounts/{id}`` does).

    Cost: an exact read is one portfolio evaluation (about 1-2 ms for a PMRM_2 grid of
    33 scenarios on a small book, about 1 ms under PMRM v1 or the SRM); a screened tick
    over N accounts costs one vectorized revaluation plus the exact reads near a line
    (benchmarks/service_options.py).
    """

    def __init__(self, engine: Engine, thresholds_wad: Sequence[int],
                 screen: bool = True) -> None:
        self.engine = engine
        self.thresholds_wad = list(thresholds_wad)
        self.figures: dict[str, PortfolioFigures] = {}
        #: Whether all-account re-reads are screened (every portfolio rule has a screen).
        self.screening = screen and has_screen(engine)
        self._screen: PortfolioScreen | None = None
        #: Accounts read exactly in the last all-account pass (for the benchmark's count).
        self.last_exact = 0
        self.update(None)

    @staticmethod
    def touched(events: Sequence[Event]) -> set[str] | None:
        """The accounts ``events`` can change the portfolio margin of (``None``: any)."""
        named: set[str] = set()
        for event in events:
            if not isinstance(event, PORTFOLIO_LOCAL):
                return None
            named.update(getattr(event, f) for f in NAMING_FIELDS if hasattr(event, f))
        return named

    def update(self, events: Sequence[Event] | None
               ) -> list[tuple[str, PortfolioFigures | None, PortfolioFigures]]:
        """Re-read the accounts ``events`` touched (``None``: every one); return the
        ``(account, before, after)`` of each re-read whose decisions (level,
        liquidatable, unpriced) changed or that is new (``before`` ``None``)."""
        engine = self.engine
        now = portfolio_accounts(engine)
        for gone in set(self.figures) - now:
            del self.figures[gone]
        if events is None or not all(isinstance(e, MARKET_EVENTS) for e in events):
            self._screen = None  # positions may have moved: rebuilt at the next screen
        touched = None if events is None else self.touched(events)
        if touched is None and self.screening:
            return self._screen_all(now)
        todo = sorted(now if touched is None else
                      (now & touched) | (now - set(self.figures)))
        return self._exact_pass(todo)

    def _exact_pass(self, todo: Sequence[str]
                    ) -> list[tuple[str, PortfolioFigures | None, PortfolioFigures]]:
        out: list[tuple[str, PortfolioFigures | None, PortfolioFigures]] = []
        if not todo:
            return out
        valuation = self._valuation()
        for a in todo:
            before = self.figures.get(a)
            after = self._read(valuation, a)
            self.figures[a] = after
            if before is None or before.decisions() != after.decisions():
                out.append((a, before, after))
        return out

    def _valuation(self) -> Valuation:
        # One portfolio evaluation per account per pass, read by every rule below.
        return memoized(self.engine.valuation())

    def _read(self, valuation: Valuation, a: str) -> PortfolioFigures:
        """One account exactly, through the engine's margin interface."""
        missing = self._unpriced(a)
        if missing is not None:
            return PortfolioFigures(unpriced=missing)
        model, ledger = self.engine.margin_model, self.engine.ledger
        state = model.margin(ledger, valuation, a, MarginKind.MAINTENANCE)
        level = sum(model.is_below(ledger, valuation, a, t) for t in self.thresholds_wad)
        return PortfolioFigures(model.health(ledger, valuation, a), state.value,
                                state.requirement, level,
                                model.is_liquidatable(ledger, valuation, a))

    def read(self, account_id: str) -> PortfolioFigures:
        """A portfolio account's exact figures now, watched or not (kept only if watched:
        :meth:`exact`)."""
        if account_id in self.figures:
            return self.exact(account_id)
        return self._read(self._valuation(), account_id)

    def exact(self, account_id: str) -> PortfolioFigures:
        """The account's exact figures now (computed and kept if the screen decided it).

        Raises
        ------
        KeyError
            Not a watched portfolio account.
        """
        figures = self.figures[account_id]
        if figures.exact:
            return figures
        exact = self._read(self._valuation(), account_id)
        if exact.decisions() != figures.decisions():
            raise InvariantViolation(f"{account_id}: the screen decided {figures.decisions()}"
                                     f", the exact rule {exact.decisions()}")
        self.figures[account_id] = exact
        return exact

    def screenable(self, now: set[str]) -> set[str]:
        """Accounts the screen can decide: options on one priced underlying with every
        held expiry's surface, no ledger account (lending or perps beside), no add-on."""
        engine = self.engine
        clearing = engine.state.options
        opts = engine.config.options
        if clearing is None or opts is None or opts.quote not in engine.prices:
            return set()
        state = engine.state
        ledger, addons = engine.ledger.accounts, state.addons
        ok_expiry: dict[tuple[str, int], bool] = {}
        out = set()
        for a in now:
            book = clearing.positions.get(a)
            if not book or a in ledger or addons.get(a):
                continue
            fine = True
            for s in book:
                key = (s.underlying, s.expiry)
                good = ok_expiry.get(key)
                if good is None:
                    good = ok_expiry[key] = (s.underlying in engine.prices
                                             and (key in state.vols or key in state.svi))
                fine = fine and good
            if fine and any(book.values()):
                out.add(a)
        return out

    def _screen_all(self, now: set[str]
                    ) -> list[tuple[str, PortfolioFigures | None, PortfolioFigures]]:
        """Every account: screened in one pass, read exactly where the screen cannot
        decide (see the class docstring)."""
        candidates = self.screenable(now)
        screen = self._screen
        # Rebuilt when the accounts it may decide changed (one gained an add-on, say).
        if screen is None or set(screen.accounts) != candidates:
            screen = self._screen = portfolio_screen(self.engine, candidates)
        result = screen.screen()
        value, req = result.value, result.requirement
        sure, no_req, has_req, level, liquidatable = screen_decisions(result,
                                                                      self.thresholds_wad)
        screened = np.flatnonzero(sure)
        accounts = result.accounts
        decided = {accounts[i] for i in screened.tolist()}
        exact_todo = sorted(now - decided)
        self.last_exact = len(exact_todo)
        out = self._exact_pass(exact_todo)
        with np.errstate(divide="ignore", invalid="ignore"):
            health = np.where(has_req, value / np.where(has_req, req, 1.0), 0.0)
        figures = self.figures
        for i, a, lv, liq in zip(screened.tolist(), [accounts[i] for i in screened.tolist()],
                                 level[screened].tolist(), liquidatable[screened].tolist(),
                                 strict=True):
            if a not in now:
                continue
            before = figures.get(a)
            if no_req[i]:
                after = PortfolioFigures(value=int(value[i]), exact=False)
            else:
                after = PortfolioFigures(int(health[i] * WAD), int(value[i]),
                                         math.ceil(req[i]), lv, liq, exact=False)
            figures[a] = after
            if before is None or before.decisions() != after.decisions():
                out.append((a, before, after))
        return out

    def _unpriced(self, account_id: str) -> str | None:
        """What the account's margin lacks (a price, a vol surface), else ``None``."""
        engine = self.engine
        needed = set(engine.priced_assets(account_id))
        underlying = engine.option_underlying(account_id)
        opts = engine.config.options
        if underlying is not None:
            needed.add(underlying)
        if opts is not None:
            needed.add(opts.quote)
        missing = sorted(a for a in needed if a not in engine.prices)
        if missing:
            return f"no price for {missing[0]}"
        vols = engine.missing_vols(account_id)
        if vols:
            return f"no vol surface for {vols[0].symbol}"
        return None

    @property
    def liquidatable(self) -> set[str]:
        """Portfolio accounts the engine's rule finds liquidatable now."""
        return {a for a, f in self.figures.items() if f.liquidatable}

def portfolio_below(engine: Engine, priced: Sequence[str], outcome: ScenarioOutcome,
                    surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None,
                    screen: PortfolioScreen | None = None) -> tuple[set[str], int, int]:
    """The accounts of ``priced`` (portfolio accounts with every price and surface)
    liquidatable under ``outcome``'s shocked prices (and ``surfaces``), with their
    maintenance requirement and value there (base currency, 8 decimals, summed), by the
    engine's rule (``scan.confirm_below``'s: the margin interface's ``is_below``, options
    revalued at the shocked spot of their underlying). With ``screen``
    (:meth:`PortfolioRead.screen`), the accounts it covers are screened at those prices
    first, as the watch screens a tick (:func:`screen_decisions`), and read exactly only
    where its error bound leaves doubt; the totals are the exact figures of the accounts
    liquidatable."""
    table = {**engine.prices, **outcome.prices}
    marks = {**engine.margin_prices(), **outcome.marks} if outcome.marks else None
    # One valuation whose portfolio evaluation is memoized, so each account's grid is
    # evaluated once here (is_below reads value and requirement; the totals below
    # read them again): the exact-read bound of benchmarks/heatmap.py.
    valuation = memoized(engine.valuation(table, marks, surfaces))
    model, ledger = engine.margin_model, engine.ledger
    below: set[str] = set()
    todo: Sequence[str] = priced
    if screen is not None:
        result = screen.screen(prices=table, surfaces=surfaces)
        sure, _, _, _, liquidatable = screen_decisions(result)
        decided = {a: bool(liq) for a, ok, liq in zip(
            result.accounts, sure.tolist(), liquidatable.tolist(), strict=True) if ok}
        below = {a for a, liq in decided.items() if liq}
        todo = [a for a in priced if a not in decided]
    below |= {a for a in todo if model.is_below(ledger, valuation, a, WAD)}
    # A portfolio account in the totals by its whole maintenance state at the shocked
    # prices (the margin interface's value and requirement, base currency), as
    # /at-risk shows it: requirement as debt, value as collateral.
    requirement = value = 0
    for a in sorted(below):
        state = model.margin(ledger, valuation, a, MarginKind.MAINTENANCE)
        requirement += state.requirement
        value += state.value
    return below, requirement, value


@dataclass(frozen=True)
class PortfolioRead:
    """The portfolio accounts as a what-if reads them, taken at one state.

    Attributes
    ----------
    engine
        The engine read: the live one, or an :meth:`Engine.copy
        <marginengine.engine.Engine.copy>` of the portfolio accounts (then reading
        it is safe in another thread while the live engine applies events).
    priced
        The watched portfolio accounts with every price and surface, sorted.
    screenable
        Those the float screen may decide (:meth:`PortfolioWatch.screenable`; empty
        where the watch does not screen).
    watched
        How many portfolio accounts are watched.
    """

    engine: Engine
    priced: tuple[str, ...]
    screenable: frozenset[str]
    watched: int

    def screen(self) -> PortfolioScreen | None:
        """A screen of :attr:`screenable` for shocked prices (its market is moved; the
        watch's own is not), or ``None`` (nothing to screen)."""
        if not self.screenable:
            return None
        return portfolio_screen(self.engine, self.screenable)

    def below(self, outcome: ScenarioOutcome,
              surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None,
              screen: PortfolioScreen | None = None) -> tuple[set[str], int, int]:
        """:func:`portfolio_below` of :attr:`priced` on :attr:`engine`."""
        return portfolio_below(self.engine, self.priced, outcome, surfaces, screen)


@dataclass(frozen=True)
class HeatmapRead:
    """A heatmap read at one state (:meth:`Service.heatmap_read`): the book's levels,
    computed; the portfolio accounts' part, computed by :meth:`run`, which reads only
    these fields (``seq``: the engine's event count at the read)."""

    seq: int
    asset: str
    price: int
    levels: tuple[tuple[Decimal, ScenarioOutcome], ...]
    portfolio: PortfolioRead | None

    def run(self) -> dict[str, Any]:
        """The heatmap (:meth:`Service.heatmap`'s answer)."""
        pr = self.portfolio
        # One screen for every level: each level screened in one vector pass, the
        # accounts near the line there read exactly.
        screen = pr.screen() if pr is not None else None
        levels = []
        for d, o in self.levels:
            accounts, debt, collateral, shortfall = o.accounts, o.debt, o.collateral, \
                o.shortfall
            part: dict[str, Any] = {}
            if pr is not None:
                below, requirement, value = pr.below(o, screen=screen)
                accounts += len(below)
                debt += requirement / PRICE_UNIT
                collateral += value / PRICE_UNIT
                shortfall += (requirement - value) / PRICE_UNIT
                part = {"portfolio": {"accounts": len(below),
                                      "requirement": round(requirement / PRICE_UNIT, 2),
                                      "value": round(value / PRICE_UNIT, 2)}}
            levels.append({"drop": float(d),
                           "price": next(iter(o.prices.values()), self.price) / PRICE_UNIT,
                           "accounts": accounts, "debt": round(debt, 2),
                           "collateral": round(collateral, 2),
                           "shortfall": round(shortfall, 2), **part})
        return {"asset": self.asset, "price": self.price / PRICE_UNIT, "levels": levels}


@dataclass(frozen=True)
class WhatIfRead:
    """A what-if read at one state (:meth:`Service.whatif_read`): the book's outcome,
    computed; the portfolio accounts', computed by :meth:`run`, which reads only these
    fields. ``liquidatable_now``: the portfolio accounts liquidatable at the read;
    ``book_liquidatable``: whether ``account`` (a book account) is liquidatable under
    the shocks (``None``: no account asked, or a portfolio account)."""

    seq: int
    outcome: ScenarioOutcome
    surfaces: dict[tuple[str, int], tuple[int, int]] | None
    portfolio: PortfolioRead | None
    liquidatable_now: frozenset[str]
    account: str | None
    book_liquidatable: bool | None

    def run(self) -> dict[str, Any]:
        """The what-if (:meth:`Service.whatif`'s answer)."""
        outcome, surfaces, pr = self.outcome, self.surfaces, self.portfolio
        count = outcome.accounts
        debt, collateral, shortfall = outcome.debt, outcome.collateral, outcome.shortfall
        below_ids: set[str] = set()
        pf_debt = pf_value = 0
        if pr is not None:
            below_ids, pf_debt, pf_value = pr.below(outcome, surfaces, pr.screen())
            count += len(below_ids)
            debt += pf_debt / PRICE_UNIT
            collateral += pf_value / PRICE_UNIT
            shortfall += (pf_debt - pf_value) / PRICE_UNIT
        out: dict[str, Any] = {
            "shocks": {a: str(f) for a, f in outcome.shocks.items()},
            "prices": {a: p / PRICE_UNIT for a, p in outcome.prices.items()},
            **({"vols": {f"{u}-{t}": {"vol_ppm": v, "skew_ppm": k}
                         for (u, t), (v, k) in sorted(surfaces.items())}}
               if surfaces else {}),
            "liquidatable": count,
            "debt": debt,
            "collateral": collateral,
            "shortfall": shortfall,
        }
        if pr is not None:
            now = self.liquidatable_now
            out["portfolio"] = {"accounts": pr.watched, "liquidatable": len(below_ids),
                                "requirement": pf_debt / PRICE_UNIT,
                                "value": pf_value / PRICE_UNIT,
                                "new": sorted(below_ids - now),
                                "recovered": sorted(now - below_ids)}
        if self.account is not None:
            liquidatable = (self.book_liquidatable if self.book_liquidatable is not None
                            else self.account in below_ids)
            out["account"] = {"account": self.account, "liquidatable": liquidatable}
        return out


@dataclass
class Counters:
    """Running totals for /metrics."""

    ticks: int = 0
    requests: int = 0
    events_accepted: int = 0
    events_refused: int = 0
    alerts: int = 0
    latencies: list[float] = field(default_factory=list)


class Service:
    """The engine, its risk book and the alert state of a live book.

    Parameters
    ----------
    engine
        The engine (with its log, if any; its state is the log's replay).
    settings
        Thresholds and limits.
    """

    def __init__(self, engine: Engine, settings: Settings | None = None) -> None:
        self.engine = engine
        # GET /state hashes after ticks that move few accounts: reuse the others' JSON.
        engine.ledger.reuse_hash_pieces()
        self.config = engine.config
        self.settings = settings or Settings()
        self.thresholds = self.settings.thresholds
        self._t_wad = [threshold_wad(t) for t in self.thresholds]
        self._t_float = np.array([float(t) for t in self.thresholds])
        self.book = RiskBook.from_engine(engine, subscribe=True)
        self.book.full_scan(1)
        self.known = KnownAccounts(engine)
        self.portfolios = PortfolioWatch(engine, self._t_wad, self.settings.screen_portfolios)
        self.counters = Counters()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.last_alert: dict[str, Any] = {}
        self.tick_no = 0
        self.resync = False
        self.log_failure: str | None = None
        self._layouts = self.book.layouts
        self._row_level: NDArray[np.int64] = np.zeros(self.book.n_accounts, dtype=np.int64)
        self._snapshot: tuple[list[str], NDArray[np.int64]] | None = None
        self._levels(initial=True)

    # ------------------------------------------------------------------ writes
    def apply(self, events: Sequence[Event], received: float | None = None,
              ticks: int = 1) -> TickReport:
        """Apply ``events`` as one batch (one log commit), then the alert pass; push it."""
        start = time.perf_counter() if received is None else received
        if self.log_failure is not None:
            raise LogError(f"writes are refused since the log failed: {self.log_failure}")
        self._snapshot = self._snapshot_if_relayout(events)
        try:
            with self.engine.batch():
                outcomes = [self.engine.apply(e) for e in events]
        except LogError as exc:
            # Applied but perhaps not durable: refuse every write from now on, so nothing
            # more is acknowledged that a replay of the log would not reproduce.
            self.log_failure = str(exc)
            raise
        except Exception as exc:
            # A bug (an invariant violation, say): the events before it were applied and
            # logged, so the request is neither whole nor refused. Stop taking writes.
            self.log_failure = (f"an event failed unexpectedly ({type(exc).__name__}: "
                                f"{exc}); the events before it in the request were applied")
            raise LogError(f"writes are refused from now on: {self.log_failure}") from exc
        applied = time.perf_counter()
        self.counters.requests += 1
        self.counters.ticks += ticks
        for o in outcomes:
            if o.accepted:
                self.counters.events_accepted += 1
            else:
                self.counters.events_refused += 1
        alert = self._alert_pass(events)
        report = TickReport(self.engine.seq, outcomes, alert, start, applied)
        self.last_alert = alert
        # Tick-to-alert: from the write's arrival to its alert, ready to push.
        latency = time.perf_counter() - start
        alert["latency_ms"] = round(latency * 1000, 3)
        self.counters.latencies.append(latency)
        for listener in list(self.listeners):
            listener(alert)
        return report

    # ------------------------------------------------------------------ alerts
    @property
    def level(self) -> dict[str, int]:
        """Every account below at least one threshold, with its level (built on demand):
        the book's accounts and the portfolio accounts."""
        arr = self._row_level[: self.book.n_accounts]
        rows = np.flatnonzero(arr > 0)
        out = dict(zip(self.book.accounts.ids(rows), arr[rows].tolist(), strict=True))
        out.update((a, f.level) for a, f in self.portfolios.figures.items() if f.level)
        return out

    def level_of(self, account_id: str) -> int:
        """One account's level (0: above every threshold)."""
        figures = self.portfolios.figures.get(account_id)
        if figures is not None:
            return figures.level
        row = self.book.accounts.row(account_id)
        return 0 if row is None or row >= len(self._row_level) else int(self._row_level[row])

    def counts_below(self) -> list[int]:
        """Accounts below each threshold, highest threshold first."""
        arr = self._row_level[: self.book.n_accounts]
        levels = [f.level for f in self.portfolios.figures.values()]
        return [int(np.count_nonzero(arr > i)) + sum(lv > i for lv in levels)
                for i in range(len(self.thresholds))]

    def _portfolio_rows(self) -> IntArray:
        """Book rows of portfolio accounts that also hold lending or perps (decided by the
        portfolio watch, whose margin adds both; the book's screen sees only the ledger)."""
        book = self.book.accounts
        rows = [book.row(a) for a in self.portfolios.figures]
        return np.array(sorted(r for r in rows if r is not None), dtype=np.int64)

    def _snapshot_if_relayout(self, events: Sequence[Event]
                              ) -> tuple[list[str], NDArray[np.int64]] | None:
        """The ids and levels of the accounts with a level, if the events could make the
        book regroup its rows (which renumbers them); ``None`` when they cannot.

        Levels are kept by row, so a regrouping must be mapped back through the ids. The
        book regroups when a side's overflow and explicit zeros pass an eighth of its base
        (``SideMatrix.needs_layout``); an event of :data:`FEW_ACCOUNTS` changes at most two
        accounts, each at most one entry per market and side, so far from that limit no
        snapshot is needed (the common case: price ticks change no account at all).
        """
        touching = 0
        for event in events:
            if isinstance(event, QUIET):
                continue
            if not isinstance(event, FEW_ACCOUNTS):
                touching = -1
                break
            touching += 1
        if touching == 0:
            return None
        if touching > 0:
            bound = 4 * touching * len(self.book.assets)
            sides = (self.book.collateral, self.book.debt)
            if all(max(MIN_LAYOUT_SLOTS, int(side.indptr[-1]) // 8) - side.overflow
                   - side.zeros > bound for side in sides):
                return None
        arr = self._row_level[: self.book.n_accounts]
        rows = np.flatnonzero(arr > 0)
        return self.book.accounts.ids(rows), arr[rows].copy()

    def _row_levels(self, n: int) -> tuple[NDArray[np.int64], bool]:
        """The previous levels by row of the book's current layout, and whether they had to
        be started afresh (the book regrouped its rows without a snapshot: then no
        crossing is reported for this tick and the alert says ``resync``)."""
        book = self.book
        fresh = False
        if self._layouts != book.layouts:
            self._row_level = np.zeros(n, dtype=np.int64)
            if self._snapshot is not None:
                ids, levels = self._snapshot
                self._row_level[book.accounts.rows(ids)] = levels
            else:
                fresh = True
            self._layouts = book.layouts
        elif len(self._row_level) < n:
            grown = np.zeros(n, dtype=np.int64)
            grown[: len(self._row_level)] = self._row_level
            self._row_level = grown
        self._snapshot = None
        return self._row_level[:n], fresh  # a view: updated in place

    def _levels(self, initial: bool = False) -> _Crossed:
        """The accounts whose level changed (all counted, ``max_crossed`` listed).

        Only rows that can have a level (float health below the highest threshold, plus
        the rounding band) or had one are looked at, so the work beyond the book's health
        vector is proportional to the accounts near or below the thresholds.
        """
        book = self.book
        h = book.health()
        n = len(h)
        before, fresh = self._row_levels(n)
        self.resync = fresh
        top = float(self._t_float[0]) * (1 + EXACT_BAND)
        mask = before > 0
        mask |= h < top
        perp = np.array(sorted(book.perp_rows()), dtype=np.int64)
        if len(perp):
            mask[perp] = True
        mixed = self._portfolio_rows()
        if len(mixed):
            mask[mixed] = False
            before[mixed] = 0  # their level is the portfolio watch's
        rows = np.flatnonzero(mask)
        hr = h[rows]
        lvl = np.zeros(len(rows), dtype=np.int64)
        near = np.zeros(len(rows), dtype=bool)
        for t in self._t_float:
            lvl += hr < t
            # Within EXACT_BAND of a threshold the float health does not decide.
            near |= (hr < t * (1 + EXACT_BAND)) != (hr < t * (1 - EXACT_BAND))
        if len(perp):
            near |= np.isin(rows, perp)
        exact_at = np.flatnonzero(near)
        if len(exact_at):
            ids = book.accounts.ids(rows[exact_at])
            exact = np.zeros(len(exact_at), dtype=np.int64)
            for t_wad in self._t_wad:
                exact += np.asarray(confirm_below(self.engine, ids, t_wad), dtype=np.int64)
            lvl[exact_at] = exact
        moved = np.flatnonzero(lvl != before[rows])
        changed_rows = rows[moved]
        old_levels = before[changed_rows].copy()
        before[rows] = lvl
        if initial or fresh:
            return _Crossed(0, [])
        # Listed: the deepest first (highest level, then lowest health); all are counted.
        order = np.lexsort((hr[moved], -lvl[moved]))[: self.settings.max_crossed]
        listed = [
            (account_id, int(b), int(a), float(value))
            for account_id, b, a, value in zip(
                book.accounts.ids(changed_rows[order]), old_levels[order].tolist(),
                lvl[moved][order].tolist(), hr[moved][order].tolist(), strict=True)
        ]
        return _Crossed(len(moved), listed)

    def _alert_pass(self, events: Sequence[Event] = ()) -> dict[str, Any]:
        scan = self.book.incremental_scan(1)
        changes = self.portfolios.update(events)
        crossed = self._levels()
        ids = self.book.accounts
        portfolio = self.portfolios.figures
        newly_rows, count = scan.newly_below, scan.below_count
        recovered = ids.ids(scan.recovered)
        if portfolio:
            # Accounts holding options and lending are the portfolio watch's (below).
            mixed = self._portfolio_rows()
            newly_rows = newly_rows[~np.isin(newly_rows, mixed)]
            recovered = [a for a in recovered if a not in portfolio]
            count -= int(np.count_nonzero(np.isin(self.book.below_rows(), mixed)))
        newly = ids.ids(newly_rows)
        self.tick_no += 1
        quotes = self._quotes(newly_rows)
        listed = list(crossed.listed)
        crossed_count = crossed.count
        if not self.resync:
            for a, before, after in changes:
                was = before.level if before is not None else 0
                if after.level != was:
                    crossed_count += 1
                    listed.append((a, was, after.level, after.health_float))
                was_liq = before is not None and before.liquidatable
                if after.liquidatable and not was_liq:
                    newly.append(a)
                    quotes.append(self._portfolio_quote(a))
                elif was_liq and not after.liquidatable:
                    recovered.append(a)
            listed.sort(key=lambda x: (-x[2], x[3]))
            del listed[self.settings.max_crossed:]
        count += len(self.portfolios.liquidatable)
        names = [str(t) for t in self.thresholds]
        alert = {
            "type": "tick",
            "tick": self.tick_no,
            "seq": self.engine.seq,
            "prices": {a: p / PRICE_UNIT for a, p in sorted(self.engine.prices.items())},
            "crossed_count": crossed_count,
            "crossed": [
                {"account": a, "health": _health(h), "from_level": b, "to_level": lv,
                 "below": names[:lv], "direction": "down" if lv > b else "up"}
                for a, b, lv, h in listed
            ],
            "liquidatable": {"count": count, "new": sorted(newly),
                             "recovered": sorted(recovered), "quotes": quotes},
        }
        if self.resync:
            alert["resync"] = True  # levels restarted: clients resync with GET /levels
        if crossed_count or newly:
            self.counters.alerts += 1
        return alert

    def _portfolio_quote(self, account_id: str) -> dict[str, Any]:
        """What liquidates a portfolio account: Derive's portfolio auction, started by a
        ``StartPortfolioAuction`` (solvent while the mark-to-market is positive), with
        the engine's exact figures (options quote smallest units, rounded down).

        An account holding expired series that can be settled now
        (:meth:`~marginengine.engine.state.StateReads.settleable_series`) is quoted
        ``SettleOption`` first (``mechanism: "settlement"``, the series in ``settle``,
        each as the event's fields): settling books what they owe as cash and ends the
        option contingencies PMRM_2 still charges an expired short (Derive's
        _addOptionContingency reads every expiry held), so it may restore the account
        without an auction; Derive's managers settle through settleOptions
        (BaseManager._settleAccountOptions), open to anyone. ``then`` names the auction
        event to read again after, if it is still below."""
        units = self.engine.portfolio_margin_units(account_id)
        running = self.engine.portfolio_auction(account_id)
        # Under auction already: what remains is to bid (or terminate once restored).
        auction = "StartPortfolioAuction" if running is None else "BidPortfolioAuction"
        settle = self.engine.settleable_series(account_id)
        out: dict[str, Any] = {"account": account_id, "mechanism": "portfolio_auction",
                               "event": auction}
        if settle:
            out.update(mechanism="settlement", event="SettleOption", then=auction,
                       settle=[{"underlying": s.underlying, "expiry": s.expiry,
                                "strike": s.strike, "is_call": s.is_call} for s in settle])
        if units is not None:
            out.update(maintenance_margin=units[0], mtm=units[1])
        out["auction"] = None if running is None else {
            "id": running.id, "insolvent": running.insolvent, "start_time": running.start_time}
        return out

    def _quotes(self, rows: IntArray) -> list[dict[str, Any]]:
        if not len(rows) or not self.settings.max_quotes:
            return []
        debt = self.book.account_values(rows)["debt"]
        order = np.argsort(-debt, kind="stable")[: self.settings.max_quotes]
        return [quote_dict(self.engine.liquidation_quote(a))
                for a in self.book.accounts.ids(rows[order])]

    # ------------------------------------------------------------------ reads
    def liquidatable(self) -> list[str]:
        """Every liquidatable account (the book's last exact scan and the portfolio
        watch's exact pass), sorted."""
        portfolio = self.portfolios.figures
        if not portfolio:
            return self.book.below_accounts()
        return sorted({a for a in self.book.below_accounts() if a not in portfolio}
                      | self.portfolios.liquidatable)

    def liquidatable_count(self) -> int:
        """How many accounts :meth:`liquidatable` lists (without listing them when no
        portfolio account is watched)."""
        if self.portfolios.figures:
            return len(self.liquidatable())
        return int(self.book.below_rows().size)

    def account_count(self) -> int:
        """Accounts: the ledger's and the portfolio accounts outside it, but the tool's
        own (:func:`internal`)."""
        ledger = self.engine.ledger.accounts
        return (len(ledger) - sum(a in ledger for a in RESERVED_ACCOUNTS)
                + sum(a not in ledger for a in self.portfolios.figures))

    def _internal_rows(self) -> IntArray:
        """Book rows of the tool's own accounts (``_liquidity``: it only supplies, so no
        health, level or liquidation of the book's ever names it; left out of counts)."""
        book = self.book.accounts
        rows = [book.row(a) for a in RESERVED_ACCOUNTS]
        return np.array(sorted(r for r in rows if r is not None), dtype=np.int64)

    def account(self, account_id: str) -> dict[str, Any] | None:
        """One account's exact figures, its level and, if liquidatable, its best quote."""
        ledger = self.engine.ledger
        if account_id in self.portfolios.figures or (
                internal(account_id) and self.engine.is_portfolio_account(account_id)):
            return self.portfolio_account(account_id)
        account = ledger.accounts.get(account_id)
        if account is None:
            return None
        data = self.engine.account_data(account_id)
        hf = self.engine.health_factor(account_id)
        liquidatable = self.engine.is_liquidatable(account_id)
        positions = {
            asset: {"supplied": ledger.supply_of(account_id, asset),
                    "borrowed": ledger.debt_of(account_id, asset)}
            for asset in sorted(account.lending)
        }
        out: dict[str, Any] = {
            "account": account_id,
            **self._internal_note(account_id),
            "positions": positions,
            "total_collateral": data.total_collateral,
            "total_debt": data.total_debt,
            "health_factor_wad": hf if data.total_debt or self.engine.has_perps(account_id)
            else None,
            "health": None if not data.total_debt and not self.engine.has_perps(account_id)
            else hf / WAD,
            "level": self.level_of(account_id),
            "liquidatable": liquidatable,
        }
        if liquidatable:
            out["quote"] = quote_dict(self.engine.liquidation_quote(account_id))
        return out

    @staticmethod
    def _internal_note(account_id: str) -> dict[str, str]:
        # What a read of one of the tool's own accounts says it is.
        if not internal(account_id):
            return {}
        return {"internal": f"{RESERVED_ACCOUNTS[account_id]}; not in the service's "
                            f"counts, lists or alerts"}

    def portfolio_account(self, account_id: str) -> dict[str, Any]:
        """A portfolio account: its options (series, size in size units), options cash
        (quote smallest units), the protocol's portfolio rule's mark-to-market, initial
        and maintenance margin (Derive's sign: >= 0 met; quote smallest units, rounded
        down, as the engine decides auctions on them), the worst scenario, and its
        maintenance health, level and liquidatability through the one margin interface;
        a lending or perp part beside (``positions``) adds to the same margin."""
        engine = self.engine
        clearing = engine.state.options
        opts = engine.config.options
        assert clearing is not None and opts is not None
        # Exact on read: a screened account's figures are computed now (same state).
        figures = self.portfolios.read(account_id)
        ledger_account = engine.ledger.accounts.get(account_id)
        out: dict[str, Any] = {
            "account": account_id,
            **self._internal_note(account_id),
            "mode": "portfolio",
            "rule": None,
            "underlying": engine.option_underlying(account_id),
            "quote_asset": opts.quote,
            "cash": clearing.cash.get(account_id, 0),
            "options": [
                {"series": series.symbol, "underlying": series.underlying,
                 "expiry": series.expiry, "strike": series.strike,
                 "is_call": series.is_call, "size": size}
                for series, size in sorted(clearing.positions.get(account_id, {}).items())
                if size
            ],
        }
        if ledger_account is not None:
            out["positions"] = {
                asset: {"supplied": engine.ledger.supply_of(account_id, asset),
                        "borrowed": engine.ledger.debt_of(account_id, asset)}
                for asset in sorted(ledger_account.lending)}
        if figures.unpriced is not None:
            out.update(unpriced=figures.unpriced, health=None, health_factor_wad=None,
                       level=0, liquidatable=False)
            return out
        pm = engine.portfolio_margin(account_id)
        assert pm is not None
        unit = engine.config.markets[opts.quote].unit

        def units(x: Fraction) -> int:
            # Rounded down, never overstated (as StateReads.portfolio_margin_units).
            return math.floor(x * unit)

        worst = None
        if pm.worst_scenario is not None:
            cfg = engine.state.portfolio_config
            assert cfg is not None
            shock, vol, damp = scenario_rows(cfg)[pm.worst_scenario]
            worst = {"index": pm.worst_scenario, "spot_shock": shock, "vol_shock": vol,
                     "dampening": damp, "pnl": float(pm.scenario_pnl[pm.worst_scenario])}
        has_requirement = figures.health != NO_DEBT_HEALTH
        out.update(
            rule=pm.rule,
            mtm=units(pm.fraction("mtm")),
            initial_margin=units(pm.fraction("initial")),
            maintenance_margin=units(pm.fraction("maintenance")),
            worst={"source": pm.worst_source, "value": pm.worst, "scenario": worst},
            total_value=figures.value,
            maintenance_requirement=figures.requirement,
            health_factor_wad=figures.health if has_requirement else None,
            health=figures.health / WAD if has_requirement else None,
            level=figures.level,
            liquidatable=figures.liquidatable,
        )
        running = engine.portfolio_auction(account_id)
        out["auction"] = None if running is None else {
            "id": running.id, "insolvent": running.insolvent, "start_time": running.start_time}
        if figures.liquidatable:
            out["quote"] = self._portfolio_quote(account_id)
        return out

    def whatif(self, shocks: Mapping[str, object], account_id: str | None = None,
               surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
               ) -> dict[str, Any]:
        """The book under price shocks (``{"WETH": -0.3}``): accounts liquidatable, debt at
        risk; with ``account_id``, whether that account would be (exactly).

        Portfolio accounts are confirmed one by one at the shocked prices by the engine's
        rule (``scan.confirm_below``: their options revalued at the shocked spot, each
        series at its surface's vol there, or on ``surfaces``, ``(underlying, expiry) ->
        (vol_ppm, skew_ppm)``, where given); they are counted in ``liquidatable`` and
        listed in ``portfolio``. ``debt``, ``collateral`` and ``shortfall`` are the
        lending and perp book's.

        Computed here, on the live state: :meth:`whatif_read` then ``run()`` elsewhere
        (another thread) gives the same figures."""
        return self.whatif_read(shocks, account_id, surfaces, copy=False).run()

    def whatif_read(self, shocks: Mapping[str, object], account_id: str | None = None,
                    surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None,
                    copy: bool = True) -> WhatIfRead:
        """:meth:`whatif` in two steps: the read of the state, here (the book's vectorized
        what-if, its band confirmed exactly; the portfolio accounts' state taken), then
        ``run()`` (the portfolio accounts' exact reads), which reads nothing of this
        service and so may run in a worker thread while events are applied
        (``copy``: the portfolio accounts are read from :meth:`Engine.copy
        <marginengine.engine.Engine.copy>`, else from the live engine)."""
        portfolio = self.portfolios.figures
        keep = account_id is not None or bool(portfolio)
        # Accounts holding options and lending are margined as one (the portfolio
        # watch's); the book's lending-only screen of them is left out of its count
        # and totals, so each account counts once.
        mixed = self._portfolio_rows() if portfolio else None
        outcome = evaluate(self.book, [dict(shocks)], keep_rows=keep, exclude=mixed)[0]
        book_liquidatable = None
        if account_id is not None and account_id not in portfolio:
            row = self.book.accounts.row(account_id)
            book_liquidatable = row is not None and bool(np.isin(row, outcome.rows))
        return WhatIfRead(self.engine.seq, outcome,
                          dict(surfaces) if surfaces else None,
                          self._portfolio_read(copy), frozenset(self.portfolios.liquidatable),
                          account_id, book_liquidatable)

    def _portfolio_read(self, copy: bool) -> PortfolioRead | None:
        """The portfolio accounts' part of a what-if, read now (``None``: none watched)."""
        watch = self.portfolios
        figures = watch.figures
        if not figures:
            return None
        candidates = watch.screenable(set(figures)) if watch.screening else set()
        engine = self.engine.copy(figures) if copy else self.engine
        return PortfolioRead(engine, tuple(sorted(a for a, f in figures.items()
                                                  if f.unpriced is None)),
                             frozenset(candidates), len(figures))

    def at_risk(self, limit: int = 20) -> list[dict[str, Any]]:
        """The ``limit`` accounts with the lowest health (float screen), lowest first."""
        h = self.book.health()
        portfolio = self.portfolios.figures
        mixed = self._portfolio_rows()
        if len(mixed):
            h = h.copy()
            h[mixed] = np.inf  # listed below, by the portfolio watch
        own = self._internal_rows()
        if len(own):
            h = h.copy()
            h[own] = np.inf  # the tool's own: not the book's
        finite = np.flatnonzero(np.isfinite(h))
        out: list[dict[str, Any]] = []
        if len(finite):
            k = min(limit, len(finite))
            part = finite[np.argpartition(h[finite], k - 1)[:k]]
            rows = part[np.argsort(h[part], kind="stable")]
            values = self.book.account_values(rows)
            liquidatable = set(self.book.below_accounts()) if len(rows) else set()
            out = [
                {"account": a, "health": _health(values["health"][i]),
                 "collateral": round(float(values["collateral"][i]), 2),
                 "debt": round(float(values["debt"][i]), 2),
                 "level": self.level_of(a), "liquidatable": a in liquidatable}
                for i, a in enumerate(self.book.accounts.ids(rows))
            ]
        if not portfolio:
            return out
        # Portfolio accounts: the exact health of the watch; collateral and debt are the
        # maintenance value and requirement (base currency), as the margin interface has
        # them.
        for a, f in portfolio.items():
            if math.isfinite(f.health_float):
                out.append({"account": a, "health": _health(f.health_float),
                            "collateral": round(f.value / PRICE_UNIT, 2),
                            "debt": round(f.requirement / PRICE_UNIT, 2),
                            "level": f.level, "liquidatable": f.liquidatable,
                            "mode": "portfolio"})
        out.sort(key=lambda r: (r["health"], r["account"]))
        return out[:limit]

    def heatmap(self, asset: str, steps: int = 10, max_drop: Decimal = Decimal("0.5")
                ) -> dict[str, Any]:
        """Liquidations by price level of ``asset``: for each drop from 0 to ``max_drop``,
        the accounts and debt liquidatable there (the book's exact what-if).

        Portfolio accounts (options, alone or beside lending or perps) are in every level
        as :meth:`whatif` has them at that shock: liquidatable by the engine's one margin
        interface at the shocked price (their options revalued at the shocked spot of
        their underlying, each series at its surface's vol there), counted in
        ``accounts``, their maintenance requirement in ``debt``, their maintenance value
        in ``collateral`` and the difference in ``shortfall``; ``portfolio`` gives their
        part alone. An account holding options and lending is counted once, by its whole
        margin (the book's lending-only screen of it is left out).

        Computed here, on the live state: :meth:`heatmap_read` then ``run()`` elsewhere
        (another thread) gives the same figures."""
        return self.heatmap_read(asset, steps, max_drop, copy=False).run()

    def heatmap_read(self, asset: str, steps: int = 10, max_drop: Decimal = Decimal("0.5"),
                     copy: bool = True) -> HeatmapRead:
        """:meth:`heatmap` in two steps: the read of the state, here (the book's what-if
        at every level, vectorized, its band confirmed exactly; the portfolio accounts'
        state taken: an :meth:`Engine.copy <marginengine.engine.Engine.copy>` of
        them with ``copy``, else the live engine), then ``run()``: the portfolio
        accounts' screen and exact reads at every level, the cost of a heatmap over an
        options book, over what was read only (so a worker thread may run it while
        events are applied: ``GET /heatmap``)."""
        drops = [max_drop * i / steps for i in range(steps + 1)]
        drops = [min(d, Decimal("0.999")) for d in drops]
        portfolio = bool(self.portfolios.figures)
        if portfolio:
            curve = evaluate(self.book, [{asset: -d} for d in drops],
                             exclude=self._portfolio_rows())
        else:
            curve = shock_curve(self.book, asset, drops)
        return HeatmapRead(self.engine.seq, asset, self.engine.prices.get(asset, 0),
                           tuple(zip(drops, curve, strict=True)),
                           self._portfolio_read(copy) if portfolio else None)

    def summary(self) -> dict[str, Any]:
        """Protocol totals: per asset supplied and borrowed (smallest units), bad debt and
        the insurance funds; accounts and liquidatable counts."""
        engine = self.engine
        ledger = engine.ledger
        assets = {}
        for asset, r in sorted(ledger.reserves.items()):
            assets[asset] = {
                "supplied": r.total_supply(), "borrowed": r.total_debt(),
                "bad_debt": r.bad_debt, "decimals": self.config.markets[asset].decimals,
                "price": engine.prices.get(asset, 0) / PRICE_UNIT,
            }
        insurance: dict[str, int] = {}
        if self.config.perps:
            insurance["shared"] = ledger.insurance_of(None)
            for market in sorted(self.config.perps):
                insurance[market] = ledger.insurance_of(market)
        portfolio = self.portfolios.figures
        # An account holding options and lending counts once: by the watch's exact
        # health of its whole margin, not also by the book's lending-only float health;
        # the tool's own accounts not at all.
        left_out = np.union1d(self._portfolio_rows(), self._internal_rows())
        dist = self.book.health_distribution(exclude=left_out if len(left_out) else None)
        counts, no_debt = list(dist.counts), dist.no_debt
        if portfolio:
            # Portfolio accounts in the same bins ([edges[i], edges[i+1])), by their exact
            # health; without requirement (or price) they count as no debt.
            healths = np.array([f.health_float for f in portfolio.values()])
            finite = healths[np.isfinite(healths)]
            no_debt += len(healths) - len(finite)
            at = np.searchsorted(np.asarray(dist.edges), finite, side="right") - 1
            for i in at[(at >= 0) & (at < len(counts))].tolist():
                counts[i] += 1
        out = {
            "seq": engine.seq,
            "ticks": self.counters.ticks,
            "accounts": self.account_count(),
            "liquidatable": self.liquidatable_count(),
            "at_levels": dict(zip((str(t) for t in self.thresholds), self.counts_below(),
                                  strict=True)),
            "assets": assets,
            "bad_debt_usd": engine.bad_debt_value() / PRICE_UNIT,
            "insurance": insurance,
            "health_distribution": {"edges": [e if np.isfinite(e) else None
                                              for e in dist.edges],
                                    "counts": counts, "no_debt": no_debt},
            "thresholds": [str(t) for t in self.thresholds],
        }
        clearing = engine.state.options
        if clearing is not None:
            cfg = engine.state.portfolio_config
            auctions = engine.state.portfolio_auctions
            out["options"] = {
                "rule": None if cfg is None else rule_of(cfg),
                "quote_asset": self.config.options.quote if self.config.options else None,
                "accounts": len(portfolio),
                "liquidatable": len(self.portfolios.liquidatable),
                "unpriced": sorted(a for a, f in portfolio.items() if f.unpriced),
                "cash": sum(clearing.cash.values()),
                "security_module": clearing.security_module,
                "open_interest": {s.symbol: n for s, n in
                                  sorted(clearing.open_interest.items()) if n},
                "auctions": [] if auctions is None else [
                    {"account": a, "id": r.id, "insolvent": r.insolvent,
                     "start_time": r.start_time}
                    for a, r in sorted(auctions.running.items())],
                # Each expiry's surface now: ATM vol and skew (ppm), or an SVI slice.
                "vols": {f"{u}-{t}": {"underlying": u, "expiry": t, "vol_ppm": v,
                                      "skew_ppm": k}
                         for (u, t), (v, k) in sorted(engine.state.vols.items())},
                "svi": sorted(f"{u}-{t}" for u, t in engine.state.svi),
                "lowest": self._lowest_portfolios(SUMMARY_LOWEST),
            }
        return out

    def _lowest_portfolios(self, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` portfolio accounts with the lowest health (the watch's; without
        requirement or price last), lowest first, with level and liquidatability."""
        figures = self.portfolios.figures
        order = sorted(figures, key=lambda a: (figures[a].health_float, a))[:limit]
        auctions = self.engine.state.portfolio_auctions
        running = {} if auctions is None else auctions.running
        return [{"account": a, "health": _health(figures[a].health_float),
                 "level": figures[a].level, "liquidatable": figures[a].liquidatable,
                 "unpriced": figures[a].unpriced, "auction": a in running}
                for a in order]

    def shock_fraction(self, value: object, where: str) -> Decimal:
        """A shock fraction checked by the book's own rule."""
        return parse_fraction(value, where)
