"""Typed, validated protocol parameters (pydantic v2).

Fractions are written as decimals (``ltv = 0.80``) and held as :class:`~decimal.Decimal`; the
engine reads them through the integer properties (``ltv_bps`` and so on) so no float ever
reaches a rule. Amount caps are in whole tokens of the asset.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from marginengine.config.adaptive import AdaptiveConfig
from marginengine.config.auction import AuctionConfig
from marginengine.config.base import (
    PORTFOLIO_PRESET_NAMES,
    PORTFOLIO_PRESET_SETTLEMENT,
    SYMBOL_PATTERN,
    StrictModel,
    threshold_times_bonus_bps,
)
from marginengine.config.emode import EModeCategory, EModeConfig
from marginengine.config.families import LendingRules, lending_rules
from marginengine.config.family_configs import (
    DriftConfig,
    EulerConfig,
    MangoConfig,
    drift_problem,
    euler_problem,
    mango_problem,
)
from marginengine.config.ids import check_account_id
from marginengine.config.perp import PerpMarketConfig, perp_symbol_problem
from marginengine.config.portfolio_auction import PortfolioAuctionConfig
from marginengine.config.stewards import StewardBounds
from marginengine.errors import field_path
from marginengine.fixedpoint import BPS, PRICE_UNIT, parse_units

if TYPE_CHECKING:
    from marginengine.config.portfolio import PortfolioRules

PresetName = Literal["aave-v3", "aave-v3.3", "aave-v3.5", "aave-v3.7", "compound-v3",
                     "morpho-blue", "liquity-v1", "liquity-v1-2025", "euler-v2",
                     "mango-v4", "drift-v2"]
PRESET_NAMES: tuple[str, ...] = ("aave-v3", "aave-v3.3", "aave-v3.5", "aave-v3.7",
                                 "compound-v3", "morpho-blue", "liquity-v1", "liquity-v1-2025",
                                 "euler-v2", "mango-v4", "drift-v2")

Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]

def _truncated_bps(value: Decimal) -> int:
    """A fraction in whole basis points, truncated toward zero (Comet's ``descale``)."""
    return int(value * BPS)


#: Comet's FACTOR_SCALE: factors are configured with 18 decimals (CometConfiguration.sol).
COMET_FACTOR_DECIMALS = 18
COMET_FACTORS: tuple[str, ...] = ("ltv", "liquidation_threshold", "liquidation_factor")
#: Comet's largest supply cap: ``getPackedAssetInternal`` packs whole tokens in a
#: ``uint64`` (compound-finance/comet@d5a30b0a ``contracts/Comet.sol``).
COMET_MAX_SUPPLY_CAP = 2**64 - 1
#: Comet's constructor limits (``CometCore.sol``): ``MAX_BASE_DECIMALS``, the base scale's
#: floor ``BASE_ACCRUAL_SCALE`` and ``MAX_ASSETS``; ``Comet.sol`` packs 12 assets
#: (``asset00_a`` to ``asset11_b``) and ``getAssetInfo`` casts ``10**decimals`` to a uint64.
COMET_MAX_BASE_DECIMALS = 18
COMET_BASE_ACCRUAL_SCALE = 10**6
COMET_MAX_ASSETS = 15
COMET_PACKED_ASSETS = 12
COMET_MAX_ASSET_DECIMALS = 19
#: Highest yearly borrow rate of an interest model (a fraction: 10 is 1,000%).
MAX_BORROW_RATE = Decimal(10)


def _pct(value: Decimal) -> str:
    return f"{value:.2f}"


@functools.lru_cache(maxsize=4096)
def _bps(value: Decimal, field: str) -> int:
    # Cached (equal Decimals give equal basis points): the engine reads a market's bonus,
    # fee and reserve factor several times per liquidation.
    scaled = value * 10_000
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{field} must be a whole number of basis points (0.0001), got {value}")
    return int(scaled)


class InterestRateModel(StrictModel):
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


#: Aave's ``ReserveConfiguration.DEBT_CEILING_DECIMALS``: the debt ceiling and each
#: reserve's ``isolationModeTotalDebt`` are base currency with 2 decimals (v3.3, v3.5).
DEBT_CEILING_DECIMALS = 2
#: Aave's ``MAX_VALID_DEBT_CEILING`` (a 40-bit field of the reserve configuration).
MAX_VALID_DEBT_CEILING = 2**40 - 1


class MarketConfig(StrictModel):
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
    #: Whole tokens. 0 is no cap (Aave's meaning), except in ``compound-v3``, where it is
    #: Comet's cap of 0 (every supply refused); there an omitted cap is ``None``: no cap
    #: (Comet's largest, ``COMET_MAX_SUPPLY_CAP`` whole tokens).
    supply_cap: NonNegative | None = Decimal(0)
    borrow_cap: NonNegative = Decimal(0)
    collateral: bool = True
    borrowable: bool = True
    liquidation_factor: Fraction = Decimal("0.93")
    interest_rate: InterestRateModel = InterestRateModel()
    #: Aave v3.3/v3.5 isolation mode (``ReserveConfiguration.getDebtCeiling``): the most
    #: debt, in base currency (USD) with ``DEBT_CEILING_DECIMALS`` = 2, that accounts
    #: whose only collateral is this asset may owe against it; 0 (the default): not
    #: isolated. v3.7 removed isolation mode (``docs/3.7/mode-removal.md``).
    debt_ceiling: NonNegative = Decimal(0)
    #: Aave v3.3/v3.5: an account in isolation mode may borrow this asset
    #: (``getBorrowableInIsolation``).
    borrowable_in_isolation: bool = False
    #: Aave v3.3/v3.5 siloed borrowing (``getSiloedBorrowing``): an account owing this
    #: asset may owe nothing else.
    siloed_borrowing: bool = False

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
        if threshold is None:
            return value
        lt, bonus = threshold * BPS, value * BPS
        shown = f"{threshold} x {1 + value} = {threshold * (1 + value)}"
        if lt == lt.to_integral_value() and bonus == bonus.to_integral_value():
            # Whole basis points, as Aave configures them: Aave's own check, rounded half
            # up (0.9524 x 1.05 = 1.00002 passes it, as on chain; it was refused here).
            product = threshold_times_bonus_bps(int(lt), BPS + int(bonus))
            over = product > BPS
            shown += f"; Aave's percentMul, rounded half up: {Decimal(product) / BPS}"
        else:
            over = threshold * (1 + value) > 1     # finer factors (Comet's): exactly
        if over:
            raise ValueError(
                f"liquidation_threshold x (1 + liquidation_bonus) must not exceed 1 "
                f"({shown}), or a liquidation could seize more collateral than exists"
            )
        return value

    @model_validator(mode="after")
    def _whole_basis_points(self) -> MarketConfig:
        # ltv and liquidation_threshold are checked by the protocol, per family: Aave
        # stores whole basis points, Comet truncates any factor to 4 decimals.
        for name in ("liquidation_bonus", "liquidation_protocol_fee", "reserve_factor"):
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
        """Loan-to-value (borrow collateral factor) in basis points; 0 if not collateral.

        Truncated to whole basis points: exact for Aave (its configuration refuses anything
        finer), Comet's ``descale`` for Compound III (see :meth:`ProtocolConfig.truncations`).
        """
        return _truncated_bps(self.ltv) if self.collateral else 0

    @property
    def liquidation_threshold_bps(self) -> int:
        """Liquidation threshold in basis points; 0 if not collateral (truncated as
        :attr:`ltv_bps`)."""
        return _truncated_bps(self.liquidation_threshold) if self.collateral else 0

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
    def liquidation_factor_bps(self) -> int:
        """Comet's liquidation factor in basis points (4 decimals, truncated as Comet's
        ``descale`` does; see :meth:`ProtocolConfig.truncations`)."""
        return int(self.liquidation_factor * BPS)

    @property
    def supply_cap_units(self) -> int:
        """Supply cap in smallest units; 0 means no cap (``None`` too)."""
        return 0 if self.supply_cap is None else parse_units(self.supply_cap, self.decimals)

    @property
    def comet_supply_cap_units(self) -> int:
        """The supply cap as Comet enforces it, in smallest units: whole tokens
        (``getPackedAssetInternal`` keeps ``uint64(supplyCap / 10**decimals)``, truncated;
        ``getAssetInfo`` multiplies it back), so 0 refuses every supply; ``None``: Comet's
        largest, ``COMET_MAX_SUPPLY_CAP`` whole tokens (compound-finance/comet@d5a30b0a
        ``contracts/Comet.sol``)."""
        whole = COMET_MAX_SUPPLY_CAP if self.supply_cap is None else int(self.supply_cap)
        return whole * self.unit

    @property
    def borrow_cap_units(self) -> int:
        """Borrow cap in smallest units; 0 means no cap."""
        return parse_units(self.borrow_cap, self.decimals)

    @property
    def debt_ceiling_units(self) -> int:
        """The debt ceiling as Aave stores it: base currency with 2 decimals
        (``DEBT_CEILING_DECIMALS``; 1,000,000.00 USD is ``100_000_000``); 0: not isolated."""
        return parse_units(self.debt_ceiling, DEBT_CEILING_DECIMALS)

    @property
    def isolated(self) -> bool:
        """Whether the asset is an isolation-mode collateral (a debt ceiling is set)."""
        return self.debt_ceiling != 0


class AaveRules(StrictModel):
    """Protocol-wide liquidation constants of Aave v3.3+ (``LiquidationLogic``:
    ``DEFAULT_LIQUIDATION_CLOSE_FACTOR``, ``CLOSE_FACTOR_HF_THRESHOLD``,
    ``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD``, ``MIN_LEFTOVER_BASE``; unchanged to v3.7)."""

    close_factor: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] = Decimal("0.5")
    close_factor_hf_threshold: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] = (
        Decimal("0.95")
    )
    min_base_max_close_factor_threshold: NonNegative = Decimal(2000)
    min_leftover_base: NonNegative = Decimal(1000)
    #: Aave's PriceOracleSentinel on an L2 (``None``: no sentinel, as on Ethereum): for
    #: this many seconds after the sequencer comes back up, and while it is down, borrows
    #: are refused and liquidations allowed only below HF 0.95 (v3.3 and v3.5 only).
    sentinel_grace_period: Annotated[int, Field(ge=0)] | None = None
    #: Aave v3.3/v3.5: accounts holding ``ISOLATED_COLLATERAL_SUPPLIER_ROLE``: only their
    #: supply (or aTokens they pass on) switches an isolated asset on as collateral
    #: automatically (``validateAutomaticUseAsCollateral``; v3.6 removed the role).
    isolated_collateral_suppliers: list[str] = Field(default_factory=list)

    @field_validator("isolated_collateral_suppliers")
    @classmethod
    def _suppliers(cls, value: list[str]) -> list[str]:
        # An id no account can have, or one listed twice, is a typo: the role would never
        # reach the account meant.
        first: dict[str, int] = {}
        for i, account in enumerate(value):
            check_account_id(account, f"isolated_collateral_suppliers.{i}")
            if account in first:
                raise ValueError(f"isolated_collateral_suppliers.{i}: {account!r} is given "
                                 f"twice (entries {first[account]} and {i})")
            first[account] = i
        return value

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


