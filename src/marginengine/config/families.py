"""Rule families: a preset resolved once into explicit rules.

Nothing outside ``config`` compares a preset name: the engine, the margin models, the
ledger and the risk book read the :class:`ProtocolRules` of the configuration
(``config.rules``). Adding a lending family (Morpho, Euler, Liquity) means adding its
:class:`LendingRules` here (and, where it has a rule of its own, a rules module), not
changing the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache

from marginengine.config.protocol_families import StabilityPoolVariant
from marginengine.decisions import Code
from marginengine.fixedpoint import Rounding


class CollateralModel(Enum):
    """How collateral weights combine into the value that backs debt."""

    #: Aave v3 ``GenericLogic.calculateUserAccountData``: average LTV and threshold
    #: weighted by collateral value, then ``percentMul(collateral, avg)``.
    AVERAGED_THRESHOLD = "averaged_threshold"
    #: Comet ``isBorrowCollateralized`` / ``isLiquidatable``: each collateral's value
    #: times its own factor, summed.
    PER_ASSET_FACTORS = "per_asset_factors"


class InitialCheck(Enum):
    """How a borrow (or a withdrawal, for Comet) is checked against initial margin."""

    #: Aave v3.3 ``ValidationLogic.validateBorrow``: ``percentDiv(debt, avgLtv) >
    #: collateral`` refuses (half up; a zero average LTV refuses any debt).
    AAVE_LTV = "aave_ltv"
    #: Aave v3.5+ ``validateHFAndLtv``/``validateBorrow``: ``collateral >=
    #: percentDivCeil(debt, avgLtv)`` is required.
    AAVE_LTV_CEIL = "aave_ltv_ceil"
    #: Comet: the borrow-factor-weighted collateral must cover the debt.
    WEIGHTED_VALUE = "weighted_value"


class WithdrawCheck(Enum):
    """What a withdrawal of collateral must keep."""

    #: Aave ``validateHFAndLtv``: the health factor stays at or above 1.
    HEALTH_FACTOR = "health_factor"
    #: Comet ``withdrawCollateral``: the account stays borrow-collateralized.
    INITIAL_MARGIN = "initial_margin"


class Compounding(Enum):
    """How the borrow index grows over one accrual period."""

    #: Aave v3.0-v3.3 ``MathUtils.calculateCompoundedInterest``: ``1 + n r + n(n-1) r^2/2
    #: + n(n-1)(n-2) r^3/6`` with ``r`` the per-second rate and its powers truncated in
    #: ray (aave-dao/aave-v3-origin@v3.3.0 ``src/contracts/protocol/libraries/math/
    #: MathUtils.sol``).
    TAYLOR3 = "taylor3"
    #: Aave v3.4+ ``calculateCompoundedInterest``: ``x = rate x t / year`` (floored), then
    #: ``1 + x + rayMul(x, x/2 + rayMul(x, x/6))`` (aave-dao/aave-v3-origin@v3.4.0 and
    #: v3.7.0 4fbd7442, same file).
    TAYLOR3_RATE_TIME = "taylor3_rate_time"
    #: Compound III: simple interest over the period (compounding only across accruals).
    LINEAR = "linear"
    #: Exact per-second compounding: ``rpow(1 + r/Y, t)``.
    EXACT = "exact"


class HealthFormula(Enum):
    """How the health factor's division is written (it changes the rounding)."""

    #: Aave v3.3 ``calculateUserAccountData``:
    #: ``percentMul(totalCollateral, avgLT).wadDiv(totalDebt)`` (both half up).
    PERCENT_MUL_THEN_WAD_DIV = "percent_mul_then_wad_div"
    #: Aave v3.5+: ``wadDiv(sum(C_i x LT_i), totalDebt) / 1e4`` (half up, then down).
    WAD_DIV_SUM_THEN_BPS = "wad_div_sum_then_bps"
    #: Comet: ``sum(C_i x factor_i) / debt`` rounded down (per-asset factors).
    PER_ASSET_DOWN = "per_asset_down"


@dataclass(frozen=True)
class LiquidationRounding:
    """The rounding of each step of Aave's close-factor liquidation
    (``LiquidationLogic._calculateAvailableCollateralToLiquidate`` and the close-factor
    and dust checks of ``executeLiquidationCall``)."""

    debt_base: Rounding       # the reserve's debt in base currency (close factor, dust rule)
    max_collateral: Rounding  # baseCollateral x liquidationBonus
    debt_needed: Rounding     # collateral value / liquidationBonus, when collateral is short
    bonus_base: Rounding      # collateralAmount / liquidationBonus (the bonus's base)
    protocol_fee: Rounding    # bonusCollateral x liquidationProtocolFee
    #: v3.7: "no collateral left" (the deficit rule) compares the base value of the scaled
    #: balance the burn and the fee transfer consume (each ``rayDivCeil``, capped at the
    #: balance) with the account's collateral; before, the base value of the collateral
    #: amount (docs/3.7/liquidation-rounding.md, LiquidationLogic.sol ``hasNoCollateralLeft``).
    scaled_consumption: bool = False


#: v3.3: half up everywhere, debt in base currency floored.
ROUNDING_V3_3 = LiquidationRounding(Rounding.DOWN, Rounding.HALF_UP, Rounding.HALF_UP,
                                    Rounding.HALF_UP, Rounding.HALF_UP)
