"""Typed, validated protocol parameters (pydantic v2).

Fractions are written as decimals (``ltv = 0.80``) and held as :class:`~decimal.Decimal`; the
engine reads them through the integer properties (``ltv_bps`` and so on) so no float ever
reaches a rule. Amount caps are in whole tokens of the asset.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from marginengine.fixedpoint import PRICE_UNIT, parse_units

PresetName = Literal["aave-v3", "compound-v3"]
PRESET_NAMES: tuple[str, ...] = ("aave-v3", "compound-v3")

Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]

SYMBOL_PATTERN = r"^[A-Za-z][A-Za-z0-9._-]{0,15}$"  # use with re.fullmatch ($ allows "\n")
#: Highest yearly borrow rate of an interest model (a fraction: 10 is 1,000%).
MAX_BORROW_RATE = Decimal(10)


def _pct(value: Decimal) -> str:
    return f"{value:.2f}"


def _bps(value: Decimal, field: str) -> int:
    scaled = value * 10_000
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{field} must be a whole number of basis points (0.0001), got {value}")
    return int(scaled)


def _admits_bool(annotation: object) -> bool:
    """Whether a field's type takes ``true``/``false`` (``bool``, ``Any`` or a union with
    either); pydantic would otherwise read ``true`` as 1 in an int or number field."""
    import typing

    if annotation is bool or annotation is typing.Any:
        return True
    return any(_admits_bool(arg) for arg in typing.get_args(annotation))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, bool) and info.field_name is not None:
            field = cls.model_fields[info.field_name]
            if not _admits_bool(field.annotation):
                raise ValueError(f"must not be true or false (got {str(value).lower()})")
        return value


class InterestRateModel(_Strict):
    """Kinked (two-slope) borrow-rate model, yearly rates as fractions.

    Below ``optimal_utilization`` the borrow rate rises linearly from ``base`` to
    ``base + slope1``; above it, by a further ``slope2`` at full utilization.
    """

    base: NonNegative = Decimal(0)
    slope1: NonNegative = Decimal("0.04")
    slope2: NonNegative = Decimal("0.60")
    optimal_utilization: Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False)] = Decimal(
        "0.80"
    )

    @model_validator(mode="after")
    def _max_rate(self) -> InterestRateModel:
        # Aave v3.2's DefaultReserveInterestRateStrategyV2 refuses a strategy whose rate at
        # full utilization (base + slope1 + slope2) exceeds MAX_BORROW_RATE = 1000_00 bps
        # (aave-dao/aave-v3-origin, src/contracts/misc/DefaultReserveInterestRateStrategyV2
        # .sol). Beyond it, indices compounded over a run leave every float range.
        top = self.base + self.slope1 + self.slope2
        if top > MAX_BORROW_RATE:
            raise ValueError(f"base + slope1 + slope2 must be at most {MAX_BORROW_RATE} "
                             f"(1,000% a year, Aave's MAX_BORROW_RATE), got {top}")
        return self


class MarketConfig(_Strict):
    """Lending parameters of one asset.

    For ``compound-v3``, ``ltv`` is the borrow collateral factor, ``liquidation_threshold``
    the liquidate collateral factor and ``liquidation_factor`` the share of a seized
    collateral's value credited to the absorbed account.
    """

    decimals: Annotated[int, Field(ge=0, le=36)] = 18
    ltv: Fraction = Decimal(0)
    liquidation_threshold: Fraction = Decimal(0)
    liquidation_bonus: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] = Decimal(
        "0.05"
    )
    liquidation_protocol_fee: Fraction = Decimal("0.10")
    reserve_factor: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] = Decimal("0.10")
    supply_cap: NonNegative = Decimal(0)
    borrow_cap: NonNegative = Decimal(0)
    collateral: bool = True
    borrowable: bool = True
    liquidation_factor: Fraction = Decimal("0.93")
    interest_rate: InterestRateModel = InterestRateModel()

    @field_validator("liquidation_threshold")
    @classmethod
    def _threshold_above_ltv(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        ltv = info.data.get("ltv")
        if ltv is not None and ltv > 0 and value <= ltv:
            raise ValueError(f"must be greater than ltv ({_pct(value)} <= {_pct(ltv)})")
        return value

    @field_validator("liquidation_bonus")
    @classmethod
    def _bonus_leaves_room(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        threshold = info.data.get("liquidation_threshold")
        if threshold is not None and threshold * (1 + value) > 1:
            raise ValueError(
                "liquidation_threshold x (1 + liquidation_bonus) must not exceed 1 "
                f"({_pct(threshold)} x {1 + value} = {threshold * (1 + value)}), or a "
                "liquidation could seize more collateral than exists"
            )
        return value

    @model_validator(mode="after")
    def _whole_basis_points(self) -> MarketConfig:
        for name in (
            "ltv",
            "liquidation_threshold",
            "liquidation_bonus",
            "liquidation_protocol_fee",
            "reserve_factor",
        ):
            _bps(getattr(self, name), name)
        if self.collateral and self.liquidation_threshold == 0:
            raise ValueError(
                "collateral = true needs liquidation_threshold > 0 "
                "(set collateral = false for an asset that only lends)"
            )
        return self

    @property
    def unit(self) -> int:
        """One whole token in smallest units."""
        return int(10**self.decimals)

    @property
    def ltv_bps(self) -> int:
        """Loan-to-value (borrow collateral factor) in basis points; 0 if not collateral."""
        return _bps(self.ltv, "ltv") if self.collateral else 0

    @property
    def liquidation_threshold_bps(self) -> int:
        """Liquidation threshold in basis points; 0 if not collateral."""
        return _bps(self.liquidation_threshold, "liquidation_threshold") if self.collateral else 0

    @property
    def liquidation_bonus_bps(self) -> int:
        """Aave's encoding of the bonus: 10500 for a 5% bonus."""
        return 10_000 + _bps(self.liquidation_bonus, "liquidation_bonus")

    @property
    def liquidation_protocol_fee_bps(self) -> int:
        """Share of the liquidation bonus kept by the protocol, in basis points."""
        return _bps(self.liquidation_protocol_fee, "liquidation_protocol_fee")

    @property
    def reserve_factor_bps(self) -> int:
        """Share of borrow interest kept by the protocol, in basis points."""
        return _bps(self.reserve_factor, "reserve_factor")

    @property
    def supply_cap_units(self) -> int:
        """Supply cap in smallest units; 0 means no cap."""
        return parse_units(self.supply_cap, self.decimals)

    @property
    def borrow_cap_units(self) -> int:
        """Borrow cap in smallest units; 0 means no cap."""
        return parse_units(self.borrow_cap, self.decimals)