#: Comet's ``SECONDS_PER_YEAR`` (CometCore.sol): per-year rates become per-second ones by
#: this floored division, once, in the constructor.
COMET_SECONDS_PER_YEAR = 31_536_000
#: Comet's ``FACTOR_SCALE``: rates, kinks and utilization are fractions of 1e18.
COMET_FACTOR_SCALE = 10**18
COMET_INTEREST_FIELDS: tuple[str, ...] = (
    "supply_kink", "supply_base", "supply_slope_low", "supply_slope_high",
    "borrow_kink", "borrow_base", "borrow_slope_low", "borrow_slope_high")


class CometInterestModel(StrictModel):
    """Comet's own interest curves for the base asset (``[compound.interest]``).

    Two kinked curves of utilization (``totalBorrow / totalSupply``), one for suppliers and
    one for borrowers, as ``CometConfiguration``'s ``supplyKink``,
    ``supplyPerYearInterestRateBase``, ``...SlopeLow``, ``...SlopeHigh`` and their borrow
    twins: below the kink ``base + slope_low x u``; above it ``base + slope_low x kink +
    slope_high x (u - kink)``. Rates are yearly fractions (18 decimals at most); Comet holds
    each as ``per_year x 1e18 / 31,536,000`` per second, floored. Without this table the
    base asset uses its market's ``interest_rate`` (Aave's model, supply rate =
    borrow rate x utilization x (1 - reserve_factor)). The defaults are those of Comet's
    own test protocol (``test/helpers.ts`` ``makeProtocol``).
    """

    supply_kink: Fraction = Decimal("0.8")
    supply_base: NonNegative = Decimal(0)
    supply_slope_low: NonNegative = Decimal("0.05")
    supply_slope_high: NonNegative = Decimal(2)
    borrow_kink: Fraction = Decimal("0.8")
    borrow_base: NonNegative = Decimal("0.005")
    borrow_slope_low: NonNegative = Decimal("0.1")
    borrow_slope_high: NonNegative = Decimal(3)

    def scaled(self, name: str) -> int:
        """A field at ``FACTOR_SCALE`` (1e18); the kinks are read this way."""
        return int(getattr(self, name) * COMET_FACTOR_SCALE)

    def per_second(self, name: str) -> int:
        """A yearly rate field as Comet's per-second rate: ``per_year / SECONDS_PER_YEAR``,
        floored (``Comet`` constructor)."""
        return self.scaled(name) // COMET_SECONDS_PER_YEAR