#: v3.5: debt in base currency ``mulDivCeil``; ``debtAmountNeeded`` ``percentDivCeil``.
ROUNDING_V3_5 = LiquidationRounding(Rounding.UP, Rounding.HALF_UP, Rounding.UP,
                                    Rounding.HALF_UP, Rounding.HALF_UP)
#: v3.7 (docs/3.7/liquidation-rounding.md): ``percentMulFloor``, ``percentDivFloor``,
#: ``percentMulCeil`` for the collateral, the bonus's base and the protocol fee.
ROUNDING_V3_7 = LiquidationRounding(Rounding.UP, Rounding.DOWN, Rounding.UP, Rounding.DOWN,
                                    Rounding.UP, scaled_consumption=True)


class EModeRules(Enum):
    """Which Aave efficiency mode a version has (aave-dao/aave-v3-origin; docs/3.2,
    docs/3.6, docs/3.7)."""

    #: v3.2-v3.5 liquid e-modes: a category's ``collateralBitmap`` and ``borrowableBitmap``.
    #: The reserve configuration still governs: a collateral whose reserve LTV is 0 keeps
    #: LTV 0 in e-mode, and a borrow needs ``borrowingEnabled`` and the category's bit
    #: (``GenericLogic.calculateUserAccountData``, ``ValidationLogic.validateBorrow``);
    #: ``validateSetUserEMode`` checks only the borrowed assets of a category other than 0.
    LIQUID = "liquid"
    #: v3.6+ (docs/3.6 "eMode Improvements"): e-mode decoupled from the reserve
    #: configuration. ``getUserReserveLtv`` gives a category collateral the category's LTV
    #: (0 if in its ``ltvzeroBitmap``); in e-mode the borrowable bit replaces
    #: ``borrowingEnabled``; ``validateSetUserEMode`` checks every borrowed asset and every
    #: collateral against the target (``InvalidDebtInEmode``, ``InvalidCollateralInEmode``).
    DECOUPLED = "decoupled"
    #: v3.7 (docs/3.7/isolated-emode.md): as v3.6, plus a category may be ``isolated``:
    #: collateral outside it has LTV 0 inside it.
    ISOLATED = "isolated"


class LiquidationMechanism(Enum):
    """How an unhealthy lending account is liquidated."""

    CLOSE_FACTOR = "close_factor"   # Aave v3 liquidationCall (event Liquidate)
    ABSORB = "absorb"               # Comet absorb + buyCollateral (Absorb, BuyCollateral)
    AUCTION = "auction"             # Maker Dog/Clipper or Cat/Flipper (Bark, Take, ...)
    MORPHO = "morpho"               # Morpho Blue liquidate (MorphoLiquidate)
    LIQUITY = "liquity"             # Liquity v1 troves (LiquityLiquidate, ...)
    EULER = "euler"                 # Euler v2 vault (EulerLiquidate)
    MANGO = "mango"                 # Mango v4 group (token and perp liquidation, bankruptcy)
    DRIFT = "drift"                 # Drift v2 (DriftLiquidateSpot, DriftLiquidatePerp, ...)


@dataclass(frozen=True)
class StorageWidths:
    """The widths a lending protocol stores its indices and balances in, as the reverts
    of its casts: a result beyond one is refused (``SAFECAST_OVERFLOW``), as the
    protocol's transaction would revert, instead of being held beyond what it can store.

    Attributes
    ----------
    index_bits, index_unit, index_revert
        The liquidity and borrow indices: ``index // index_unit`` (the ledger keeps rays;
        Comet's indices are at 1e15, a ray / 1e12) must fit ``index_bits`` unsigned bits,
        else ``index_revert`` (the protocol's error).
    balance_bits, balance_revert
        An account's scaled balance (supply or debt), in magnitude.
    total_bits, total_revert
        The reserve's scaled totals; ``None``: a uint256 (no bound beyond the amounts').
    base_only
        Comet: the widths are the base asset's (collateral earns no interest; its
        balances are uint128, see ``collateral_bits``).
    collateral_bits
        Comet: a collateral balance and total (``safe128``, ``uint128`` storage).
    clock_bits, clock_revert
        The protocol's clock: a time (seconds) must be below ``2**clock_bits``, else every
        call reverts ``clock_revert``; ``None``: not bounded. Comet's ``getNowInternal``
        reverts ``TimestampTooLarge`` at ``block.timestamp >= 2**40`` (it returns a
        ``uint40``).
    """

    index_bits: int
    index_unit: int
    index_revert: str
    balance_bits: int
    balance_revert: str
    total_bits: int | None = None
    total_revert: str = ""
    base_only: bool = False
    collateral_bits: int | None = None
    clock_bits: int | None = None
    clock_revert: str = ""

    @property
    def index_limit(self) -> int:
        """The largest ledger (ray) index whose stored value fits: one comparison a check."""
        return ((1 << self.index_bits) - 1) * self.index_unit + self.index_unit - 1


#: Aave v3.3 (aave-dao/aave-v3-origin@v3.3.0): ``ReserveLogic._updateIndexes`` stores both
#: indices with ``SafeCast.toUint128`` ("SafeCast: value doesn't fit in 128 bits",
#: ``src/contracts/dependencies/openzeppelin/contracts/SafeCast.sol``);
#: ``ScaledBalanceTokenBase._mintScaled`` casts the scaled amount ``toUint128`` into
#: ``IncentivizedERC20.UserState.balance`` (``uint128``), a checked add; ``_totalSupply``
#: is a ``uint256``.
AAVE_V3_3_WIDTHS = StorageWidths(
    index_bits=128, index_unit=1,
    index_revert="SafeCast: value doesn't fit in 128 bits",
    balance_bits=128, balance_revert="SafeCast: value doesn't fit in 128 bits")