class AaveRules(_Strict):
    """Protocol-wide liquidation constants of Aave v3.3 (``LiquidationLogic``)."""

    close_factor: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] = Decimal("0.5")
    close_factor_hf_threshold: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] = (
        Decimal("0.95")
    )
    min_base_max_close_factor_threshold: NonNegative = Decimal(2000)
    min_leftover_base: NonNegative = Decimal(1000)

    @property
    def close_factor_bps(self) -> int:
        """Close factor in basis points."""
        return _bps(self.close_factor, "close_factor")

    @property
    def close_factor_hf_threshold_wad(self) -> int:
        """Health factor below which the close factor is 100%, as a wad."""
        return int(self.close_factor_hf_threshold * 10**18)

    @property
    def min_base_max_close_factor_threshold_base(self) -> int:
        """Small-position threshold in base-currency units (USD, 8 decimals)."""
        return int(self.min_base_max_close_factor_threshold * PRICE_UNIT)

    @property
    def min_leftover_base_units(self) -> int:
        """Least debt and collateral a partial liquidation may leave, in base-currency units."""
        return int(self.min_leftover_base * PRICE_UNIT)


class CompoundRules(_Strict):
    """Comet-wide parameters of Compound III."""

    base_asset: str
    store_front_price_factor: Fraction = Decimal("0.5")
    target_reserves: NonNegative = Decimal(0)
    base_borrow_min: NonNegative = Decimal(0)


Seconds = Annotated[int, Field(gt=0)]


class StablePriceConfig(_Strict):
    """The delay-limited stable price initial margin uses (Mango v4's model).

    When enabled, collateral counts at ``min(oracle, stable)`` and debt at
    ``max(oracle, stable)`` for borrowing; maintenance and liquidation use the oracle price.
    """

    enabled: bool = False
    delay_interval: Seconds = 3600
    delay_intervals: Seconds = 24
    delay_growth_limit: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] = Decimal(
        "0.06"
    )
    stable_growth_limit: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] = Decimal(
        "0.0003"
    )
    min_update_interval: Seconds = 10
    max_update_interval: Seconds = 600

    @model_validator(mode="after")
    def _intervals(self) -> StablePriceConfig:
        _bps(self.delay_growth_limit, "delay_growth_limit")
        _bps(self.stable_growth_limit, "stable_growth_limit")
        if self.min_update_interval > self.max_update_interval:
            raise ValueError(
                f"min_update_interval ({self.min_update_interval} s) must not exceed "
                f"max_update_interval ({self.max_update_interval} s)"
            )
        return self