class CompoundRules(StrictModel):
    """Comet-wide parameters of Compound III."""

    base_asset: str
    store_front_price_factor: Fraction = Decimal("0.5")
    target_reserves: NonNegative = Decimal(0)
    base_borrow_min: NonNegative = Decimal(0)
    interest: CometInterestModel | None = None

    @property
    def store_front_price_factor_scaled(self) -> int:
        """``storeFrontPriceFactor`` at ``FACTOR_SCALE`` (1e18), as Comet holds it: the
        constructor copies it whole (no 4-decimal ``descale``, unlike the asset factors;
        compound-finance/comet@d5a30b0a ``contracts/Comet.sol``). At most 18 decimals
        (:meth:`ProtocolConfig._check_representable`), so exact."""
        return int(self.store_front_price_factor * COMET_FACTOR_SCALE)

    def target_reserves_units(self, decimals: int) -> int:
        """``targetReserves`` in base smallest units (whole units, truncated)."""
        return int(self.target_reserves * 10**decimals)

    def base_borrow_min_units(self, decimals: int) -> int:
        """``baseBorrowMin`` in base smallest units (whole units, truncated)."""
        return int(self.base_borrow_min * 10**decimals)


Seconds = Annotated[int, Field(gt=0)]


class StablePriceConfig(StrictModel):
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


class BreakerConfig(StrictModel):
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


class OracleConfig(StrictModel):
    """How the engine trusts prices: staleness, stable price, circuit breakers."""

    max_age: Annotated[int, Field(ge=0)] = 0
    stable_price: StablePriceConfig = StablePriceConfig()
    breaker: BreakerConfig = BreakerConfig()


class MorphoMarketConfig(StrictModel):
    """One Morpho Blue market (``MarketParams``): loan and collateral assets (both listed in
    ``markets``, for their decimals and prices), the LLTV, the fee and the IRM's rate.

    ``borrow_rate`` is a yearly rate held per second (``rate x 1e18 / 31,536,000``, rounded
    down) and compounded as Morpho's ``wTaylorCompounded``; the adaptive-curve IRM is not
    modelled.
    """

    loan: str
    collateral: str
    lltv: Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False)]
    fee: Annotated[Decimal, Field(ge=0, le=Decimal("0.25"), allow_inf_nan=False)] = Decimal(0)
    borrow_rate: Annotated[Decimal, Field(ge=0, le=10, allow_inf_nan=False)] = Decimal(0)


class LiquityConfig(StrictModel):
    """Liquity v1's troves and stability pool (presets ``liquity-v1``, ``liquity-v1-2025``).

    ``collateral`` is the ETH asset and ``debt`` the LUSD asset, both listed in ``markets``
    with 18 decimals (for their units; no pooled reserve takes them). Liquity's price is the
    engine's USD price of ``collateral`` (8 decimals) x 1e10, as its PriceFeed reports
    ETH/USD with 18 decimals (LUSD taken at 1 USD). ``base_rate`` is TroveManager's
    ``baseRate`` when the engine starts (its ``lastFeeOperationTime`` the ledger's time
    then); each borrowing operation decays it first (``decayBaseRateFromBorrowing``, half
    in 12 hours), and a redemption raises it (``_updateBaseRateFromRedemption``).
    """

    collateral: str
    debt: str
    base_rate: Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)] = Decimal(0)