#: Aave v3.4+ (v3.5.0, v3.7.0 4fbd7442): the indices as in v3.3, with OpenZeppelin 5's
#: ``SafeCastOverflowedUintDowncast(128, value)``; ``UserState.balance`` is a ``uint120``
#: (``amountScaled.toUint120()``).
AAVE_V3_5_WIDTHS = StorageWidths(
    index_bits=128, index_unit=1, index_revert="SafeCastOverflowedUintDowncast",
    balance_bits=120, balance_revert="SafeCastOverflowedUintDowncast")
#: Compound III (compound-finance/comet@d5a30b0a): ``baseSupplyIndex``/``baseBorrowIndex``
#: are ``uint64`` (``CometStorage.sol``), ``accruedInterestIndices`` adds
#: ``safe64(mulFactor(...))`` with a checked ``uint64`` add (``InvalidUInt64`` or panic
#: 0x11); a principal is an ``int104`` (``principalValue``: ``signed104(safe104(...))``,
#: ``InvalidInt104``); ``totalSupplyBase``/``totalBorrowBase`` are ``uint104`` with checked
#: adds (``supplyBase``, ``withdrawBase``); collateral is ``uint128`` (``safe128``,
#: ``totalsCollateral``, ``userCollateral``; ``Comet.sol``, ``CometMath.sol``); the clock
#: is a ``uint40``: ``getNowInternal`` reverts ``TimestampTooLarge`` from ``2**40`` on
#: (``Comet.sol``; ``test/accrue-test.ts`` "supports up to the maximum timestamp then
#: breaks").
COMET_WIDTHS = StorageWidths(
    index_bits=64, index_unit=10**12, index_revert="InvalidUInt64",
    balance_bits=103, balance_revert="InvalidInt104",
    total_bits=104, total_revert="panic 0x11 (uint104 totalSupplyBase/totalBorrowBase)",
    base_only=True, collateral_bits=128, clock_bits=40, clock_revert="TimestampTooLarge")


@dataclass(frozen=True)
class RefusalCodes:
    """The family's own names for its refusals."""

    withdraw_unhealthy: Code
    borrow_uncovered: Code
    not_liquidatable: Code
    supply_cap: Code


#: Events every family accepts (prices, time, market conditions, perps).
COMMON_EVENTS: frozenset[str] = frozenset({
    "Deposit", "Withdraw", "Borrow", "Repay", "SetPrice", "AdvanceTime", "SetConditions",
    "SetSequencer", "DepositQuote", "WithdrawQuote", "TransferQuote", "Trade",
    "LiquidatePerp", "FundInsurance", "SetRiskParams", "SetCrowding",
    # an account as it stands, at genesis (engine/lending_handlers.py import_account)
    "ImportAccount",
    # options (engine/option_handlers.py): refused unless the protocol has [options]
    "DepositOptionCash", "WithdrawOptionCash", "TradeOption", "SettleOption", "SetVolSurface",
    "SetSviSurface",
    # Derive's portfolio auction (engine/portfolio_auction_handlers.py), options too
    "FundSecurityModule", "StartPortfolioAuction", "BidPortfolioAuction",
    "TerminatePortfolioAuction", "ConvertToInsolventAuction",
})
MECHANISM_EVENTS: dict[LiquidationMechanism, frozenset[str]] = {
    LiquidationMechanism.CLOSE_FACTOR: frozenset({"Liquidate"}),
    LiquidationMechanism.ABSORB: frozenset({"Absorb", "BuyCollateral"}),
    LiquidationMechanism.AUCTION: frozenset({"Bark", "Take", "Redo", "Tend", "Dent", "Deal",
                                             "Tick"}),
    LiquidationMechanism.MORPHO: frozenset({"MorphoLiquidate"}),
    LiquidationMechanism.LIQUITY: frozenset({"LiquityLiquidate", "LiquityLiquidateTroves",
                                             "LiquityBatchLiquidate"}),
    LiquidationMechanism.EULER: frozenset({"EulerLiquidate"}),
    LiquidationMechanism.MANGO: frozenset(),
    LiquidationMechanism.DRIFT: frozenset({"DriftLiquidateSpot", "DriftLiquidatePerp",
                                           "DriftResolvePerpBankruptcy"}),
}
#: Market inputs every family accepts, Morpho included.
MARKET_EVENTS: frozenset[str] = frozenset({"SetPrice", "AdvanceTime", "SetConditions",
                                           "SetSequencer"})
#: Morpho Blue's actions on its isolated markets (engine/morpho_handlers.py).
MORPHO_EVENTS: frozenset[str] = frozenset({
    "MorphoSupply", "MorphoWithdraw", "MorphoBorrow", "MorphoRepay",
    "MorphoSupplyCollateral", "MorphoWithdrawCollateral", "MorphoLiquidate",
    "MorphoAccrueInterest"})
