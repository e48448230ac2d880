"""The options section of a scripted scenario (``[options]``, additive to the scripted
format), and per step ``vols``: an options book, its vol surfaces, the security module,
and a bidder on Derive's portfolio auctions.

Format (TOML)::

    [protocol.options]               # the protocol clears options (docs/portfolio.md)
    quote = "USDC"

    [options]
    security_module = 20_000         # quote tokens into the security module
    cash = { mm = 500_000, s1 = 2_000 }   # options cash per account

    [[options.expiries]]             # one SetVolSurface per expiry at the start
    underlying = "WETH"
    expiry = "30d"                   # seconds after the start (or a duration)
    vol = 0.60                       # ATM implied vol
    skew = 0.0                       # per unit of ln(K/F)

    [[options.trades]]               # TradeOption: buyer buys from seller
    buyer = "mm"
    seller = "s1"
    underlying = "WETH"
    expiry = "30d"
    strike = 1800
    type = "put"                     # or "call"
    size = 5                         # options
    premium = 60                     # quote tokens per option (the total rounds up)

    [options.bidder]                 # sim/agents/portfolio_bidder.py
    id = "bidder"
    capital = 200_000                # quote tokens it may put into bids
    min_edge = 0.05                  # bids when profit >= 5% of the requirement taken

    [[steps]]
    vols = { WETH = 1.5 }            # ATM vol of every WETH expiry (skews kept)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from marginengine.config import ProtocolConfig
from marginengine.config.amounts import HumanNumber, parse_positive
from marginengine.config.base import StrictModel
from marginengine.engine.events import (
    MAX_VOL_PPM,
    MIN_VOL_PPM,
    DepositOptionCash,
    FundSecurityModule,
    SetVolSurface,
    TradeOption,
)
from marginengine.errors import field_path
from marginengine.fixedpoint import PRICE_DECIMALS
from marginengine.ledger import check_account_id
from marginengine.sim.durations import parse_duration


class ExpirySpec(StrictModel):
    """One expiry's surface at the start."""

    underlying: str
    expiry: int | str
    vol: HumanNumber
    skew: HumanNumber = 0

    @field_validator("expiry", mode="before")
    @classmethod
    def _expiry(cls, value: object) -> int:
        return parse_duration(value)


class OptionTradeSpec(StrictModel):
    """One opening option trade."""

    buyer: str
    seller: str
    underlying: str
    expiry: int | str
    strike: HumanNumber
    type: Literal["call", "put"]
    size: HumanNumber
    premium: HumanNumber

    @field_validator("expiry", mode="before")
    @classmethod
    def _expiry(cls, value: object) -> int:
        return parse_duration(value)


class BidderSpec(StrictModel):
    """The portfolio-auction bidder (``sim/agents/portfolio_bidder.py``)."""

    id: str = "bidder"
    enabled: bool = True
    capital: HumanNumber = 1_000_000
    min_edge: Decimal = Field(default=Decimal("0.05"), ge=0, le=1, allow_inf_nan=False)
    margin_buffer: Decimal = Field(default=Decimal("0.10"), ge=0, le=10,
                                   allow_inf_nan=False)


class OptionsSpec(StrictModel):
    """The ``[options]`` section (see the module docstring)."""

    security_module: HumanNumber = 0
    cash: dict[str, HumanNumber] = Field(default_factory=dict)
    expiries: list[ExpirySpec] = Field(default_factory=list)
    trades: list[OptionTradeSpec] = Field(default_factory=list)
    bidder: BidderSpec = BidderSpec()


@dataclass(frozen=True)
class OptionsSetup:
    """The section as engine events and exact ints.

    Attributes
    ----------
    events
        What the runner applies at the start, in order: surfaces, the security module,
        options cash, trades.
    surfaces
        ``(underlying, expiry) -> skew_ppm`` of every expiry (a step's ``vols`` keeps it).
    bidder
        The bidder's spec; ``capital`` in quote smallest units.
    """

    events: tuple[SetVolSurface | FundSecurityModule | DepositOptionCash | TradeOption, ...]
    surfaces: dict[tuple[str, int], int]
    bidder: BidderSpec
    capital: int


def vol_ppm(raw: object, where: str, problems: list[str], signed: bool = False) -> int | None:
    """A vol written as a fraction (``0.6``) in ppm, within the surface's bounds."""
    low = -MAX_VOL_PPM if signed else MIN_VOL_PPM
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        problems.append(f"{where}: must be a number (got {raw!r})")
        return None
    # Bounded before int(): NaN and infinity have no integer, and an exponent like 1e999999
    # would overflow the decimal context (or build a million-digit integer).
    # (The bounds themselves are on the truncated ppm, as before.)
    ppm = int(value * 1_000_000) if value.is_finite() and value.copy_abs() <= 10**9 else None
    if ppm is None or not low <= ppm <= MAX_VOL_PPM:
        problems.append(f"{where}: must be in {low / 1e6:g}..{MAX_VOL_PPM / 1e6:g} "
                        f"(got {raw})")
        return None
    return ppm


