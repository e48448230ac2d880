"""Typed decisions: every refusal has a stable code, a message for people and its data.

Programs compare :class:`Code` values, never messages: a message may be reworded, a code
may not (the event log stores both, and a replay verifies the code and the data). Where
the protocol a rule follows has its own name for the error, the code's value is that name:

- Aave v3 ``Errors.sol`` (``HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD``,
  ``COLLATERAL_CANNOT_COVER_NEW_BORROW``, ...; aave-dao/aave-v3-origin,
  ``src/contracts/protocol/libraries/helpers/Errors.sol``);
- Compound III's custom errors (``NotLiquidatable``, ``NotForSale``, ``TooMuchSlippage``,
  ``InsufficientReserves``, ...; compound-finance/comet, ``contracts/CometMainInterface.sol``);
- Maker's revert strings (``Dog/not-unsafe``, ``Clipper/not-running-auction``, ...;
  makerdao/dss, ``src/dog.sol``, ``src/clip.sol``, ``src/flip.sol``);
- Derive's (Lyra v2) custom errors (``PMRM_2_InsufficientMargin``, ``DA_InvalidPercentage``,
  ...; derivexyz/v2-core ``src/interfaces/``).

Codes of this engine's own checks (bad arguments, unknown names, prices) are upper-snake
names that no protocol uses.

This module is part of the foundation: every layer may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """Stable refusal codes (the value is what the log stores)."""

    # ---- arguments and names (the engine's own)
    INVALID_AMOUNT = "INVALID_AMOUNT"                      # Aave Errors.INVALID_AMOUNT
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_ACCOUNT_ID = "INVALID_ACCOUNT_ID"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    UNKNOWN_MARKET = "UNKNOWN_MARKET"
    EVENT_NOT_SUPPORTED = "EVENT_NOT_SUPPORTED"
    SELF_LIQUIDATION = "SELF_LIQUIDATION"
    SELF_TRADE = "SELF_TRADE"
    #: A result the protocol cannot store: an index or a balance beyond the width its
    #: storage has (Aave's ``SafeCast.toUint128``, Comet's ``safe64``/``safe104``); the
    #: protocol's transaction reverts. ``data``: ``asset``, ``name``, ``bits``, ``value``,
    #: ``limit`` and ``revert`` (the protocol's error).
    SAFECAST_OVERFLOW = "SAFECAST_OVERFLOW"
    #: The protocol's clock cannot hold the time: Comet's ``getNowInternal`` reverts
    #: ``TimestampTooLarge`` from ``2**40`` seconds on (a ``uint40``). ``data``: ``time``,
    #: ``limit`` (the last time it holds), ``bits``.
    TIMESTAMP_TOO_LARGE = "TimestampTooLarge"
    # ---- ImportAccount (the engine's own): an account booked as it stands, at genesis
    #: A structural problem of the import (``data["field"]`` names it: ``account``,
    #: ``supplied.WETH``, ``borrowed.USDC``, ``emode``); no margin is checked.
    INVALID_IMPORT = "INVALID_IMPORT"
    #: An import after genesis (``data["closed_by"]``: the event type that closed it).
    IMPORT_AFTER_GENESIS = "IMPORT_AFTER_GENESIS"
    # ---- prices and oracles (the engine's own)
    PRICE_NOT_SET = "PRICE_NOT_SET"
    PRICE_NOT_USABLE = "PRICE_NOT_USABLE"
    PRICE_STALE = "PRICE_STALE"
    BORROWING_PAUSED = "BORROWING_PAUSED"
    LIQUIDATIONS_PAUSED = "LIQUIDATIONS_PAUSED"
    UNKNOWN_PRICE_STATUS = "UNKNOWN_PRICE_STATUS"
    # ---- governance: Aave's RiskSteward reasons (margin/stewards.py codes in data)
    RISK_PARAMS_OUT_OF_BOUNDS = "RISK_PARAMS_OUT_OF_BOUNDS"
    # ---- lending: Aave v3 Errors.sol names
    NOT_ENOUGH_AVAILABLE_USER_BALANCE = "NOT_ENOUGH_AVAILABLE_USER_BALANCE"
    UNDERLYING_BALANCE_ZERO = "UNDERLYING_BALANCE_ZERO"
    USER_HAS_ASSET_WITH_ZERO_LTV = "USER_HAS_ASSET_WITH_ZERO_LTV"  # UserHasAssetWithZeroLtv
    BORROWING_NOT_ENABLED = "BORROWING_NOT_ENABLED"
    COLLATERAL_BALANCE_IS_ZERO = "COLLATERAL_BALANCE_IS_ZERO"
    LTV_VALIDATION_FAILED = "LTV_VALIDATION_FAILED"
    HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD = (
        "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD")
    COLLATERAL_CANNOT_COVER_NEW_BORROW = "COLLATERAL_CANNOT_COVER_NEW_BORROW"
    NO_DEBT_OF_SELECTED_TYPE = "NO_DEBT_OF_SELECTED_TYPE"
    SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER = "SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER"
    HEALTH_FACTOR_NOT_BELOW_THRESHOLD = "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"
    COLLATERAL_CANNOT_BE_LIQUIDATED = "COLLATERAL_CANNOT_BE_LIQUIDATED"
    SUPPLY_CAP_EXCEEDED = "SUPPLY_CAP_EXCEEDED"
    BORROW_CAP_EXCEEDED = "BORROW_CAP_EXCEEDED"
    MUST_NOT_LEAVE_DUST = "MUST_NOT_LEAVE_DUST"
    PRICE_ORACLE_SENTINEL_CHECK_FAILED = "PRICE_ORACLE_SENTINEL_CHECK_FAILED"
    # isolation mode and siloed borrowing (v3.3/v3.5 Errors.sol; removed in v3.7)
    DEBT_CEILING_EXCEEDED = "DEBT_CEILING_EXCEEDED"
    ASSET_NOT_BORROWABLE_IN_ISOLATION = "ASSET_NOT_BORROWABLE_IN_ISOLATION"
    SILOED_BORROWING_VIOLATION = "SILOED_BORROWING_VIOLATION"
    USER_IN_ISOLATION_MODE_OR_LTV_ZERO = "USER_IN_ISOLATION_MODE_OR_LTV_ZERO"
    # liquidation grace period (v3.1+: LiquidationGraceSentinelCheckFailed,
    # InvalidGracePeriod)
    LIQUIDATION_GRACE_SENTINEL_CHECK_FAILED = "LIQUIDATION_GRACE_SENTINEL_CHECK_FAILED"
    INVALID_GRACE_PERIOD = "INVALID_GRACE_PERIOD"
    # reserve flags and their setters (v3.3 Errors.sol names; v3.4+ custom errors
    # ReserveInactive, ReservePaused, ReserveFrozen, ReserveLiquidityNotZero,
    # InvalidFreezeState, InvalidDebtCeiling: ``data["error"]`` has the version's name)
    RESERVE_INACTIVE = "RESERVE_INACTIVE"
    RESERVE_PAUSED = "RESERVE_PAUSED"
    RESERVE_FROZEN = "RESERVE_FROZEN"
    RESERVE_LIQUIDITY_NOT_ZERO = "RESERVE_LIQUIDITY_NOT_ZERO"
    INVALID_FREEZE_STATE = "INVALID_FREEZE_STATE"
    INVALID_DEBT_CEILING = "INVALID_DEBT_CEILING"
    NOT_ENOUGH_LIQUIDITY = "NOT_ENOUGH_LIQUIDITY"  # Aave: the aToken's underlying balance
    # e-mode (Errors.sol: v3.3 NOT_BORROWABLE_IN_EMODE, INCONSISTENT_EMODE_CATEGORY; v3.5+
    # NotBorrowableInEMode, InconsistentEModeCategory; v3.6+ InvalidDebtInEmode,
    # InvalidCollateralInEmode)
    NOT_BORROWABLE_IN_EMODE = "NOT_BORROWABLE_IN_EMODE"
    INCONSISTENT_EMODE_CATEGORY = "INCONSISTENT_EMODE_CATEGORY"
    INVALID_DEBT_IN_EMODE = "INVALID_DEBT_IN_EMODE"
    INVALID_COLLATERAL_IN_EMODE = "INVALID_COLLATERAL_IN_EMODE"
    # ---- lending: Compound III (Comet) custom errors
    NOT_COLLATERALIZED = "NotCollateralized"
    NOT_LIQUIDATABLE = "NotLiquidatable"
    NOT_FOR_SALE = "NotForSale"
    TOO_MUCH_SLIPPAGE = "TooMuchSlippage"
    INSUFFICIENT_RESERVES = "InsufficientReserves"
    BORROW_TOO_SMALL = "BorrowTooSmall"
    BAD_ASSET = "BadAsset"
    ABSURD = "Absurd"
    # ---- perps (dYdX v4 x/clob and x/subaccounts names where they exist)
    UNDERCOLLATERALIZED = "UNDERCOLLATERALIZED"    # dYdX: StillUndercollateralized / IM
    NO_POSITION = "NO_POSITION"
    STEP_SIZE = "STEP_SIZE"
    OPEN_INTEREST_CAP = "OPEN_INTEREST_CAP"
    POSITION_NOT_LIQUIDATABLE = "POSITION_NOT_LIQUIDATABLE"
    NOT_A_SUBACCOUNT = "NOT_A_SUBACCOUNT"
    ADL_NOT_ENOUGH_OPPOSITE = "ADL_NOT_ENOUGH_OPPOSITE"
    INSUFFICIENT_QUOTE = "INSUFFICIENT_QUOTE"
    SHARED_INSURANCE_FUND = "SHARED_INSURANCE_FUND"
    # ---- portfolio margin: Derive PMRM_2 (derivexyz/v2-core src/interfaces/IPMRM_2.sol)
    PORTFOLIO_INSUFFICIENT_MARGIN = "PMRM_2_InsufficientMargin"
    PMRM1_INSUFFICIENT_MARGIN = "PMRM_InsufficientMargin"
    SRM_PORTFOLIO_BELOW_MARGIN = "SRM_PortfolioBelowMargin"
    # ---- portfolio auction: Derive's errors (derivexyz/v2-core src/interfaces/:
    # IDutchAuction.sol, IBaseManager.sol, ICashAsset.sol)
    DA_ABOVE_MAINTENANCE_MARGIN = "DA_AccountIsAboveMaintenanceMargin"
    DA_AUCTION_ALREADY_STARTED = "DA_AuctionAlreadyStarted"
    DA_AUCTION_NOT_STARTED = "DA_AuctionNotStarted"
    DA_NOT_ONGOING_AUCTION = "DA_NotOngoingAuction"
    DA_INVALID_PERCENTAGE = "DA_InvalidPercentage"
    DA_INVALID_BIDDER_PORTFOLIO = "DA_InvalidBidderPortfolio"
    DA_INSUFFICIENT_CASH = "DA_InsufficientCash"
    DA_PRICE_LIMIT_EXCEEDED = "DA_PriceLimitExceeded"
    DA_SOLVENT_AUCTION_ENDED = "DA_SolventAuctionEnded"
    DA_AUCTION_SHOULD_BE_TERMINATED = "DA_AuctionShouldBeTerminated"
    DA_AUCTION_CANNOT_TERMINATE = "DA_AuctionCannotTerminate"
    DA_ONGOING_SOLVENT_AUCTION = "DA_OngoingSolventAuction"
    DA_ALREADY_INSOLVENT = "DA_AuctionAlreadyInInsolvencyMode"
    DA_RESERVED_CASH_ABOVE_MTM = "DA_ReservedCashGreaterThanMtM"
    ACCOUNT_UNDER_LIQUIDATION = "BM_AccountUnderLiquidation"
    WITHDRAW_BLOCKED_BY_AUCTION = "CA_WithdrawBlockedByOngoingAuction"
    # ---- options clearing (the engine's own)
    VOL_NOT_SET = "VOL_NOT_SET"
    OPTION_EXPIRED = "OPTION_EXPIRED"
    OPTION_NOT_EXPIRED = "OPTION_NOT_EXPIRED"
    OPTION_ALREADY_SETTLED = "OPTION_ALREADY_SETTLED"
    OPTION_ONE_UNDERLYING = "OPTION_ONE_UNDERLYING"
    OPTION_ON_QUOTE = "OPTION_ON_QUOTE"
    # Derive's LyraForwardFeed.getSettlementPrice answers (false, 0): no settlement
    # data covering the window (BaseManager._settleAccountOptions skips the position)
    OPTION_NOT_SETTLEABLE = "OPTION_NOT_SETTLEABLE"
    # ---- auctions: Maker's revert strings (dss dog.sol, clip.sol, flip.sol, cat.sol);
    # Dog/no-vault is the engine's (a vault without debt or collateral: Maker's
    # Dog/not-unsafe covers it)
    CAT_CLAW_EXCEEDS_LITTER = "Cat/claw-exceeds-litter"
    CAT_INVALID_INPUT = "Cat/invalid-input"
    CAT_INVALID_PARAM = "Cat/invalid-param"
    CAT_LIQUIDATION_LIMIT_HIT = "Cat/liquidation-limit-hit"
    CAT_NOT_UNSAFE = "Cat/not-unsafe"
    CAT_NULL_AUCTION = "Cat/null-auction"
    CLIPPER_CANNOT_RESET = "Clipper/cannot-reset"
    CLIPPER_INVALID_INPUT = "Clipper/invalid-input"
    CLIPPER_INVALID_PARAM = "Clipper/invalid-param"
    CLIPPER_NEEDS_RESET = "Clipper/needs-reset"
    CLIPPER_NOT_RUNNING_AUCTION = "Clipper/not-running-auction"
    CLIPPER_NO_PARTIAL_PURCHASE = "Clipper/no-partial-purchase"
    CLIPPER_STOPPED_INCORRECT = "Clipper/stopped-incorrect"
    CLIPPER_TIME_BEFORE_KICK = "Clipper/time-before-kick"
    CLIPPER_TOO_EXPENSIVE = "Clipper/too-expensive"
    CLIPPER_ZERO_LOT = "Clipper/zero-lot"
    CLIPPER_ZERO_TAB = "Clipper/zero-tab"
    CLIPPER_ZERO_TOP_PRICE = "Clipper/zero-top-price"
    CLIPPER_ZERO_USR = "Clipper/zero-usr"
    DOG_DIGS_EXCEEDS_DIRT = "Dog/digs-exceeds-dirt"
    DOG_DUSTY_AUCTION_FROM_PARTIAL_LIQUIDATION = "Dog/dusty-auction-from-partial-liquidation"
    DOG_INVALID_INPUT = "Dog/invalid-input"
    DOG_INVALID_PARAM = "Dog/invalid-param"
    DOG_LIQUIDATION_LIMIT_HIT = "Dog/liquidation-limit-hit"
    DOG_NOT_UNSAFE = "Dog/not-unsafe"
    DOG_NO_VAULT = "Dog/no-vault"
    DOG_NULL_AUCTION = "Dog/null-auction"
    FLIPPER_ALREADY_DENT_PHASE = "Flipper/already-dent-phase"
    FLIPPER_ALREADY_FINISHED_END = "Flipper/already-finished-end"
    FLIPPER_ALREADY_FINISHED_TIC = "Flipper/already-finished-tic"
    FLIPPER_BID_ALREADY_PLACED = "Flipper/bid-already-placed"
    FLIPPER_BID_NOT_HIGHER = "Flipper/bid-not-higher"
    FLIPPER_GUY_NOT_SET = "Flipper/guy-not-set"
    FLIPPER_HIGHER_THAN_TAB = "Flipper/higher-than-tab"
    FLIPPER_INSUFFICIENT_DECREASE = "Flipper/insufficient-decrease"
    FLIPPER_INSUFFICIENT_INCREASE = "Flipper/insufficient-increase"
    FLIPPER_INVALID_INPUT = "Flipper/invalid-input"
    FLIPPER_INVALID_PARAM = "Flipper/invalid-param"
    FLIPPER_LOT_NOT_LOWER = "Flipper/lot-not-lower"
    FLIPPER_LOT_NOT_MATCHING = "Flipper/lot-not-matching"
    FLIPPER_NOT_FINISHED = "Flipper/not-finished"
    FLIPPER_NOT_MATCHING_BID = "Flipper/not-matching-bid"
    FLIPPER_TEND_NOT_FINISHED = "Flipper/tend-not-finished"
    WRONG_AUCTION_KIND = "WRONG_AUCTION_KIND"
    #: Any other Maker revert string (parameter checks); ``data["revert"]`` holds it.
    MAKER_REVERT = "MAKER_REVERT"
    # ---- Morpho Blue: ErrorsLib.sol strings (morpho-org/morpho-blue src/libraries/ErrorsLib.sol);
    # the two *_EXCEEDS_* codes are the engine's names for Solidity's checked underflow (panic 0x11)
    MORPHO_INCONSISTENT_INPUT = "inconsistent input"
    MORPHO_ZERO_ASSETS = "zero assets"
    MORPHO_INSUFFICIENT_COLLATERAL = "insufficient collateral"
    MORPHO_INSUFFICIENT_LIQUIDITY = "insufficient liquidity"
    MORPHO_HEALTHY_POSITION = "position is healthy"
    MORPHO_MAX_UINT128_EXCEEDED = "max uint128 exceeded"
    MORPHO_MAX_LLTV_EXCEEDED = "max LLTV exceeded"
    MORPHO_MAX_FEE_EXCEEDED = "max fee exceeded"
    SHARES_EXCEED_BALANCE = "SHARES_EXCEED_BALANCE"
    ASSETS_EXCEED_BALANCE = "ASSETS_EXCEED_BALANCE"
    # ---- Liquity v1: revert strings (liquity/dev packages/contracts/contracts/
    # BorrowerOperations.sol, TroveManager.sol, StabilityPool.sol)
    LIQUITY_MAX_FEE = "LIQUITY_INVALID_MAX_FEE"  # two Liquity strings; the message holds each
    LIQUITY_FEE_EXCEEDED = "Fee exceeded provided maximum"
    LIQUITY_MIN_NET_DEBT = "BorrowerOps: Trove's net debt must be greater than minimum"
    LIQUITY_ICR_BELOW_MCR = (
        "BorrowerOps: An operation that would result in ICR < MCR is not permitted")
    LIQUITY_ICR_BELOW_CCR = "BorrowerOps: Operation must leave trove with ICR >= CCR"
    LIQUITY_TCR_BELOW_CCR = (
        "BorrowerOps: An operation that would result in TCR < CCR is not permitted")
    LIQUITY_ICR_DECREASE = "BorrowerOps: Cannot decrease your Trove's ICR in Recovery Mode"
    LIQUITY_RECOVERY_NO_COLL_WITHDRAWAL = (
        "BorrowerOps: Collateral withdrawal not permitted Recovery Mode")
    LIQUITY_NOTHING_TO_LIQUIDATE = "TroveManager: nothing to liquidate"
    LIQUITY_EMPTY_TROVE_ARRAY = "TroveManager: Calldata address array must not be empty"
    LIQUITY_ONLY_ONE_TROVE = "TroveManager: Only one trove in the system"
    LIQUITY_SP_MIN_DEPOSITS = "Withdrawal must leave totalBoldDeposits >= MIN_LUSD_IN_SP"
    LIQUITY_SP_NO_DEPOSIT = "StabilityPool: User must have a non-zero deposit"
    LIQUITY_TROVE_ACTIVE = "BorrowerOps: Trove is active"
    LIQUITY_TROVE_NOT_ACTIVE = "BorrowerOps: Trove does not exist or is closed"
    LIQUITY_LIQUIDATE_NOT_ACTIVE = "TroveManager: Trove does not exist or is closed"
    LIQUITY_RECOVERY_MODE = "BorrowerOps: Operation not permitted during Recovery Mode"
    LIQUITY_NO_ADJUSTMENT = (
        "BorrowerOps: There must be either a collateral change or a debt change")
    LIQUITY_SINGULAR_COLL_CHANGE = "BorrowerOps: Cannot withdraw and add coll"
    LIQUITY_ZERO_DEBT_CHANGE = "BorrowerOps: Debt increase requires non-zero debtChange"
    LIQUITY_REPAYMENT_TOO_LARGE = (
        "BorrowerOps: Amount repaid must not be larger than the Trove's debt")
    LIQUITY_SP_UNDERCOLLATERALIZED = (
        "StabilityPool: Cannot withdraw while there are troves with ICR < MCR")
    LIQUITY_FEE_EATS_COLLATERAL = "TroveManager: Fee would eat up all returned collateral"
    LIQUITY_REDEEM_TCR_BELOW_MCR = "TroveManager: Cannot redeem when TCR < MCR"
    LIQUITY_REDEEM_ZERO_AMOUNT = "TroveManager: Amount must be greater than zero"
    LIQUITY_UNABLE_TO_REDEEM = "TroveManager: Unable to redeem any amount"
    LIQUITY_SAFEMATH_SUB = "SafeMath: subtraction overflow"
    # ---- Euler v2 (EVK): custom errors (euler-xyz/euler-vault-kit src/EVault/shared/Errors.sol)
    EULER_ACCOUNT_LIQUIDITY = "E_AccountLiquidity"
    EULER_SELF_LIQUIDATION = "E_SelfLiquidation"
    EULER_BAD_COLLATERAL = "E_BadCollateral"
    EULER_EXCESSIVE_REPAY_AMOUNT = "E_ExcessiveRepayAmount"
    EULER_MIN_YIELD = "E_MinYield"
    EULER_LTV_BORROW = "E_LTVBorrow"
    EULER_LTV_LIQUIDATION = "E_LTVLiquidation"
    EULER_BAD_MAX_LIQUIDATION_DISCOUNT = "E_BadMaxLiquidationDiscount"
    EULER_CONFIG_AMOUNT_TOO_LARGE = "E_ConfigAmountTooLargeToEncode"
    EULER_LIQUIDATION_COOL_OFF = "E_LiquidationCoolOff"
    EULER_INSUFFICIENT_CASH = "E_InsufficientCash"
    EULER_INSUFFICIENT_BALANCE = "E_InsufficientBalance"
    EULER_REPAY_TOO_MUCH = "E_RepayTooMuch"
    EULER_ZERO_SHARES = "E_ZeroShares"
    EULER_AMOUNT_TOO_LARGE = "E_AmountTooLargeToEncode"
    EULER_DEBT_AMOUNT_TOO_LARGE = "E_DebtAmountTooLargeToEncode"
    # ---- Mango v4: MangoError (blockworks-foundation/mango-v4 programs/mango-v4/src/error.rs)
    MANGO_HEALTH_MUST_BE_POSITIVE_OR_INCREASE = "HealthMustBePositiveOrIncrease"
    MANGO_HEALTH_MUST_BE_NEGATIVE = "HealthMustBeNegative"
    MANGO_SOME_ERROR = "SomeError"
    MANGO_HEALTH_MUST_BE_POSITIVE = "HealthMustBePositive"
    MANGO_BEING_LIQUIDATED = "BeingLiquidated"
    MANGO_HAS_OPEN_PERP_ORDERS = "HasOpenPerpOrders"
    MANGO_HAS_LIQUIDATABLE_TOKEN_POSITION = "HasLiquidatableTokenPosition"
    MANGO_HAS_LIQUIDATABLE_PERP_BASE_POSITION = "HasLiquidatablePerpBasePosition"
    MANGO_HAS_LIQUIDATABLE_POSITIVE_PERP_PNL = "HasLiquidatablePositivePerpPnl"
    MANGO_PERP_POSITION_DOES_NOT_EXIST = "PerpPositionDoesNotExist"
    MANGO_PROFITABILITY_MISMATCH = "ProfitabilityMismatch"
    MANGO_CANNOT_SETTLE_WITH_SELF = "CannotSettleWithSelf"
    MANGO_SETTLEMENT_AMOUNT_MUST_BE_POSITIVE = "SettlementAmountMustBePositive"
    # Anchor's require_gt! / require_keys_neq! (anchor-lang ErrorCode).
    MANGO_REQUIRE_GT_VIOLATED = "RequireGtViolated"
    MANGO_REQUIRE_GTE_VIOLATED = "RequireGteViolated"
    MANGO_REQUIRE_KEYS_NEQ_VIOLATED = "RequireKeysNeqViolated"
    # ---- Drift v2: ErrorCode (drift-labs/protocol-v2 programs/drift/src/error.rs)
    DRIFT_INSUFFICIENT_COLLATERAL = "InsufficientCollateral"
    DRIFT_SUFFICIENT_COLLATERAL = "SufficientCollateral"
    DRIFT_INVALID_SPOT_POSITION = "InvalidSpotPosition"
    DRIFT_USER_CANT_LIQUIDATE_THEMSELF = "UserCantLiquidateThemself"
    DRIFT_USER_HAS_NO_POSITION_IN_MARKET = "UserHasNoPositionInMarket"
    DRIFT_POSITION_DOESNT_HAVE_OPEN_POSITION_OR_ORDERS = "PositionDoesntHaveOpenPositionOrOrders"
    DRIFT_INVALID_BASE_ASSET_AMOUNT_FOR_LIQUIDATE_PERP = "InvalidBaseAssetAmountForLiquidatePerp"
    DRIFT_INVALID_PERP_POSITION = "InvalidPerpPosition"
    DRIFT_USER_NOT_BANKRUPT = "UserNotBankrupt"
    DRIFT_USER_BANKRUPT = "UserBankrupt"
    DRIFT_INVALID_PERP_POSITION_TO_LIQUIDATE = "InvalidPerpPositionToLiquidate"
    DRIFT_CANT_RESOLVE_PERP_BANKRUPTCY = "CantResolvePerpBankruptcy"
    DRIFT_COULD_NOT_FIND_SPOT_POSITION = "CouldNotFindSpotPosition"
    DRIFT_USER_HAS_INVALID_BORROW = "UserHasInvalidBorrow"
    DRIFT_MATH_ERROR = "MathError"
    DRIFT_WRONG_SPOT_BALANCE_TYPE = "WrongSpotBalanceType"
    DRIFT_INVALID_LIQUIDATION = "InvalidLiquidation"


@dataclass(frozen=True)
class Refusal:
    """A refused action: what programs compare (``code``, ``data``) and people read.

    Attributes
    ----------
    code
        The stable :class:`Code`.
    message
        One line for people; may be reworded between versions.
    data
        The figures behind the decision (plain JSON values), e.g. ``{"health_factor": ...}``.
    """

    code: Code
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for logs and reports."""
        return {"code": self.code.value, "message": self.message, "data": self.data}


def code_of(value: str) -> Code:
    """The :class:`Code` whose value is ``value`` (raises ``ValueError`` otherwise)."""
    return Code(value)


__all__ = ["Code", "Refusal", "code_of"]