#: Liquity v1's actions on troves and the stability pool (engine/liquity_handlers.py).
LIQUITY_EVENTS: frozenset[str] = frozenset({
    "LiquityOpenTrove", "LiquityAdjustTrove", "LiquityCloseTrove", "LiquityProvideToSP",
    "LiquityWithdrawFromSP", "LiquityLiquidate", "LiquityLiquidateTroves",
    "LiquityBatchLiquidate", "LiquityRedeemCollateral"})
#: Euler v2's actions on its vault (engine/euler_handlers.py).
EULER_EVENTS: frozenset[str] = frozenset({
    "EulerDeposit", "EulerWithdraw", "EulerDepositCollateral", "EulerWithdrawCollateral",
    "EulerBorrow", "EulerRepay", "EulerSetLTV", "EulerLiquidate"})
#: Mango v4's actions on its accounts (engine/mango_handlers.py).
MANGO_EVENTS: frozenset[str] = frozenset({
    "MangoDeposit", "MangoWithdraw", "MangoPerpTrade", "MangoPerpOrders",
    "MangoSetStablePrice", "MangoLiqTokenWithToken", "MangoTokenLiqBankruptcy",
    "MangoPerpLiqBaseOrPositivePnl", "MangoPerpLiqNegativePnlOrBankruptcy",
    "MangoPerpSettlePnl", "MangoPerpUpdateFunding"})
#: Drift v2's actions on its cross-margin accounts (engine/drift_handlers.py).
DRIFT_EVENTS: frozenset[str] = frozenset({
    "DriftDeposit", "DriftWithdraw", "DriftPerpTrade", "DriftLiquidateSpot",
    "DriftLiquidatePerp", "DriftResolvePerpBankruptcy", "DriftResolveSpotBankruptcy",
    "DriftLiquidatePerpPnlForDeposit", "DriftSetUserStatusToBeingLiquidated",
    "DriftEnableHighLeverageMode", "DriftDisableHighLeverageMode"})
#: The families with state of their own, each with its events and what it is called.
ISOLATED_EVENTS: dict[LiquidationMechanism, tuple[frozenset[str], str]] = {
    LiquidationMechanism.MORPHO: (MORPHO_EVENTS, "isolated markets: use the Morpho* events "
                                                 "(MorphoSupply, MorphoBorrow, ...)"),
    LiquidationMechanism.LIQUITY: (LIQUITY_EVENTS, "troves: use the Liquity* events "
                                                   "(LiquityOpenTrove, LiquityLiquidate, ...)"),
    LiquidationMechanism.EULER: (EULER_EVENTS, "an Euler vault: use the Euler* events "
                                               "(EulerDeposit, EulerBorrow, ...)"),
    LiquidationMechanism.MANGO: (MANGO_EVENTS, "a Mango group: use the Mango* events "
                                               "(MangoDeposit, MangoWithdraw, ...)"),
    LiquidationMechanism.DRIFT: (DRIFT_EVENTS, "Drift markets: use the Drift* events "
                                               "(DriftDeposit, DriftWithdraw, ...)"),
}