class OptionsConfig(StrictModel):
    """European options cleared by the engine (``[options]``): premiums and settlements
    in ``quote`` (a lending market's asset, for its decimals), sizes to ``size_decimals``,
    every account holding options margined by the portfolio preset ``portfolio_preset``
    (``config/portfolio.py``): the PMRM_2 model (``derive-pm2``, ``paradex``,
    ``deribit-like``, ``span-like``), Derive's PMRM v1 (``derive-pm1``) or its Standard
    Risk Manager (``derive-srm``, the account's underlying its market).

    ``settlement`` chooses how an expiry's settlement price is fixed: ``"twap"``, Derive's
    (``LyraForwardFeed.getSettlementPrice``: the spot's time-weighted average over the 30
    minutes before the expiry, from the prices ``SetPrice`` reported, rounded down:
    :mod:`marginengine.oracle.settlement_feed`), or ``"spot"``, the oracle's price at the
    first ``SettleOption`` of the expiry. Absent, the preset's (:attr:`settlement_rule`:
    ``twap`` for ``derive-pm2``, ``derive-pm1``, ``derive-srm``; ``spot`` for the others).

    ``portfolio_margin`` (``[options.portfolio_margin]``) overrides the preset's parameters
    as :func:`~marginengine.config.portfolio.portfolio_config` merges them (``im_factor``,
    ``mm_factor``, ``vol_shock.vol_range_up``, ``scenarios``, ...; for ``derive-srm``
    ``markets.ETH.option.mm_put_spot_req``, ...), each checked by that model's bounds;
    :attr:`rules` is the result. Absent, the preset's parameters as published.
    """

    quote: str
    size_decimals: Annotated[int, Field(ge=0, le=18)] = 18
    portfolio_preset: str = "derive-pm2"
    #: ``"twap"`` or ``"spot"``; ``None``: the preset's (:attr:`settlement_rule`).
    settlement: Literal["twap", "spot"] | None = None
    #: Overrides of the preset's parameters, as written (``rules`` resolves them).
    portfolio_margin: dict[str, Any] = Field(default_factory=dict)
    #: Derive's portfolio auction (``[options.auction]``; defaults: Derive mainnet's).
    auction: PortfolioAuctionConfig = PortfolioAuctionConfig()

    @field_validator("portfolio_preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        if value not in PORTFOLIO_PRESET_NAMES:
            raise ValueError(f"unknown portfolio preset {value!r} (choose one of "
                             f"{', '.join(PORTFOLIO_PRESET_NAMES)})")
        return value

    @field_validator("portfolio_margin")
    @classmethod
    def _overrides(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        preset = info.data.get("portfolio_preset")
        if not value or preset is None:  # an unknown preset is refused on its own
            return value
        from marginengine.config.portfolio import portfolio_config
        from marginengine.errors import ConfigError

        try:
            portfolio_config(value, preset=preset)
        except ConfigError as exc:
            # Each problem already names its path (portfolio_margin.im_factor: ...): the
            # loader reports it at that field under this table.
            raise ValueError("; ".join(exc.problems)) from None
        return value

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Without overrides the table is left out: a protocol's dump (the event log's
        # metadata, which a resumed service compares) is what it was before the table.
        out: dict[str, Any] = handler(self)
        if not self.portfolio_margin:
            out.pop("portfolio_margin", None)
        if self.settlement is None:
            out.pop("settlement", None)
        return out

    @property
    def settlement_rule(self) -> Literal["twap", "spot"]:
        """How the engine fixes an expiry's settlement price: ``settlement`` if given,
        else the portfolio preset's (``config.base.PORTFOLIO_PRESET_SETTLEMENT``)."""
        if self.settlement is not None:
            return self.settlement
        return "twap" if PORTFOLIO_PRESET_SETTLEMENT[self.portfolio_preset] == "twap" else "spot"

    @functools.cached_property
    def rules(self) -> PortfolioRules:
        """The portfolio-margin rule's parameters: the preset with ``portfolio_margin``
        laid over it (validated when the table was)."""
        from marginengine.config.portfolio import portfolio_config

        return portfolio_config(self.portfolio_margin or None, preset=self.portfolio_preset)


class ProtocolConfig(StrictModel):
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
    morpho: dict[str, MorphoMarketConfig] = Field(default_factory=dict)
    liquity: LiquityConfig | None = None
    euler: EulerConfig | None = None
    mango: MangoConfig | None = None
    drift: DriftConfig | None = None
    adaptive: AdaptiveConfig | None = None
    stewards: StewardBounds | None = None
    options: OptionsConfig | None = None
    #: Aave v3's efficiency-mode categories (``[emode.categories.N]``; Aave presets only).
    emode: EModeConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _comet_uncapped(cls, data: Any) -> Any:
        # Comet reads a supply cap of 0 as 0 (supplyCollateral refuses every supply), so
        # a compound-v3 market that sets none is uncapped (None), not 0 (Aave's "none").
        if not isinstance(data, dict) or data.get("preset") != "compound-v3":
            return data
        markets = data.get("markets")
        if not isinstance(markets, dict):
            return data
        uncapped: dict[str, Any] = {}
        for symbol, spec in markets.items():
            if isinstance(spec, dict) and "supply_cap" not in spec:
                spec = {**spec, "supply_cap": None}
            elif isinstance(spec, MarketConfig) and "supply_cap" not in spec.model_fields_set:
                spec = spec.model_copy(update={"supply_cap": None})
            uncapped[symbol] = spec
        return {**data, "markets": uncapped}

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
        self._check_morpho()
        self._check_liquity()
        self._check_own_state_families()
        if self.options is not None and self.options.quote not in self.markets:
            raise ValueError(f"options.quote: unknown asset {self.options.quote!r} (markets: "
                             f"{', '.join(sorted(self.markets))})")
        self._check_factor_precision()
        self._check_representable()
        self._check_aave_rate_strategy()
        self._check_emode()
        self._check_isolation()
        if self.aave.sentinel_grace_period is not None and not self.rules.sentinel:
            raise ValueError(
                f"aave.sentinel_grace_period: {self.preset} has no PriceOracleSentinel "
                "(Aave v3.7 removed it, docs/3.7/sentinel-removal.md; use aave-v3.3 or "
                "aave-v3.5)")
        if self.rules.per_asset_factors:
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
            self._check_comet_supply_caps(base)
            self._check_comet_constructor(base)
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
            first = next(iter(self.perps.values())).quote
            if perp.quote != first:
                # One cross-margin bucket holds one perp balance, in one quote asset.
                raise ValueError(f"perps.{symbol}.quote {perp.quote!r}: every perp market "
                                 f"must settle in the same quote asset ({first!r})")
            try:
                perp.step_units  # noqa: B018 - validates step_size against base_decimals
                perp.check_quote_amounts(self.markets[perp.quote].unit)
            except ValueError as exc:
                raise ValueError(f"perps.{symbol}.{exc}") from None
        self._check_adaptive_perps()
        return self

    def _check_comet_supply_caps(self, base: str) -> None:
        """Comet's supply caps: none on the base asset (``supplyBase`` checks none), and a
        collateral's whole tokens fit the ``uint64`` ``getPackedAssetInternal`` packs them
        in (an unchecked cast there: a larger cap would wrap, compound-finance/comet
        @d5a30b0a ``contracts/Comet.sol``)."""
        if self.markets[base].supply_cap is not None:
            raise ValueError(f"markets.{base}.supply_cap: Comet has no supply cap on its base "
                             f"asset (supplyBase checks none); remove it")
        for symbol, m in sorted(self.markets.items()):
            if m.supply_cap is not None and int(m.supply_cap) > COMET_MAX_SUPPLY_CAP:
                raise ValueError(f"markets.{symbol}.supply_cap: at most {COMET_MAX_SUPPLY_CAP} "
                                 f"whole tokens (Comet packs the cap in a uint64), got "
                                 f"{m.supply_cap}")

    def _check_comet_constructor(self, base: str) -> None:
        """The configurations Comet's constructor refuses, or cannot hold
        (compound-finance/comet@d5a30b0a ``contracts/Comet.sol``, ``CometCore.sol``,
        ``CometConfiguration.sol``; ``test/constructor-test.ts``, ``asset-info-test.ts``).
        The price-feed decimals (``PRICE_FEED_DECIMALS`` = 8: prices here are 8-decimal
        USD) and ``baseMinForRewards`` (``BadMinimum``; rewards are not modelled) have no
        field; the factor bounds (``BorrowCFTooLarge``, ``LiquidateCFTooLarge``: at most 1)
        and ``storeFrontPriceFactor <= FACTOR_SCALE`` (``BadDiscount``) are the fields' own."""
        decimals = self.markets[base].decimals
        if decimals > COMET_MAX_BASE_DECIMALS:
            raise ValueError(f"markets.{base}.decimals: Comet's base asset has at most "
                             f"{COMET_MAX_BASE_DECIMALS} decimals (MAX_BASE_DECIMALS; "
                             f"BadDecimals), got {decimals}")
        if 10**decimals < COMET_BASE_ACCRUAL_SCALE:
            raise ValueError(f"markets.{base}.decimals: Comet's base asset has at least 6 "
                             f"decimals (baseScale >= BASE_ACCRUAL_SCALE = 1e6; BadDecimals), "
                             f"got {decimals}")
        assets = sorted(s for s in self.markets if s != base)
        if len(assets) > COMET_MAX_ASSETS:
            raise ValueError(f"markets: Comet lists at most {COMET_MAX_ASSETS} assets besides "
                             f"its base (MAX_ASSETS; TooManyAssets), got {len(assets)}")
        if len(assets) > COMET_PACKED_ASSETS:
            raise ValueError(f"markets: Comet.sol holds {COMET_PACKED_ASSETS} assets besides "
                             f"its base (asset00 to asset11; getAssetInfo reverts Absurd "
                             f"beyond, though MAX_ASSETS is {COMET_MAX_ASSETS}), got "
                             f"{len(assets)}")
        for symbol in assets:
            m = self.markets[symbol]
            if m.decimals > COMET_MAX_ASSET_DECIMALS:
                raise ValueError(f"markets.{symbol}.decimals: at most "
                                 f"{COMET_MAX_ASSET_DECIMALS} (getAssetInfo's scale is a "
                                 f"uint64, 10**decimals), got {m.decimals}")
        compound = self.compound
        assert compound is not None
        if compound.interest is not None:
            for name in COMET_INTEREST_FIELDS:
                scaled = compound.interest.scaled(name)
                if scaled > 2**64 - 1:
                    raise ValueError(f"compound.interest.{name}: at most "
                                     f"{Decimal(2**64 - 1) / COMET_FACTOR_SCALE} (a uint64 at "
                                     f"FACTOR_SCALE = 1e18 in CometConfiguration), got "
                                     f"{getattr(compound.interest, name)}")
        for name in ("base_borrow_min", "target_reserves"):
            units = int(getattr(compound, name) * 10**decimals)
            if units > 2**104 - 1:
                raise ValueError(f"compound.{name}: at most 2**104 - 1 smallest units of "
                                 f"{base} (a uint104 in CometConfiguration), got "
                                 f"{getattr(compound, name)}")

    def _check_adaptive_perps(self) -> None:
        """``adaptive.perp_markets`` names perp markets on tier schedules (a dYdX v4
        market's maintenance is a fraction of its IMF: the model does not set it)."""
        for i, symbol in enumerate(self.adaptive.perp_markets if self.adaptive else ()):
            perp = self.perps.get(symbol)
            if perp is None:
                raise ValueError(f"{field_path('adaptive.perp_markets', i)}: unknown perp market "
                                 f"{symbol!r} (perps: {', '.join(sorted(self.perps)) or 'none'})")
            if perp.margin_model != "tiers":
                raise ValueError(f"{field_path('adaptive.perp_markets', i)}: {symbol} uses "
                                 f"margin_model {perp.margin_model!r}; adaptive fractions need "
                                 "'tiers'")

    def _check_factor_precision(self) -> None:
        per_asset = self.rules.per_asset_factors
        for symbol, m in self.markets.items():
            if not per_asset:
                for name in ("ltv", "liquidation_threshold"):
                    value = getattr(m, name)
                    if _truncated_bps(value) != value * BPS:
                        raise ValueError(f"markets.{symbol}.{name}: must be a whole number of "
                                         f"basis points (0.0001), got {value}")
                continue
            for name in COMET_FACTORS:
                value = getattr(m, name)
                scaled = value * 10**COMET_FACTOR_DECIMALS
                if scaled != scaled.to_integral_value():
                    raise ValueError(
                        f"markets.{symbol}.{name}: {value} has more than 18 decimals: Comet "
                        "configures factors at FACTOR_SCALE = 1e18")
            if m.collateral and m.ltv_bps >= m.liquidation_threshold_bps:
                raise ValueError(
                    f"markets.{symbol}.ltv: stored with 4 decimals it is {m.ltv_bps / 10_000}, "
                    f"not below liquidation_threshold {m.liquidation_threshold_bps / 10_000} "
                    "(Comet's BorrowCFTooLarge)")
        compound = self.compound
        if per_asset and compound is not None:
            for symbol, m in self.markets.items():
                if not m.collateral or symbol == compound.base_asset:
                    continue
                # quoteCollateral's discount: mulFactor(storeFrontPriceFactor,
                # FACTOR_SCALE - liquidationFactor), the factor at 4 decimals.
                discount = (compound.store_front_price_factor_scaled
                            * (COMET_FACTOR_SCALE - m.liquidation_factor_bps
                               * (COMET_FACTOR_SCALE // BPS)) // COMET_FACTOR_SCALE)
                if discount >= COMET_FACTOR_SCALE:
                    raise ValueError(
                        f"markets.{symbol}.liquidation_factor: with "
                        f"compound.store_front_price_factor {compound.store_front_price_factor} "
                        f"and liquidation_factor {m.liquidation_factor} the store-front "
                        "discount is 100%: seized collateral would be given away (Comet's "
                        "quoteCollateral divides by a zero price)")

    def _check_emode(self) -> None:
        """E-mode categories name listed markets, in the version that has them: the
        ``ltvzero`` list (``ltvzeroBitmap``) is v3.6+ and must hold category collateral
        (``setAssetLtvzeroInEMode``: ``MustBeEmodeCollateral``); ``isolated`` is v3.7.
        A category collateral must be a collateral market: an asset that is collateral
        only inside an e-mode (possible since v3.6) is not modelled."""
        from marginengine.config.families import EModeRules

        if self.emode is None:
            return
        version = self.rules.emode
        if version is None:
            raise ValueError(f"emode: {self.preset} has no efficiency mode (Aave v3's "
                             "e-mode; use an aave-v3 preset)")
        names = ", ".join(sorted(self.markets))
        for category_id, category in sorted(self.emode.categories.items()):
            where = field_path("emode.categories", category_id)
            for side in ("collateral", "borrowable", "ltvzero"):
                for i, symbol in enumerate(getattr(category, side)):
                    if symbol not in self.markets:
                        raise ValueError(f"{where}.{side}.{i}: unknown asset {symbol!r} "
                                         f"(markets: {names})")
            for i, symbol in enumerate(category.collateral):
                if not self.markets[symbol].collateral:
                    raise ValueError(
                        f"{where}.collateral.{i}: {symbol} is not a collateral market "
                        "(collateral only inside an e-mode is not modelled)")
            if category.ltvzero and version is EModeRules.LIQUID:
                raise ValueError(f"{where}.ltvzero: {self.preset} has no e-mode ltvzero "
                                 "bitmap (Aave v3.6+; use aave-v3.7)")
            for i, symbol in enumerate(category.ltvzero):
                if symbol not in category.collateral:
                    raise ValueError(f"{where}.ltvzero.{i}: {symbol} is not a collateral of "
                                     "the category (Aave's MustBeEmodeCollateral)")
            if category.isolated and version is not EModeRules.ISOLATED:
                raise ValueError(f"{where}.isolated: {self.preset} has no isolated e-mode "
                                 "(Aave v3.7, docs/3.7/isolated-emode.md)")

    def _check_isolation(self) -> None:
        """Isolation mode and siloed borrowing are Aave v3.3/v3.5's
        (``ReserveConfiguration.setDebtCeiling``, ``setBorrowableInIsolation``,
        ``setSiloedBorrowing``; removed in v3.7, ``docs/3.7/mode-removal.md``); the
        ceiling is a 40-bit count of cents (``MAX_VALID_DEBT_CEILING``, 2 decimals); a
        borrow against isolated collateral is counted in cents of the borrowed asset
        (``amount / 10**(decimals - 2)``), so that asset needs 2 decimals or more."""
        if self.aave.isolated_collateral_suppliers and not self.rules.isolation_mode:
            raise ValueError(
                f"aave.isolated_collateral_suppliers: {self.preset} has no "
                "ISOLATED_COLLATERAL_SUPPLIER_ROLE (Aave v3.3/v3.5 only; v3.6 removed it); "
                "use aave-v3.3 or aave-v3.5")
        names = ("debt_ceiling", "borrowable_in_isolation", "siloed_borrowing")
        for symbol, m in sorted(self.markets.items()):
            where = f"markets.{symbol}"
            for name in names:
                if getattr(m, name) and not self.rules.isolation_mode:
                    raise ValueError(
                        f"{where}.{name}: {self.preset} has no isolation mode or siloed "
                        "borrowing (Aave v3.3/v3.5 only; v3.7 removed both, "
                        "docs/3.7/mode-removal.md; use aave-v3.3 or aave-v3.5)")
            scaled = m.debt_ceiling * 10**DEBT_CEILING_DECIMALS
            if scaled != scaled.to_integral_value():
                raise ValueError(f"{where}.debt_ceiling: Aave stores the debt ceiling with "
                                 f"{DEBT_CEILING_DECIMALS} decimals (cents), got "
                                 f"{m.debt_ceiling}")
            if scaled > MAX_VALID_DEBT_CEILING:
                raise ValueError(f"{where}.debt_ceiling: at most "
                                 f"{Decimal(MAX_VALID_DEBT_CEILING) / 100} (Aave's "
                                 f"MAX_VALID_DEBT_CEILING, 2**40 - 1 cents), got "
                                 f"{m.debt_ceiling}")
            if m.debt_ceiling and not m.collateral:
                raise ValueError(f"{where}.debt_ceiling: {symbol} is not collateral; a debt "
                                 "ceiling bounds the debt backed by an isolated collateral")
            if (m.borrowable_in_isolation and m.decimals < DEBT_CEILING_DECIMALS
                    and any(o.debt_ceiling for o in self.markets.values())):
                raise ValueError(f"{where}.borrowable_in_isolation: {symbol} has "
                                 f"{m.decimals} decimals; isolated debt is counted in "
                                 f"amount / 10**(decimals - {DEBT_CEILING_DECIMALS}), which "
                                 "needs 2 decimals or more")

    def emode_category(self, category_id: int) -> EModeCategory | None:
        """The e-mode category ``category_id`` (``None`` for 0, or an id not configured:
        Aave reads an unset category as all zeros)."""
        if category_id == 0 or self.emode is None:
            return None
        return self.emode.categories.get(category_id)

    def _check_aave_rate_strategy(self) -> None:
        """Aave's ``DefaultReserveInterestRateStrategyV2._setInterestRateParams``
        (aave-dao/aave-v3-origin@4fbd7442, ``src/contracts/misc/``): the four parameters
        are whole basis points (``_bpsToRay``), the optimal usage is within 1%-99%
        (``MIN_OPTIMAL_POINT``, ``MAX_OPTIMAL_POINT``) and ``slope1 <= slope2``. Only for
        the Aave families' pooled reserves."""
        from marginengine.config.families import InitialCheck, LiquidationMechanism

        rules = self.rules
        if (rules.initial_check not in (InitialCheck.AAVE_LTV, InitialCheck.AAVE_LTV_CEIL)
                or rules.liquidation not in (LiquidationMechanism.CLOSE_FACTOR,
                                             LiquidationMechanism.AUCTION)):
            return
        for symbol, market in sorted(self.markets.items()):
            model = market.interest_rate
            where = f"markets.{symbol}.interest_rate"
            for name in ("base", "slope1", "slope2", "optimal_utilization"):
                value: Decimal = getattr(model, name)
                if value * BPS != (value * BPS).to_integral_value():
                    raise ValueError(f"{where}.{name}: Aave's rate strategy stores whole "
                                     f"basis points (0.0001), got {value}")
            if not Decimal("0.01") <= model.optimal_utilization <= Decimal("0.99"):
                raise ValueError(f"{where}.optimal_utilization: must be within 1% and 99% "
                                 "(Aave's MIN_OPTIMAL_POINT, MAX_OPTIMAL_POINT), got "
                                 f"{model.optimal_utilization}")
            if model.slope1 > model.slope2:
                raise ValueError(f"{where}.slope1: must not exceed slope2 (Aave's "
                                 f"Slope2MustBeGteSlope1), got {model.slope1} > {model.slope2}")

    def _check_representable(self) -> None:
        """Refuse amounts and fractions finer than the integer they become (the rules read
        them as ``int(x * unit)``, which would truncate silently)."""
        checks: list[tuple[str, Decimal, int]] = []
        compound = self.compound
        if compound is not None and compound.base_asset in self.markets:
            decimals = self.markets[compound.base_asset].decimals
            checks += [("compound.target_reserves", compound.target_reserves, decimals),
                       ("compound.base_borrow_min", compound.base_borrow_min, decimals)]
        if compound is not None:
            checks.append(("compound.store_front_price_factor",
                           compound.store_front_price_factor, 18))  # FACTOR_SCALE
        if compound is not None and compound.interest is not None:
            for name in COMET_INTEREST_FIELDS:
                checks.append((f"compound.interest.{name}", getattr(compound.interest, name),
                               18))  # FACTOR_SCALE
        for symbol, m in self.markets.items():
            for name in ("base", "slope1", "slope2", "optimal_utilization"):
                checks.append((f"markets.{symbol}.interest_rate.{name}",
                               getattr(m.interest_rate, name), 27))  # ray
        if self.auction is not None:
            for name in ("chop", "dust", "Hole", "hole", "chip", "tip", "beg"):
                checks.append((f"auction.{name}", getattr(self.auction, name), 18))  # wad
            for name in ("dunk", "line", "Line"):
                if getattr(self.auction, name) is not None:
                    checks.append((f"auction.{name}", getattr(self.auction, name), 18))
            for name in ("buf", "cusp", "cut"):
                checks.append((f"auction.{name}", getattr(self.auction, name), 27))  # ray
        for name, morpho in self.morpho.items():
            for field in ("lltv", "fee", "borrow_rate"):
                checks.append((f"morpho.{name}.{field}", getattr(morpho, field), 18))  # wad
        for field, value, decimals in checks:
            scaled = value * 10**decimals
            if scaled != scaled.to_integral_value():
                raise ValueError(f"{field}: {value} has more than {decimals} decimals and "
                                 "cannot be held exactly")

    def _check_morpho(self) -> None:
        from marginengine.config.families import LiquidationMechanism

        is_morpho = self.rules.liquidation is LiquidationMechanism.MORPHO
        if self.morpho and not is_morpho:
            raise ValueError(f"morpho: {self.preset} has no Morpho markets "
                             "(preset = \"morpho-blue\")")
        if is_morpho and not self.morpho:
            raise ValueError("morpho: morpho-blue needs at least one market")
        for name, m in self.morpho.items():
            for side in ("loan", "collateral"):
                asset = getattr(m, side)
                if asset not in self.markets:
                    raise ValueError(f"morpho.{name}.{side}: unknown asset {asset!r} "
                                     f"(markets: {', '.join(sorted(self.markets))})")
            if m.loan == m.collateral:
                raise ValueError(f"morpho.{name}: loan and collateral must differ")

    def _check_liquity(self) -> None:
        from marginengine.config.families import LiquidationMechanism

        is_liquity = self.rules.liquidation is LiquidationMechanism.LIQUITY
        lq = self.liquity
        if lq is not None and not is_liquity:
            raise ValueError(f"liquity: {self.preset} has no troves "
                             "(preset = \"liquity-v1\" or \"liquity-v1-2025\")")
        if lq is None:
            if is_liquity:
                raise ValueError(f"liquity: {self.preset} needs a [liquity] table "
                                 "(collateral, debt)")
            return
        for side in ("collateral", "debt"):
            asset = getattr(lq, side)
            if asset not in self.markets:
                raise ValueError(f"liquity.{side}: unknown asset {asset!r} "
                                 f"(markets: {', '.join(sorted(self.markets))})")
            if self.markets[asset].decimals != 18:
                raise ValueError(f"liquity.{side}: {asset} must have 18 decimals (wei)")
        if lq.collateral == lq.debt:
            raise ValueError("liquity: collateral and debt must differ")
        scaled = lq.base_rate * 10**18
        if scaled != scaled.to_integral_value():
            raise ValueError(f"liquity.base_rate: {lq.base_rate} has more than 18 decimals "
                             "and cannot be held exactly")

    def _check_own_state_families(self) -> None:
        from marginengine.config.families import LiquidationMechanism

        is_euler = self.rules.liquidation is LiquidationMechanism.EULER
        if self.euler is not None and not is_euler:
            raise ValueError(f"euler: {self.preset} has no Euler vault (preset = \"euler-v2\")")
        if is_euler:
            if self.euler is None:
                raise ValueError("euler: euler-v2 needs an [euler] table (vault, collaterals)")
            problem = euler_problem(self.euler, {s: m.decimals for s, m in self.markets.items()})
            if problem:
                raise ValueError(problem)
        is_mango = self.rules.liquidation is LiquidationMechanism.MANGO
        if self.mango is not None and not is_mango:
            raise ValueError(f"mango: {self.preset} has no Mango group (preset = \"mango-v4\")")
        if is_mango:
            if self.mango is None:
                raise ValueError("mango: mango-v4 needs a [mango] table (quote, tokens)")
            problem = mango_problem(self.mango, {s: m.decimals for s, m in self.markets.items()})
            if problem:
                raise ValueError(problem)
        is_drift = self.rules.liquidation is LiquidationMechanism.DRIFT
        if self.drift is not None and not is_drift:
            raise ValueError(f"drift: {self.preset} has no Drift markets (preset = \"drift-v2\")")
        if is_drift:
            if self.drift is None:
                raise ValueError("drift: drift-v2 needs a [drift] table (quote, spot)")
            problem = drift_problem(self.drift, {s: m.decimals for s, m in self.markets.items()})
            if problem:
                raise ValueError(problem)

    def truncations(self) -> list[str]:
        """Warnings for every factor stored with less precision than configured (Comet
        keeps 4 decimals of each asset factor, truncated: ``descale = FACTOR_SCALE / 1e4``
        in ``CometConfiguration``/``Comet.getPackedAssetInternal``, and whole tokens of
        each supply cap, ``uint64(supplyCap / 10**decimals)``)."""
        if not self.rules.per_asset_factors:
            return []
        out = []
        for symbol, m in sorted(self.markets.items()):
            for name in COMET_FACTORS:
                value = getattr(m, name)
                stored = Decimal(_truncated_bps(value)) / BPS
                if stored != value:
                    out.append(f"markets.{symbol}.{name}: {value} is stored as {stored} "
                               "(Comet keeps 4 decimals, truncated)")
            cap = m.supply_cap
            if cap is not None and cap != int(cap):
                out.append(f"markets.{symbol}.supply_cap: {cap} is stored as {int(cap)} "
                           "(Comet keeps whole tokens, truncated)")
        # storeFrontPriceFactor is kept whole at 18 decimals, as Comet keeps it: nothing to
        # report (CompoundRules.store_front_price_factor_scaled).
        return out

    @property
    def rules(self) -> LendingRules:
        """The preset resolved into explicit rules (see :mod:`marginengine.config.families`)."""
        return lending_rules(self.preset, self.auction is not None)

    @property
    def perp_quote_asset(self) -> str | None:
        """The lending market every perp settles in (``None`` without perp markets)."""
        quotes = sorted({p.quote for p in self.perps.values()})
        return quotes[0] if quotes else None

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
