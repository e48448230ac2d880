"""What the service accepts, checked by the engine's own rules before anything is applied.

A request is turned into engine events here, whole, or refused with a
:class:`RequestError` naming the field (``prices.WETH``, ``events.3.amount``) and the
reason; nothing of a refused request reaches the engine, the log or the book. The checks
are the ones the library applies to its own files: account ids by
:func:`marginengine.ledger.check_account_id`, none of them one the tool uses itself
(:data:`marginengine.ledger.book_file.RESERVED_ACCOUNTS`: ``_liquidity``, ``_book``),
assets against the protocol's markets, prices and amounts by
:func:`marginengine.config.amounts.parse_positive` (exact decimals, at most the asset's
places, positive, at most 2**256 - 1 smallest units). What only the engine can
decide with the state (a borrow beyond the borrowing power) is its refusal: logged, and
reported as the event's outcome.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Container, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from marginengine.config import ProtocolConfig
from marginengine.config.amounts import MAX_UNITS, parse_positive
from marginengine.engine import AdvanceTime, Event, SetConditions, SetPrice, event_from_dict
from marginengine.engine.events import (
    OPTION_EVENT_CLASSES,
    PORTFOLIO_AUCTION_EVENT_CLASSES,
    SetVolSurface,
)
from marginengine.errors import ConfigError, EventError, MarginEngineError, field_path
from marginengine.fixedpoint import PRICE_DECIMALS
from marginengine.ledger import check_account_id
from marginengine.ledger.book_file import RESERVED_ACCOUNTS
from marginengine.ledger.options import expired
from marginengine.oracle.conditions import CONDITION_FIELDS
from marginengine.sim.options_scenario import vol_ppm

#: Fields that name an account in some event.
ACCOUNT_FIELDS = ("account", "liquidator", "absorber", "buyer", "seller", "keeper",
                  "bidder", "source", "target")
#: Fields that name a lending market.
ASSET_FIELDS = ("asset", "debt_asset", "collateral_asset")
#: Events that may name an account the ledger (or the options clearing) does not hold yet
#: (they create it: options cash deposited, or a first option trade on either side).
CREATING = {"Deposit", "DepositQuote", "Trade", "TransferQuote", "DepositOptionCash",
            "TradeOption", "ImportAccount"}
#: Integer fields that may be zero (everything else must be positive): an option series
#: expiring at time 0 (the events' own bound: unix seconds >= 0), a premium of 0, an Aave
#: liquidation grace period of 0 (ends it, as ``disableLiquidationGracePeriod``; on a pause:
#: none), a debt ceiling of 0 (ends the isolation), e-mode
#: category 0 (none: ``setUserEMode(0)`` leaves e-mode).
MAY_BE_ZERO = {("LiquidatePerp", "size"), ("BuyCollateral", "min_amount"),
               ("SetUserEMode", "category"),
               ("SetLiquidationGracePeriod", "grace_period"),
               ("SetReservePause", "grace_period"), ("SetPoolPause", "grace_period"),
               ("SetDebtCeiling", "debt_ceiling"),
               ("TradeOption", "expiry"), ("TradeOption", "premium"),
               ("SettleOption", "expiry"), ("SetVolSurface", "expiry"),
               ("SetSviSurface", "expiry")}
#: Integer fields that are signed (their event checks their range): a smile's skew (0:
#: flat), the SVI slice's level, correlation and shift, a bid's price limit (0: none;
#: negative: minus the least an insolvent auction's bidder receives).
SIGNED = {("SetVolSurface", "skew_ppm"), ("SetSviSurface", "a_ppm"),
          ("SetSviSurface", "rho_ppm"), ("SetSviSurface", "m_ppm"),
          ("BidPortfolioAuction", "price_limit")}
#: Events only a protocol with ``[protocol.options]`` takes.
OPTIONS_ONLY = (*OPTION_EVENT_CLASSES, *PORTFOLIO_AUCTION_EVENT_CLASSES)
#: Events whose integer fields the event itself checks (market conditions: zero allowed;
#: an import's e-mode category, 0 for none, and its balances, which the engine checks).
SELF_CHECKED = {"SetConditions", "ImportAccount"}


class RequestError(MarginEngineError):
    """A request refused before anything was applied: ``field`` and ``reason``; with
    several problems, ``problems`` holds each ``(field, reason)`` (the first is
    ``field``, and ``reason`` carries the others after it, ``; field: reason``)."""

    def __init__(self, field: str, reason: str, status: int = 422,
                 problems: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.status = status
        self.problems = list(problems) or [(field, reason)]


def price_events(config: ProtocolConfig, prices: Mapping[str, object],
                 where: str = "prices", joiner: str = ".") -> list[Event]:
    """``SetPrice`` events from ``{asset: USD per whole token}`` (decimal strings or numbers),
    sorted by asset; raises :class:`RequestError` at the first bad one."""
    events: list[Event] = []
    for asset in sorted(prices):
        raw = prices[asset]
        at = f"{where}{joiner}{asset}"
        if not config.priced(asset):
            names = ", ".join(sorted({*config.markets, *config.perps}))
            raise RequestError(at, f"unknown asset (markets: {names})")
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise RequestError(at, f"must be a number or a decimal string (got "
                                   f"{type(raw).__name__})")
        problems: list[str] = []
        value = parse_positive(raw, PRICE_DECIMALS, at, problems)
        if value is None:
            field, _, reason = problems[0].partition(": ")
            raise RequestError(field, reason)
        events.append(SetPrice(asset, value))
    return events


def condition_events(config: ProtocolConfig, conditions: Mapping[str, Mapping[str, object]],
                     where: str = "conditions") -> list[Event]:
    """``SetConditions`` events from ``{asset: {volatility_ppm, depth, open_interest}}``
    (integers, as the event takes them; a field left out keeps its value), sorted by
    asset; raises :class:`RequestError` at the first bad one."""
    events: list[Event] = []
    for asset in sorted(conditions):
        at = f"{where}.{asset}"
        if not config.priced(asset):
            names = ", ".join(sorted({*config.markets, *config.perps}))
            raise RequestError(at, f"unknown asset (markets: {names})")
        fields = dict(conditions[asset])
        unknown = sorted(set(fields) - set(CONDITION_FIELDS))
        if unknown:
            raise RequestError(f"{at}.{unknown[0]}", f"unknown field (one of "
                                                     f"{', '.join(CONDITION_FIELDS)})")
        if not fields:
            raise RequestError(at, f"give at least one of {', '.join(CONDITION_FIELDS)}")
        try:
            events.append(SetConditions(asset, **fields))  # type: ignore[arg-type]
        except EventError as exc:
            field, _, reason = str(exc).partition(": ")
            raise RequestError(f"{at}.{field.partition('.')[2]}", reason) from None
    return events


def vol_events(config: ProtocolConfig, surfaces: Mapping[tuple[str, int], tuple[int, int]],
               svi: Iterable[tuple[str, int]], vols: Mapping[str, object],
               where: str = "vols", now: int | None = None) -> list[Event]:
    """A vol tick, ``{underlying: ATM vol}`` (a fraction: ``0.8`` is 80%), as one
    ``SetVolSurface`` per expiry of the underlying with a surface now, each keeping its
    skew (as a simulator step's ``vols``); raises :class:`RequestError` at the first bad
    one. An expiry given as an SVI slice has no ATM vol to replace: send
    ``SetSviSurface`` events instead. With ``now`` (the engine's time when the events
    apply), the expiries passed then are left out (:func:`vol_fanout`)."""
    events: list[Event] = []
    for underlying in sorted(vols):
        at = f"{where}.{underlying}"
        if config.options is None:
            raise RequestError(at, "the protocol has no options (add [protocol.options] "
                                   "to the configuration)")
        if not config.priced(underlying):
            names = ", ".join(sorted({*config.markets, *config.perps}))
            raise RequestError(at, f"unknown asset (markets: {names})")
        raw = vols[underlying]
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise RequestError(at, f"must be a number or a decimal string (got "
                                   f"{type(raw).__name__})")
        problems: list[str] = []
        atm = vol_ppm(raw, at, problems)
        if atm is None:
            raise RequestError(at, problems[0].partition(": ")[2])
        expiries = sorted(t for (u, t) in surfaces if u == underlying)
        if any(u == underlying for (u, _) in svi):
            raise RequestError(at, f"{underlying} has SVI slices (send SetSviSurface "
                                   f"events for them)")
        if not expiries:
            raise RequestError(at, f"no vol surface on {underlying} yet (send "
                                   f"SetVolSurface events first)")
        events += vol_fanout(surfaces, underlying, atm, now)
    return events


def vol_fanout(surfaces: Mapping[tuple[str, int], tuple[int, int]], underlying: str,
               atm_ppm: int, now: int | None = None) -> list[Event]:
    """One vol tick of ``underlying`` (ATM vol, ppm) as one ``SetVolSurface`` per expiry
    of it in ``surfaces``, by expiry, each keeping its skew; with ``now`` (the engine's
    time when they apply) only the expiries still open then
    (:func:`marginengine.ledger.options.expired`: the engine refuses a surface for an
    expiry passed, its series settle). Every vol tick is read by this: ``POST /ticks``'
    and a batch's ``vols``, a replay's, a price file's ``vol.X`` cells."""
    return [SetVolSurface(underlying, t, atm_ppm, skew)
            for (u, t), (_, skew) in sorted(surfaces.items())
            if u == underlying and (now is None or not expired(t, now))]


def advanced(now: int, events: Iterable[Event]) -> int:
    """The engine's time after ``events`` applied from ``now``: every ``AdvanceTime``
    among them counted (a tick's ``advance_seconds``, one posted among its events), so
    each tick of a batch or a replay reads its vols at the time it applies."""
    return now + sum(e.seconds for e in events if isinstance(e, AdvanceTime))


def advance_event(seconds: int | None, where: str = "advance_seconds") -> list[Event]:
    """An ``AdvanceTime`` event, or none."""
    if seconds is None:
        return []
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise RequestError(where, f"must be a positive integer (got {seconds!r})")
    if seconds > 10 * 365 * 86_400:
        raise RequestError(where, f"must be at most ten years of seconds (got {seconds})")
    return [AdvanceTime(seconds)]


def account_event(config: ProtocolConfig, known: Container[object],
                  data: object, where: str) -> Event:
    """One event from its JSON (``{"type": "Deposit", "account": ..., ...}``, amounts in
    smallest units as integers), checked field by field."""
    try:
        event = event_from_dict(data)
    except EventError as exc:
        if exc.problems:
            # Every problem of the event, each at its path in the request.
            named = [(field_path(where, f.partition(".")[2]), r) for f, r in exc.problems]
            rest = "".join(f"; {f}: {r}" for f, r in named[1:])
            raise RequestError(named[0][0], named[0][1] + rest, problems=named) from None
        field, sep, reason = str(exc).partition(": ")
        _, _, attr = field.partition(".")
        if sep and attr:
            raise RequestError(f"{where}.{attr}", reason) from None
        raise RequestError(f"{where}.{field}" if sep else where,
                           reason if sep else str(exc)) from None
    kind = event.name
    if config.options is None and isinstance(event, OPTIONS_ONLY):
        raise RequestError(f"{where}.type", f"{kind}: the protocol has no options (add "
                                            f"[protocol.options] to the configuration)")
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        at = f"{where}.{f.name}"
        if f.name in ACCOUNT_FIELDS:
            try:
                check_account_id(value, at)
            except ValueError as exc:
                raise RequestError(at, str(exc).partition(": ")[2]) from None
            if value in RESERVED_ACCOUNTS:
                # The service's own accounts: a request acting as _liquidity could
                # withdraw the liquidity the book's genesis deposited.
                raise RequestError(at, f"{value!r} is reserved ({RESERVED_ACCOUNTS[value]})")
            if kind not in CREATING and value not in known and f.name in ("account",
                                                                          "source"):
                raise RequestError(at, f"unknown account {value!r}")
        elif f.name in ASSET_FIELDS:
            if value not in config.markets:
                raise RequestError(at, f"unknown asset {value!r} (markets: "
                                       f"{', '.join(sorted(config.markets))})")
        elif f.name == "market" and not (kind == "FundInsurance" and value == ""):
            if value not in config.perps:
                raise RequestError(at, f"unknown perp market {value!r}")
        elif f.name == "underlying":
            # An option's underlying: a priced market (as the options handlers check it).
            if not config.priced(value):
                names = ", ".join(sorted({*config.markets, *config.perps}))
                raise RequestError(at, f"unknown asset {value!r} (markets: {names})")
        elif isinstance(value, int) and not isinstance(value, bool) \
                and kind not in SELF_CHECKED:
            if (kind, f.name) in SIGNED:
                if abs(value) > MAX_UNITS:
                    raise RequestError(at, "too large (beyond +-(2**256 - 1))")
                continue
            zero = (kind, f.name) in MAY_BE_ZERO
            if value < 0 or (value == 0 and not zero):
                raise RequestError(at, f"must be {'at least 0' if zero else 'positive'} "
                                       f"(got {value})")
            if value > MAX_UNITS:
                raise RequestError(at, "too large (more than 2**256 - 1 smallest units)")
    return event


def account_events(config: ProtocolConfig, known: Container[object],
                   items: Sequence[object], where: str = "events") -> list[Event]:
    """Every event of a request, or a :class:`RequestError` for the first bad one. An
    account created earlier in the same request (a ``Deposit`` by a new id) is known to
    the events after it."""
    created: set[str] = set()
    events = []
    for i, item in enumerate(items):
        event = account_event(config, _Known(known, created), item, field_path(where, i))
        if event.name in CREATING:
            created.update(getattr(event, f) for f in ACCOUNT_FIELDS if hasattr(event, f))
        events.append(event)
    return events


class _Known:
    """The accounts the service knows (the ledger's and the options clearing's) plus those
    a request creates before using them."""

    def __init__(self, ledger: Container[object], created: set[str]) -> None:
        self.ledger = ledger
        self.created = created

    def __contains__(self, account_id: object) -> bool:
        return account_id in self.created or account_id in self.ledger


#: Prefix of a replay file's vol column: ``vol.WETH`` is WETH's ATM vol (a fraction).
VOL_COLUMN = "vol."


@dataclasses.dataclass(frozen=True)
class ReplayFile:
    """A replay source as read (:func:`read_replay_file`): per tick its line, its time
    advance and price events, and its vol cells (``underlying -> ATM vol, ppm``, checked
    against the surfaces' bounds); the vol ticks become events only against an engine's
    surfaces (:meth:`ticks`)."""

    source: str
    rows: tuple[tuple[int, tuple[Event, ...], tuple[tuple[str, int], ...]], ...]
    vol_columns: tuple[str, ...] = ()

    def check(self, surfaces: Mapping[tuple[str, int], tuple[int, int]],
              svi: Iterable[tuple[str, int]] = ()) -> None:
        """Refuse vol columns the surfaces cannot take: an underlying without a surface
        there, or with SVI slices.

        Raises
        ------
        ConfigError
            Each such column named ``line 1, column vol.X``.
        """
        svi = set(svi)
        problems = []
        for underlying in self.vol_columns:
            if any(u == underlying for (u, _) in svi):
                problems.append(f"line 1, column {VOL_COLUMN}{underlying}: {underlying} has "
                                f"SVI slices (a vol tick replaces an ATM vol)")
            elif not any(u == underlying for (u, _) in surfaces):
                problems.append(f"line 1, column {VOL_COLUMN}{underlying}: no vol surface on "
                                f"{underlying} when the service starts (open one in the "
                                f"configuration's [options] or the book's [[vols]])")
        if problems:
            raise ConfigError(problems, source=self.source)

    def tick(self, index: int, surfaces: Mapping[tuple[str, int], tuple[int, int]],
             now: int) -> list[Event]:
        """Tick ``index``'s events when it applies from the engine's time ``now``: time,
        prices, then each vol cell as a vol tick (:func:`vol_fanout`, as ``POST /ticks``
        reads ``vols``: one ``SetVolSurface`` per expiry of the underlying with a
        surface in ``surfaces`` and still open after the tick's advance, its skew
        kept)."""
        _, events, vols = self.rows[index]
        at = advanced(now, events)
        tick = list(events)
        for underlying, ppm in vols:
            tick += vol_fanout(surfaces, underlying, ppm, at)
        return tick

    def ticks(self, surfaces: Mapping[tuple[str, int], tuple[int, int]],
              svi: Iterable[tuple[str, int]] = (), now: int = 0) -> list[list[Event]]:
        """Every tick's events (:meth:`tick`), played in order from the engine's time
        ``now``: each tick's vols read at the time its own and the earlier ticks'
        advances bring (an expiry passed by then is skipped, not sent to be refused).

        Raises
        ------
        ConfigError
            :meth:`check`'s problems.
        """
        self.check(surfaces, svi)
        out: list[list[Event]] = []
        for index in range(len(self.rows)):
            tick = self.tick(index, surfaces, now)
            now = advanced(now, tick)
            out.append(tick)
        return out


def read_price_file(path: str | Path, config: ProtocolConfig,
                    surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None,
                    svi: Iterable[tuple[str, int]] = ()) -> list[list[Event]]:
    """A replay source's ticks (:func:`read_replay_file`, then :meth:`ReplayFile.ticks`
    against ``surfaces``: needed only with vol columns); raises :class:`ConfigError`."""
    return read_replay_file(path, config).ticks(surfaces or {}, svi)


def read_replay_file(path: str | Path, config: ProtocolConfig) -> ReplayFile:
    """A replay source: a CSV whose header names assets (and optionally
    ``advance_seconds``, and with ``[protocol.options]`` vol columns ``vol.WETH``: the
    ATM vol of every WETH expiry, a fraction), one tick per line, prices in USD per whole
    token; an empty cell leaves that asset (or vol) unticked. Every problem names the line
    and column; raises :class:`ConfigError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError([f"cannot read the price file: {exc.strerror or exc}"],
                          source=str(p)) from None
    except UnicodeDecodeError:
        raise ConfigError(["not UTF-8 text"], source=str(p)) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise ConfigError(["line 1: empty file (expected a header of asset symbols)"],
                          source=str(p))
    header = [h.strip() for h in rows[0]]
    problems: list[str] = []
    vol_columns: list[str] = []
    seen: dict[str, int] = {}
    for column, name in enumerate(header, start=1):
        if name in seen:
            # A second cell of the same column would replace the first (a price) or add
            # to it (an advance): either way not the tick the line reads as.
            problems.append(f"line 1, column {name}: given twice (columns {seen[name]} "
                            f"and {column})")
            continue
        seen[name] = column
        if name.startswith(VOL_COLUMN):
            underlying = name[len(VOL_COLUMN):]
            if config.options is None:
                problems.append(f"line 1, column {name}: the protocol has no options (add "
                                f"[protocol.options] to the configuration)")
            elif not config.priced(underlying):
                problems.append(f"line 1, column {name}: unknown asset {underlying!r}")
            else:
                vol_columns.append(underlying)
        elif name != "advance_seconds" and not config.priced(name):
            problems.append(f"line 1: unknown asset {name!r}")
    ticks: list[tuple[int, tuple[Event, ...], tuple[tuple[str, int], ...]]] = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {n}: {len(row)} fields, expected {len(header)}")
            continue
        tick: list[Event] = []
        prices: dict[str, Any] = {}
        vols: list[tuple[str, int]] = []
        for name, cell in zip(header, row, strict=True):
            cell = cell.strip()
            if not cell:
                continue
            if name == "advance_seconds":
                at = f"line {n}, column {name}"
                try:
                    tick.extend(advance_event(int(cell), at))
                except RequestError as exc:
                    problems.append(str(exc))  # names ``at`` already
                except ValueError:
                    problems.append(f"{at}: must be a positive integer (got {cell!r})")
            elif name.startswith(VOL_COLUMN):
                ppm = vol_ppm(cell, f"line {n}, column {name}", problems)
                if ppm is not None:
                    vols.append((name[len(VOL_COLUMN):], ppm))
            else:
                prices[name] = cell
        try:
            tick.extend(price_events(config, prices, where=f"line {n}, column",
                                      joiner=" "))
        except RequestError as exc:
            problems.append(str(exc))
        ticks.append((n, tuple(tick), tuple(sorted(vols))))
    if not ticks and not problems:
        # As POST /replay refuses an empty "ticks": a file that plays nothing is a mistake.
        problems.append("line 2: no ticks after the header (one tick per line)")
    if problems:
        raise ConfigError(problems[:20], source=str(p))
    return ReplayFile(str(p), tuple(ticks), tuple(sorted(vol_columns)))