@dataclass(frozen=True)
class LendingRules:
    """The lending rules of one family, explicit.

    Attributes
    ----------
    family
        The preset's name (for display only: nothing compares it).
    collateral_model, health_rounding
        How account data is computed and how the health factor's division rounds.
    initial_check, withdraw_check
        How borrows and withdrawals are checked.
    signed_base_balance
        Comet: one signed balance of the base asset, so a deposit repays first and a
        borrow is refused while the account supplies the asset.
    compounding, treasury_takes_reserve_factor
        Interest: how the borrow index grows; whether the reserve factor is minted to a
        treasury (Aave) or kept in reserves (Comet).
    liquidation
        The liquidation mechanism (with an ``[auction]`` table: the auction).
    events
        Event types the family accepts; any other is refused (``EVENT_NOT_SUPPORTED``).
    unsupported
        The message for each event type it refuses.
    codes
        The family's names for its refusals.
    min_borrow
        Comet's ``baseBorrowMin`` applies.
    health_formula, debt_value_rounding, ltv_rounding
        Account data: how the health factor is divided, how a debt's base-currency value
        rounds (v3.3 floors it, v3.5+ ``mulDivCeil``, Comet's ``signedMulPrice`` truncates
        toward zero), how ``collateral x LTV`` rounds (v3.5+ ``percentMulFloor``).
    debt_balance_rounding
        How an account's debt is read from its scaled debt and the borrow index (up by
        default; Comet's ``presentValueBorrow`` floors ``principal x index / 1e15``).
    liquidation_rounding
        The rounding of each step of a close-factor liquidation.
    sentinel
        Whether the version has Aave's PriceOracleSentinel (removed in v3.7).
    deficit_in_supply_usage
        Aave: the reserve's deficit joins the denominator of the supply usage ratio, so
        suppliers earn nothing on the written-off debt (``ReserveLogic.
        updateInterestRatesAndVirtualBalance`` passes it as ``unbacked`` since v3.3).
    treasury_accrual_floor
        Aave v3.5+: the debt accrued for the reserve factor is ``rayMulFloor(scaledDebt,
        index delta)`` ("undermint to treasury", aave-dao/aave-v3-origin 98148ea1); before,
        the difference of two half-up ``rayMul``.
    borrow_hf_strict
        Aave v3.3's ``validateBorrow`` wants the health factor *above* 1 before a borrow
        (``healthFactor > HEALTH_FACTOR_LIQUIDATION_THRESHOLD``); v3.5+ check only after it.
    liquity_pool
        Liquity only: the stability-pool rule (legacy, or the 2025 pool keeping 1 LUSD).
    emode
        The version's efficiency mode (``None``: the family has none).
    collateral_off_when_no_collateral_left
        Aave v3.7: a liquidation that consumes all the account's collateral value
        (``hasNoCollateralLeft``) switches the seized reserve off as collateral even when a
        few wei worth 0 in base currency are left (``LiquidationLogic.sol``,
        aave-dao/aave-v3-origin@4fbd7442); v3.3 and v3.5 only when the whole balance goes.
    isolation_mode
        Aave v3.3/v3.5: isolation mode (per-reserve debt ceilings, ``borrowable in
        isolation``), siloed borrowing and ``validateAutomaticUseAsCollateral``'s gate on
        isolated assets (``IsolationModeLogic.sol``, ``ValidationLogic.sol`` at v3.3.0 and
        v3.5.0); v3.7 removed them (``docs/3.7/mode-removal.md``) and switches an asset on
        when its LTV in the account's e-mode is not 0 (``validateUseAsCollateral``).
    automatic_collateral_on_receipt
        Aave v3.3/v3.5: aTokens received into an empty balance (a liquidator taking
        aTokens) are switched on as collateral when ``validateAutomaticUseAsCollateral``
        allows; v3.6 removed it (``docs/3.6/Aave-v3.6-features.md`` "Automatic Collateral
        Behavior"): only a first supply is switched on.
    atoken_repay_health_check
        Aave v3.5+: a repayment with aTokens that burns collateral of an indebted account
        asks ``validateHealthFactor`` after it (``BorrowLogic.executeRepay``); v3.3 not.
    widths
        The protocol's storage widths (:class:`StorageWidths`), whose casts revert
        beyond them; ``None``: not modelled (the family keeps state of its own).
    custom_errors
        Aave v3.4+: ``Errors.sol`` declares custom errors (``ReservePaused()``); v3.3 has
        string codes (``RESERVE_PAUSED``). Refusals keep one stable code either way and
        name the version's error in ``data["error"]`` where they add it.
    freeze_ltvzero
        Aave v3.6+: ``setReserveFreeze(asset, true)`` zeroes the LTV by
        ``_setReserveLtvzero`` (nothing put aside when it is 0 already) and sets the
        asset's bit in the ``ltvzeroBitmap`` of every e-mode category holding it as
        collateral; unfreezing restores neither. v3.3/v3.5: the freeze puts the LTV aside
        as pending and the unfreeze sets it back (``PoolConfigurator.sol``).
    comet_supply_caps
        Compound III: a collateral's supply cap is Comet's (``supplyCollateral``:
        ``totalSupplyAsset + amount > supplyCap`` reverts ``SupplyCapExceeded``), kept in
        whole tokens (``getPackedAssetInternal``: ``uint64(supplyCap / 10**decimals)``), so
        a cap of 0 refuses every supply (:attr:`~marginengine.config.MarketConfig.
        comet_supply_cap_units`); the base asset has none (``supplyBase``). Elsewhere 0 is
        no cap (Aave's ``validateSupply``).
    version
        The protocol code the family follows (for docs and messages).
    """

    family: str
    collateral_model: CollateralModel
    health_rounding: Rounding
    initial_check: InitialCheck
    withdraw_check: WithdrawCheck
    signed_base_balance: bool
    compounding: Compounding
    treasury_takes_reserve_factor: bool
    liquidation: LiquidationMechanism
    events: frozenset[str]
    unsupported: dict[str, str]
    codes: RefusalCodes
    min_borrow: bool
    health_formula: HealthFormula = HealthFormula.PERCENT_MUL_THEN_WAD_DIV
    debt_value_rounding: Rounding = Rounding.UP
    ltv_rounding: Rounding = Rounding.HALF_UP
    debt_balance_rounding: Rounding = Rounding.UP
    liquidation_rounding: LiquidationRounding = ROUNDING_V3_3
    sentinel: bool = False
    deficit_in_supply_usage: bool = False
    treasury_accrual_floor: bool = False
    borrow_hf_strict: bool = False
    liquity_pool: StabilityPoolVariant | None = None
    emode: EModeRules | None = None
    collateral_off_when_no_collateral_left: bool = False
    isolation_mode: bool = False
    automatic_collateral_on_receipt: bool = False
    atoken_repay_health_check: bool = False
    widths: StorageWidths | None = None
    custom_errors: bool = False
    freeze_ltvzero: bool = False
    comet_supply_caps: bool = False
    version: str = ""

    @property
    def per_asset_factors(self) -> bool:
        """Whether collateral factors apply per asset (Comet) rather than averaged."""
        return self.collateral_model is CollateralModel.PER_ASSET_FACTORS

    def accepts(self, event_type: str) -> bool:
        """Whether the family applies events of this type."""
        return event_type in self.events


_AAVE_CODES = RefusalCodes(
    withdraw_unhealthy=Code.HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD,
    borrow_uncovered=Code.COLLATERAL_CANNOT_COVER_NEW_BORROW,
    not_liquidatable=Code.HEALTH_FACTOR_NOT_BELOW_THRESHOLD,
    supply_cap=Code.SUPPLY_CAP_EXCEEDED,
)
_COMET_CODES = RefusalCodes(
    withdraw_unhealthy=Code.NOT_COLLATERALIZED,
    borrow_uncovered=Code.NOT_COLLATERALIZED,
    not_liquidatable=Code.NOT_LIQUIDATABLE,
    supply_cap=Code.SUPPLY_CAP_EXCEEDED,
)