def options_setup(spec: OptionsSpec, cfg: ProtocolConfig,
                  problems: list[str]) -> OptionsSetup | None:
    """Check the section against the protocol and convert it (problems appended)."""
    opts = cfg.options
    if opts is None:
        problems.append("options: the protocol has no [protocol.options] table")
        return None
    decimals = cfg.markets[opts.quote].decimals
    events: list[SetVolSurface | FundSecurityModule | DepositOptionCash | TradeOption] = []
    surfaces: dict[tuple[str, int], int] = {}
    underlyings = {*cfg.markets, *cfg.perps}
    listed: dict[tuple[str, int], int] = {}
    for i, x in enumerate(spec.expiries):
        where = field_path("options.expiries", i)
        assert isinstance(x.expiry, int)
        if x.underlying not in underlyings:
            problems.append(f"{where}.underlying: unknown asset {x.underlying!r}")
            continue
        if (x.underlying, x.expiry) in listed:
            # A second surface of one expiry would replace the first ("30d" and 2592000
            # are one expiry): one entry per expiry.
            problems.append(f"{where}: {x.underlying} expiry {x.expiry} given twice (first "
                            f"at {field_path('options.expiries', listed[x.underlying, x.expiry])})")
            continue
        listed[(x.underlying, x.expiry)] = i
        atm = vol_ppm(x.vol, f"{where}.vol", problems)
        skew = vol_ppm(x.skew, f"{where}.skew", problems, signed=True)
        if atm is None or skew is None:
            continue
        surfaces[(x.underlying, x.expiry)] = skew
        events.append(SetVolSurface(x.underlying, x.expiry, atm, skew))
    if spec.security_module not in (0, "0"):
        amount = parse_positive(spec.security_module, decimals, "options.security_module",
                                problems)
        if amount is not None:
            events.append(FundSecurityModule(amount))
    for account, raw in spec.cash.items():
        where = f"options.cash.{account}"
        try:
            check_account_id(account, where)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        amount = parse_positive(raw, decimals, where, problems)
        if amount is not None:
            events.append(DepositOptionCash(account, amount))
    size_decimals = opts.size_decimals
    for i, t in enumerate(spec.trades):
        where = field_path("options.trades", i)
        assert isinstance(t.expiry, int)
        if (t.underlying, t.expiry) not in surfaces:
            problems.append(f"{where}.expiry: no [[options.expiries]] entry for "
                            f"{t.underlying} at {t.expiry}")
            continue
        for name in ("buyer", "seller"):
            try:
                check_account_id(getattr(t, name), f"{where}.{name}")
            except ValueError as exc:
                problems.append(str(exc))
        strike = parse_positive(t.strike, PRICE_DECIMALS, f"{where}.strike", problems)
        size = parse_positive(t.size, size_decimals, f"{where}.size", problems)
        each = parse_positive(t.premium, decimals, f"{where}.premium", problems)
        if strike is None or size is None or each is None:
            continue
        # The buyer pays premium x size, rounded up (size is in 10^-size_decimals).
        premium = -(-each * size // 10**size_decimals)
        events.append(TradeOption(t.buyer, t.seller, t.underlying, t.expiry, strike,
                                  t.type == "call", size, premium))
    try:
        check_account_id(spec.bidder.id, "options.bidder.id")
    except ValueError as exc:
        problems.append(str(exc))
    capital = parse_positive(spec.bidder.capital, decimals, "options.bidder.capital", problems)
    if capital is None:
        return None
    return OptionsSetup(tuple(events), surfaces, spec.bidder, capital)


def step_vols(raw: dict[str, HumanNumber], setup: OptionsSetup | None, where: str,
              problems: list[str]) -> list[SetVolSurface]:
    """A step's ``vols`` (ATM per underlying) as one SetVolSurface per listed expiry."""
    if not raw:
        return []
    if setup is None:
        problems.append(f"{where}: needs an [options] section with its expiries")
        return []
    out: list[SetVolSurface] = []
    for underlying, value in raw.items():
        expiries = sorted(t for (u, t) in setup.surfaces if u == underlying)
        if not expiries:
            problems.append(f"{where}.{underlying}: no [[options.expiries]] on {underlying}")
            continue
        atm = vol_ppm(value, f"{where}.{underlying}", problems)
        if atm is None:
            continue
        out.extend(SetVolSurface(underlying, t, atm, setup.surfaces[(underlying, t)])
                   for t in expiries)
    return out

__all__ = ["BidderSpec", "ExpirySpec", "OptionTradeSpec", "OptionsSetup",
           "OptionsSpec", "options_setup", "step_vols", "vol_ppm"]