class BreakerConfig(_Strict):
    """Per-market circuit breakers: thresholds as fractions, times in seconds."""

    enabled: bool = False
    window: Seconds = 3600
    pause_borrowing_move: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] = Decimal("0.20")
    halt_move: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = None
    cool_off: Seconds = 3600

    @model_validator(mode="after")
    def _halt_above_pause(self) -> BreakerConfig:
        _bps(self.pause_borrowing_move, "pause_borrowing_move")
        if self.halt_move is not None:
            _bps(self.halt_move, "halt_move")
            if self.halt_move <= self.pause_borrowing_move:
                raise ValueError(
                    f"halt_move must be above pause_borrowing_move "
                    f"({self.halt_move} <= {self.pause_borrowing_move})"
                )
        return self


class OracleConfig(_Strict):
    """How the engine trusts prices: staleness, stable price, circuit breakers."""

    max_age: Annotated[int, Field(ge=0)] = 0
    stable_price: StablePriceConfig = StablePriceConfig()
    breaker: BreakerConfig = BreakerConfig()


from marginengine.config.auction import AuctionConfig  # noqa: E402
from marginengine.config.perp import PerpMarketConfig, perp_symbol_problem  # noqa: E402


class ProtocolConfig(_Strict):
    """A protocol: its rule family (preset), its markets and the family's constants.

    ``oracle.max_age`` (seconds, 0 = never) refuses borrows, withdrawals and liquidations
    that would use a price older than that.
    """

    name: str = "protocol"
    preset: PresetName = "aave-v3"
    markets: dict[str, MarketConfig]
    aave: AaveRules = AaveRules()
    compound: CompoundRules | None = None
    oracle: OracleConfig = OracleConfig()
    perps: dict[str, PerpMarketConfig] = Field(default_factory=dict)
    auction: AuctionConfig | None = None

    @field_validator("markets")
    @classmethod
    def _market_symbols(cls, value: dict[str, MarketConfig]) -> dict[str, MarketConfig]:
        import re

        if not value:
            raise ValueError("must list at least one market")
        for symbol in value:
            if not re.fullmatch(SYMBOL_PATTERN, symbol):
                raise ValueError(
                    f"market symbol {symbol!r} must start with a letter and use at most 16 "
                    "letters, digits, '.', '_' or '-'"
                )
        return value

    @model_validator(mode="after")
    def _family_rules(self) -> ProtocolConfig:
        if self.preset == "compound-v3":
            if self.compound is None:
                raise ValueError("compound-v3 needs a [compound] table with base_asset")
            base = self.compound.base_asset
            if base not in self.markets:
                raise ValueError(f"compound.base_asset {base!r} is not one of the markets")
            others = [s for s, m in self.markets.items() if m.borrowable and s != base]
            if others:
                raise ValueError(
                    f"compound-v3 lends only its base asset {base}; set borrowable = false "
                    f"for {', '.join(sorted(others))}"
                )
            if self.markets[base].collateral:
                raise ValueError(
                    f"compound-v3's base asset {base} cannot be collateral; set collateral = false"
                )
        if self.auction is not None:
            for role in ("collateral", "debt"):
                asset = getattr(self.auction, role)
                if asset not in self.markets:
                    raise ValueError(f"auction.{role} {asset!r} is not one of the markets")
            if self.markets[self.auction.debt].decimals != 18 or \
                    self.markets[self.auction.collateral].decimals != 18:
                raise ValueError("auction assets must have 18 decimals (Maker's wad)")
        for symbol, perp in self.perps.items():
            if symbol in self.markets:
                raise ValueError(f"perp {symbol!r} has the name of a lending market")
            problem = perp_symbol_problem(symbol)
            if problem:
                raise ValueError(problem)
            if perp.quote not in self.markets:
                raise ValueError(f"perps.{symbol}.quote {perp.quote!r} is not one of the markets")
            try:
                perp.step_units  # noqa: B018 - validates step_size against base_decimals
                perp.check_quote_amounts(self.markets[perp.quote].unit)
            except ValueError as exc:
                raise ValueError(f"perps.{symbol}.{exc}") from None
        return self

    def priced(self, symbol: str) -> bool:
        """Whether ``symbol`` has an oracle price: a lending market or a perp index."""
        return symbol in self.markets or symbol in self.perps

    @property
    def base_asset(self) -> str | None:
        """The single borrowable asset of a Compound III market, else ``None``."""
        return self.compound.base_asset if self.compound else None

    def market(self, symbol: str) -> MarketConfig:
        """Return a market's configuration or raise ``KeyError`` naming the symbol."""
        try:
            return self.markets[symbol]
        except KeyError:
            raise KeyError(f"unknown asset {symbol!r}") from None