_AAVE: dict[str, object] = {
    "collateral_model": CollateralModel.AVERAGED_THRESHOLD,
    "health_rounding": Rounding.HALF_UP,
    "withdraw_check": WithdrawCheck.HEALTH_FACTOR,
    "signed_base_balance": False,
    "compounding": Compounding.TAYLOR3,
    "treasury_takes_reserve_factor": True,
    "liquidation": LiquidationMechanism.CLOSE_FACTOR,
    "codes": _AAVE_CODES,
    "min_borrow": False,
    "deficit_in_supply_usage": True,
}
#: Aave v3 versions, each as its code (aave-dao/aave-v3-origin, tags v3.3.0, v3.5.0 and
#: the v3.7.0 commit 4fbd7442): ``src/contracts/protocol/libraries/logic/GenericLogic.sol``,
#: ``ValidationLogic.sol``, ``LiquidationLogic.sol``, ``math/WadRayMath.sol``,
#: ``math/PercentageMath.sol``, ``helpers/TokenMath.sol``. See docs/presets.md.
AAVE_V3_3: dict[str, object] = {
    **_AAVE, "version": "Aave v3.3.0",
    "health_formula": HealthFormula.PERCENT_MUL_THEN_WAD_DIV,
    "debt_value_rounding": Rounding.DOWN,     # rayMul(...) * price / unit
    "ltv_rounding": Rounding.HALF_UP,         # percentMul
    "initial_check": InitialCheck.AAVE_LTV,   # percentDiv, half up
    "liquidation_rounding": ROUNDING_V3_3,
    "sentinel": True,
    "borrow_hf_strict": True,                 # healthFactor > 1 before the borrow
    "emode": EModeRules.LIQUID,               # v3.2 liquid e-modes
    "isolation_mode": True,                   # IsolationModeLogic, siloed borrowing
    "automatic_collateral_on_receipt": True,  # LiquidationLogic._liquidateATokens
    "widths": AAVE_V3_3_WIDTHS,
}
AAVE_V3_5: dict[str, object] = {
    **_AAVE, "version": "Aave v3.5.0",
    "health_formula": HealthFormula.WAD_DIV_SUM_THEN_BPS,
    "debt_value_rounding": Rounding.UP,       # MathUtils.mulDivCeil
    "ltv_rounding": Rounding.DOWN,            # percentMulFloor
    "initial_check": InitialCheck.AAVE_LTV_CEIL,
    "liquidation_rounding": ROUNDING_V3_5,
    "compounding": Compounding.TAYLOR3_RATE_TIME,  # MathUtils.sol since v3.4.0
    "treasury_accrual_floor": True,           # ReserveLogic._accrueToTreasury
    "sentinel": True,
    "emode": EModeRules.LIQUID,
    "isolation_mode": True,
    "automatic_collateral_on_receipt": True,
    "atoken_repay_health_check": True,        # BorrowLogic.executeRepay
    "widths": AAVE_V3_5_WIDTHS,
    "custom_errors": True,                    # Errors.sol custom errors since v3.4.0
}
AAVE_V3_7: dict[str, object] = {
    **AAVE_V3_5, "version": "Aave v3.7.0",
    "liquidation_rounding": ROUNDING_V3_7,
    "sentinel": False,                        # docs/3.7/sentinel-removal.md
    "emode": EModeRules.ISOLATED,             # v3.6 decoupling + v3.7 isolated e-mode
    "collateral_off_when_no_collateral_left": True,  # v3.7 LiquidationLogic
    "isolation_mode": False,                  # docs/3.7/mode-removal.md
    "automatic_collateral_on_receipt": False,  # removed in v3.6
    "freeze_ltvzero": True,                   # v3.6 PoolConfigurator.setReserveFreeze
}

#: The lending families by preset name, before the liquidation mechanism is chosen.
#: ``aave-v3`` is the latest Aave version.
FAMILIES: dict[str, dict[str, object]] = {
    "aave-v3": AAVE_V3_7,
    "aave-v3.3": AAVE_V3_3,
    "aave-v3.5": AAVE_V3_5,
    "aave-v3.7": AAVE_V3_7,
    # Morpho Blue (morpho-org/morpho-blue@3085651a): isolated markets of config.morpho; the
    # pooled-lending fields below are unused (no pooled reserves take Deposit or Borrow),
    # the rules are margin/morpho.py and liquidation/morpho.py.
    "morpho-blue": {
        **AAVE_V3_7, "widths": None,
        "version": "Morpho Blue",
        "liquidation": LiquidationMechanism.MORPHO,
        "codes": RefusalCodes(
            withdraw_unhealthy=Code.MORPHO_INSUFFICIENT_COLLATERAL,
            borrow_uncovered=Code.MORPHO_INSUFFICIENT_COLLATERAL,
            not_liquidatable=Code.MORPHO_HEALTHY_POSITION,
            supply_cap=Code.SUPPLY_CAP_EXCEEDED,
        ),
    },
    # Liquity v1 (liquity/dev@39f1f7f8): troves and the stability pool of config.liquity;
    # as for Morpho the pooled-lending fields are unused; the rules are margin/liquity.py
    # and liquidation/liquity.py.
    **{name: {
        **AAVE_V3_7, "widths": None,
        "version": "Liquity v1",
        "liquidation": LiquidationMechanism.LIQUITY,
        "liquity_pool": pool,
        "codes": RefusalCodes(
            withdraw_unhealthy=Code.LIQUITY_ICR_BELOW_MCR,
            borrow_uncovered=Code.LIQUITY_ICR_BELOW_MCR,
            not_liquidatable=Code.LIQUITY_NOTHING_TO_LIQUIDATE,
            supply_cap=Code.SUPPLY_CAP_EXCEEDED,
        ),
    } for name, pool in (("liquity-v1", StabilityPoolVariant.LEGACY),
                         ("liquity-v1-2025", StabilityPoolVariant.KEEP_ONE_LUSD))},
    # Euler v2 (euler-xyz/euler-vault-kit@5b98b420): one vault of config.euler lending
    # against its collaterals; as for Morpho the pooled-lending fields are unused; the
    # rules are margin/euler.py and liquidation/euler.py (EVK's custom error names).
    "euler-v2": {
        **AAVE_V3_7, "widths": None,
        "version": "Euler v2 (EVK)",
        "liquidation": LiquidationMechanism.EULER,
        "codes": RefusalCodes(
            withdraw_unhealthy=Code.EULER_ACCOUNT_LIQUIDITY,
            borrow_uncovered=Code.EULER_ACCOUNT_LIQUIDITY,
            not_liquidatable=Code.EULER_ACCOUNT_LIQUIDITY,
            supply_cap=Code.SUPPLY_CAP_EXCEEDED,
        ),
    },
    # Mango v4 (blockworks-foundation/mango-v4@1303a4a1): a group of config.mango (banks,
    # perp markets); the rules are margin/mango.py (health), Mango's error names.
    "mango-v4": {
        **AAVE_V3_7, "widths": None,
        "version": "Mango v4",
        "liquidation": LiquidationMechanism.MANGO,
        "codes": RefusalCodes(
            withdraw_unhealthy=Code.MANGO_HEALTH_MUST_BE_POSITIVE_OR_INCREASE,
            borrow_uncovered=Code.MANGO_HEALTH_MUST_BE_POSITIVE_OR_INCREASE,
            not_liquidatable=Code.MANGO_HEALTH_MUST_BE_NEGATIVE,
            supply_cap=Code.SUPPLY_CAP_EXCEEDED,
        ),
    },
    # Drift v2 (drift-labs/protocol-v2@0ae3e3b1): spot and perp markets of config.drift;
    # the rules are margin/drift.py and liquidation/drift.py, Drift's ErrorCode names.
    "drift-v2": {
        **AAVE_V3_7, "widths": None,
        "version": "Drift v2",
        "liquidation": LiquidationMechanism.DRIFT,
        "codes": RefusalCodes(
            withdraw_unhealthy=Code.DRIFT_INSUFFICIENT_COLLATERAL,
            borrow_uncovered=Code.DRIFT_INSUFFICIENT_COLLATERAL,
            not_liquidatable=Code.DRIFT_SUFFICIENT_COLLATERAL,
            supply_cap=Code.SUPPLY_CAP_EXCEEDED,
        ),
    },
    "compound-v3": {
        "version": "Compound III (Comet)",
        "health_formula": HealthFormula.PER_ASSET_DOWN,
        "collateral_model": CollateralModel.PER_ASSET_FACTORS,
        "health_rounding": Rounding.DOWN,
        "initial_check": InitialCheck.WEIGHTED_VALUE,
        "withdraw_check": WithdrawCheck.INITIAL_MARGIN,
        "signed_base_balance": True,
        # compound-finance/comet contracts/Comet.sol isLiquidatable/isBorrowCollateralized:
        # signedMulPrice(presentValue(principal), price, baseScale) truncates toward zero;
        # CometCore.sol presentValueBorrow floors principal x baseBorrowIndex / 1e15.
        "debt_value_rounding": Rounding.DOWN,
        "debt_balance_rounding": Rounding.DOWN,
        "compounding": Compounding.LINEAR,
        "treasury_takes_reserve_factor": False,
        "liquidation": LiquidationMechanism.ABSORB,
        "codes": _COMET_CODES,
        "min_borrow": True,
        "widths": COMET_WIDTHS,
        "comet_supply_caps": True,
    },
}


#: Events of Aave's pool only (the presets with an e-mode): ``setUserEMode``,
#: ``setUserUseReserveAsCollateral``, ``repayWithATokens``, the configurator's
#: ``setReservePause`` (and its grace period), ``setPoolPause``, ``setReserveFreeze``
#: and ``setReserveActive``.
AAVE_POOL_EVENTS: tuple[str, ...] = ("SetUserEMode", "SetUseAsCollateral", "RepayWithATokens",
                                     "SetLiquidationGracePeriod", "SetReservePause",
                                     "SetPoolPause", "SetReserveFreeze", "SetReserveActive")
#: The configurator's ``setDebtCeiling`` (isolation mode: Aave v3.3/v3.5 only).
AAVE_ISOLATION_EVENTS: tuple[str, ...] = ("SetDebtCeiling",)


def _unsupported(family: str, mechanism: LiquidationMechanism) -> dict[str, str]:
    messages: dict[str, str] = {}
    if mechanism is LiquidationMechanism.AUCTION:
        messages["Liquidate"] = "this protocol liquidates by auction: use Bark"
    else:
        messages["Liquidate"] = f"{family} liquidates by Absorb, not Liquidate"
        for name in MECHANISM_EVENTS[LiquidationMechanism.AUCTION]:
            messages[name] = f"{family} has no auctions; it liquidates directly"
    if mechanism is not LiquidationMechanism.ABSORB:
        messages["Absorb"] = f"{family} liquidates by Liquidate, not Absorb"
        messages["BuyCollateral"] = f"{family} has no BuyCollateral"
    return messages


@cache
def lending_rules(family: str, auction: bool) -> LendingRules:
    """The rules of ``family`` (a preset name), liquidating by auction if ``auction``."""
    spec = dict(FAMILIES[family])
    mechanism = LiquidationMechanism.AUCTION if auction else spec["liquidation"]
    assert isinstance(mechanism, LiquidationMechanism)
    spec["liquidation"] = mechanism
    if mechanism not in (LiquidationMechanism.CLOSE_FACTOR, LiquidationMechanism.AUCTION):
        spec["emode"] = None  # e-mode is Aave's pooled lending
    if mechanism in ISOLATED_EVENTS:
        # State of its own only: the pooled-lending and perp events do not apply, nor
        # another isolated family's.
        own, what = ISOLATED_EVENTS[mechanism]
        events = MARKET_EVENTS | own
        others = frozenset().union(*(e for m, (e, _) in ISOLATED_EVENTS.items()
                                     if m is not mechanism))
        unsupported = {name: f"{family} has {what}"
                       for name in ((COMMON_EVENTS - MARKET_EVENTS) | others
                                    | set(AAVE_POOL_EVENTS) | set(AAVE_ISOLATION_EVENTS)
                                    | frozenset().union(*MECHANISM_EVENTS.values())) - events}
        return LendingRules(family=family, events=events, unsupported=unsupported,
                            **spec)  # type: ignore[arg-type]
    events = COMMON_EVENTS | MECHANISM_EVENTS[mechanism]
    if spec.get("emode") is not None:
        # Aave's pool: e-mode, the per-account collateral switch, repayWithATokens and
        # the reserves' flags and liquidation grace periods.
        events |= set(AAVE_POOL_EVENTS)
    if spec.get("isolation_mode"):
        events |= set(AAVE_ISOLATION_EVENTS)
    unsupported = {k: v for k, v in _unsupported(family, mechanism).items() if k not in events}
    if "SetUserEMode" not in events:
        unsupported["SetUserEMode"] = f"{family} has no efficiency mode (Aave v3's e-mode)"
    if "SetUseAsCollateral" not in events:
        unsupported["SetUseAsCollateral"] = (
            f"{family} has no per-account collateral switch (Aave v3's "
            "setUserUseReserveAsCollateral)")
    if "RepayWithATokens" not in events:
        unsupported["RepayWithATokens"] = (
            f"{family} has no aTokens to repay with (Aave v3's repayWithATokens)")
    if "SetLiquidationGracePeriod" not in events:
        unsupported["SetLiquidationGracePeriod"] = (
            f"{family} has no liquidation grace period (Aave v3.1+'s setReservePause)")
    for name, what in (("SetReservePause", "setReservePause"),
                       ("SetPoolPause", "setPoolPause"),
                       ("SetReserveFreeze", "setReserveFreeze"),
                       ("SetReserveActive", "setReserveActive")):
        if name not in events:
            unsupported[name] = f"{family} has no reserve flags (Aave v3's {what})"
    if "SetDebtCeiling" not in events:
        unsupported["SetDebtCeiling"] = (
            f"{family} has no isolation mode (Aave v3.3/v3.5's setDebtCeiling; v3.7 "
            "removed it, docs/3.7/mode-removal.md)")
    unsupported.update({name: f"{family} has no Morpho markets" for name in MORPHO_EVENTS})
    unsupported.update({name: f"{family} has no troves" for name in LIQUITY_EVENTS})
    unsupported.update({name: f"{family} has no Euler vault" for name in EULER_EVENTS})
    unsupported.update({name: f"{family} has no Mango group" for name in MANGO_EVENTS})
    unsupported.update({name: f"{family} has no Drift markets" for name in DRIFT_EVENTS})
    return LendingRules(family=family, events=events, unsupported=unsupported,
                        **spec)  # type: ignore[arg-type]


__all__ = [
    "AAVE_V3_3_WIDTHS",
    "AAVE_V3_5_WIDTHS",
    "COMET_WIDTHS",
    "COMMON_EVENTS",
    "DRIFT_EVENTS",
    "EULER_EVENTS",
    "FAMILIES",
    "ISOLATED_EVENTS",
    "LIQUITY_EVENTS",
    "MANGO_EVENTS",
    "MARKET_EVENTS",
    "MORPHO_EVENTS",
    "ROUNDING_V3_3",
    "ROUNDING_V3_5",
    "ROUNDING_V3_7",
    "CollateralModel",
    "Compounding",
    "EModeRules",
    "HealthFormula",
    "InitialCheck",
    "LendingRules",
    "LiquidationMechanism",
    "LiquidationRounding",
    "RefusalCodes",
    "StorageWidths",
    "WithdrawCheck",
    "lending_rules",
]
