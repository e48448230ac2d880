"""Events: the commands the engine applies, and the outcomes it records.

Every event is a frozen dataclass of plain fields (ids, asset symbols, ints), so it
serializes to JSON and back without loss; ``ImportAccount``'s balances are tuples of
``(asset, amount)`` pairs, JSON tables in the log. Malformed arguments (a float amount, a missing
field) raise :class:`~marginengine.errors.EventError`; arguments that are well formed but
not allowed (a zero amount, an unknown asset, more than the balance) are *refused*: the
engine records an outcome ``<Type>Rejected`` with the reason and changes nothing.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from marginengine.decisions import Code, Refusal
from marginengine.errors import EventError, FieldError
from marginengine.oracle.conditions import CONDITION_FIELDS, check_condition
from marginengine.persistence import encode
from marginengine.pricing.svi import SVIParams


def _outcome_name(event: Event, accepted: bool) -> str:
    base = ("Liquidation" if isinstance(event, Liquidate)
            else "PerpLiquidation" if isinstance(event, LiquidatePerp)
            else event.name)
    if accepted:
        return f"{base}Executed" if base.endswith("Liquidation") else f"{base}Accepted"
    return f"{base}Rejected"


# An outcome's name depends only on its event's type and its acceptance: built once each.
_OUTCOME_NAMES: dict[tuple[type[Event], bool], str] = {}

# The JSON of an accepted outcome, in to_dict's key order (names are identifiers: no escapes).
_ACCEPTED_JSON = ('{"seq":%d,"outcome":"%s","event":%s,"accepted":true,"reason":null,'
                  '"code":null,"data":{},"details":%s}')


#: Per event type, its fields checked at construction and their kind (``int``, ``str``,
#: ``bool``; other annotations are checked by the type's own ``__post_init__``): read from
#: ``dataclasses.fields`` once per type instead of at every event.
_FIELD_KINDS: dict[type[Any], tuple[tuple[str, str], ...]] = {}


def _field_kinds(cls: type[Any]) -> tuple[tuple[str, str], ...]:
    kinds = _FIELD_KINDS.get(cls)
    if kinds is None:
        named = {int: "int", "int": "int", str: "str", "str": "str", bool: "bool",
                 "bool": "bool"}
        kinds = tuple((f.name, named[f.type]) for f in dataclasses.fields(cls)
                      if isinstance(f.type, str | type) and f.type in named)
        _FIELD_KINDS[cls] = kinds
    return kinds


#: Integer fields that are not amounts, and what they count (the rest are amounts in
#: the asset's smallest units): so a bad ``grace_period`` is not called an amount.
_SECONDS = frozenset({"seconds", "grace_period", "ramp_duration"})
_COUNTS = frozenset({"category", "emode", "n", "max_iterations", "auction"})


def _int_unit(name: str) -> str:
    """How an integer field is counted, for its error message (with a trailing space)."""
    if name in _SECONDS:
        return "number of seconds "
    if name == "expiry":
        return "(unix seconds) "
    if name.endswith("_ppm"):
        return "in parts per million "
    if name.endswith("_bps"):
        return "in basis points "
    if name == "gas_used":
        return "in units of gas "
    if name == "debt_ceiling":
        return "in cents (USD, 2 decimals) "
    if name in _COUNTS:
        return ""
    return "in smallest units "


@dataclass(frozen=True)
class Event:
    """Base class of every event."""

    outcome_name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for name, kind in _field_kinds(type(self)):
            value = getattr(self, name)
            if kind == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise EventError(
                        f"{type(self).__name__}.{name}: must be an integer "
                        f"{_int_unit(name)}(got {value!r})"
                    )
            elif kind == "str":
                if not isinstance(value, str):
                    raise EventError(
                        f"{type(self).__name__}.{name}: must be a string (got {value!r})"
                    )
            elif kind == "bool" and not isinstance(value, bool):
                raise EventError(
                    f"{type(self).__name__}.{name}: must be true or false (got {value!r})"
                )

    @property
    def name(self) -> str:
        """The event's type name, as logged."""
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """``{"type": name, **fields}``."""
        # Every field is a plain int, str or bool, so a shallow copy of the instance's fields
        # equals dataclasses.asdict (whose deep copy cost an eighth of a logged event).
        return {"type": self.name, **self.__dict__}

    def to_json(self) -> str:
        """The JSON of :meth:`to_dict`, as :func:`~marginengine.persistence.encode` writes
        it, without building the dict: the fields' JSON after the type's."""
        fields = self.__dict__
        if not fields:
            return f'{{"type":"{self.name}"}}'
        return f'{{"type":"{self.name}",' + encode(fields)[1:]


@dataclass(frozen=True)
class Deposit(Event):
    """Supply ``amount`` of ``asset`` from outside into ``account``."""

    account: str
    asset: str
    amount: int


@dataclass(frozen=True)
class Withdraw(Event):
    """Withdraw ``amount`` of supplied ``asset`` out of ``account``."""

    account: str
    asset: str
    amount: int


@dataclass(frozen=True)
class Borrow(Event):
    """Borrow ``amount`` of ``asset`` against ``account``'s collateral."""

    account: str
    asset: str
    amount: int


@dataclass(frozen=True)
class Repay(Event):
    """Repay up to ``amount`` of ``account``'s debt in ``asset`` (the excess is not taken)."""

    account: str
    asset: str
    amount: int


@dataclass(frozen=True)
class SetUserEMode(Event):
    """Put ``account`` in e-mode category ``category`` (0: leave e-mode), as Aave's
    ``setUserEMode``: refused unless every borrowed asset stays borrowable and the health
    factor stays at least 1 (Aave presets with ``[emode]``)."""

    account: str
    category: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.category <= 255:
            raise EventError(f"SetUserEMode.category: must be an e-mode category id within "
                             f"0 and 255 (Aave's uint8; got {self.category})")


@dataclass(frozen=True)
class SetUseAsCollateral(Event):
    """Switch ``account``'s supply of ``asset`` on or off as collateral, as Aave's
    ``setUserUseReserveAsCollateral`` (``SupplyLogic.executeUseReserveAsCollateral``):
    nothing happens if the switch is already so; enabling needs a supplied balance
    (``UNDERLYING_BALANCE_ZERO``) and a loan-to-value above 0 in the account's e-mode
    category (``USER_HAS_ASSET_WITH_ZERO_LTV``); disabling is refused if the health factor
    would fall below 1 (``HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD``) or another
    zero-LTV collateral is still held (``LTV_VALIDATION_FAILED``). Aave presets only."""

    account: str
    asset: str
    enabled: bool


@dataclass(frozen=True)
class RepayWithATokens(Event):
    """Repay up to ``amount`` of ``account``'s debt in ``asset`` with its own supplied
    balance of that asset, as Aave's ``repayWithATokens`` (``BorrowLogic.executeRepay``
    with ``useATokens``): the aTokens are burned, no token moves; ``type(uint256).max``
    (``2**256 - 1``) means the whole supplied balance, then at most the debt. A balance
    burned to 0 is switched off as collateral; in v3.5+ an indebted account burning its
    collateral must keep a health factor of at least 1. Aave presets only."""

    account: str
    asset: str
    amount: int


@dataclass(frozen=True)
class SetLiquidationGracePeriod(Event):
    """The pool admin unpauses ``asset`` with a liquidation grace period, as Aave's
    ``PoolConfigurator.setReservePause(asset, false, gracePeriod)`` (v3.1+): no
    liquidation with the asset as collateral or debt until ``grace_period`` seconds from
    now have passed (``liquidationGracePeriodUntil = now + gracePeriod``, at most
    ``MAX_GRACE_PERIOD``, 4 hours); ``0`` ends it, as ``disableLiquidationGracePeriod``.
    Aave presets only."""

    asset: str
    grace_period: int


@dataclass(frozen=True)
class SetReservePause(Event):
    """The emergency or pool admin pauses (``paused``) or unpauses ``asset``, as Aave's
    ``PoolConfigurator.setReservePause(asset, paused, gracePeriod)``: a paused reserve
    refuses supply, withdraw, borrow, repay, the collateral switch and liquidations
    involving it (``RESERVE_PAUSED``). Unpausing with a ``grace_period`` (seconds, at most
    ``MAX_GRACE_PERIOD``, 4 hours) starts a liquidation grace period as
    :class:`SetLiquidationGracePeriod` does; 0 leaves the one in force as it is. Aave
    presets only."""

    asset: str
    paused: bool
    grace_period: int = 0


@dataclass(frozen=True)
class SetPoolPause(Event):
    """``PoolConfigurator.setPoolPause(paused, gracePeriod)``: :class:`SetReservePause`
    on every reserve of the pool, in the order of its markets. Aave presets only."""

    paused: bool
    grace_period: int = 0


@dataclass(frozen=True)
class SetReserveFreeze(Event):
    """The risk, pool or emergency admin freezes (``frozen``) or unfreezes ``asset``, as
    ``PoolConfigurator.setReserveFreeze``: a frozen reserve refuses new supplies and
    borrows (``RESERVE_FROZEN``) and its LTV is set to 0, kept as the pending LTV; v3.3
    and v3.5 restore it on unfreezing, v3.6+ also zero it in every e-mode category holding
    the asset as collateral and restore neither (``setReserveLtvzero``). The flag must
    change (``INVALID_FREEZE_STATE``). Aave presets only."""

    asset: str
    frozen: bool


@dataclass(frozen=True)
class SetReserveActive(Event):
    """The pool admin activates or deactivates ``asset``, as
    ``PoolConfigurator.setReserveActive``: deactivating needs no suppliers
    (``RESERVE_LIQUIDITY_NOT_ZERO``); an inactive reserve refuses every action on it
    (``RESERVE_INACTIVE``). Aave presets only."""

    asset: str
    active: bool


@dataclass(frozen=True)
class SetDebtCeiling(Event):
    """The risk or pool admin sets ``asset``'s debt ceiling, as
    ``PoolConfigurator.setDebtCeiling`` (Aave v3.3/v3.5 isolation mode): ``debt_ceiling``
    in cents (USD with 2 decimals, ``DEBT_CEILING_DECIMALS``; at most ``2**40 - 1``);
    setting one on a collateral reserve that had none needs no suppliers
    (``RESERVE_LIQUIDITY_NOT_ZERO``); setting 0 ends the isolation and resets the
    reserve's ``isolationModeTotalDebt`` to 0 (``Pool.resetIsolationModeTotalDebt``)."""

    asset: str
    debt_ceiling: int


#: The pool configurator's reserve events (the flags, the debt ceiling, the grace period):
#: none touches an account, each changes what actions a reserve allows.
RESERVE_CONFIG_EVENT_CLASSES: tuple[type[Event], ...] = (
    SetLiquidationGracePeriod, SetReservePause, SetPoolPause, SetReserveFreeze,
    SetReserveActive, SetDebtCeiling)


#: An account's balances in an :class:`ImportAccount`: ``(asset, amount)`` pairs, amounts in
#: the asset's smallest units, in the order given.
Balances = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ImportAccount(Event):
    """Book ``account`` as it stands: ``supplied`` and ``borrowed`` (asset -> smallest
    units) and its e-mode category ``emode`` (0: none), with no margin check, as a
    protocol's state read at one moment holds it (a snapshot taken in a crash holds
    accounts above their borrowing power and below health 1).

    Accepted only at genesis: before the first accepted event that is not one of
    :data:`GENESIS_EVENTS` (prices, market conditions, vol surfaces, the sequencer,
    deposits and funds, other imports), so no clock has run, no index has moved and no
    decision on margin has been taken; later it is refused ``IMPORT_AFTER_GENESIS``. The
    checks are structural only (``INVALID_IMPORT``, naming the field): a well-formed id
    the ledger does not hold yet, the protocol's markets, positive amounts, an e-mode
    category that exists and lets the account borrow what it owes, Comet's signed base
    balance, a price for every asset held. The supplies are booked first; where the pool's
    cash cannot fund the debt, the protocol funds the difference (protocol-owned
    liquidity, booked as reserves: the snapshot builder's rule, :mod:`marginengine.ledger.
    imports`), then the debt is booked. Lending balances only: perp and option positions
    open through their own events.

    In JSON (the log, ``POST /events``) the balances are tables:
    ``{"type": "ImportAccount", "account": "alice", "supplied": {"WETH": 10000000000000000000},
    "borrowed": {"USDC": 19000000000}, "emode": 0}``. A malformed table (not a table, an
    amount that is not an integer, an asset named twice) raises :class:`EventError`
    naming ``supplied.ASSET`` or ``borrowed.ASSET``.
    """

    account: str
    supplied: Balances = ()
    borrowed: Balances = ()
    emode: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "supplied", _balances("supplied", self.supplied))
        object.__setattr__(self, "borrowed", _balances("borrowed", self.borrowed))
        if not 0 <= self.emode <= 255:
            raise EventError(f"ImportAccount.emode: must be an e-mode category id within "
                             f"0 and 255 (Aave's uint8; got {self.emode})")

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "ImportAccount", "account", "supplied": {asset: amount},
        "borrowed": {asset: amount}, "emode"}``."""
        return {"type": self.name, "account": self.account, "supplied": dict(self.supplied),
                "borrowed": dict(self.borrowed), "emode": self.emode}

    def to_json(self) -> str:
        """The JSON of :meth:`to_dict` (the balances as tables)."""
        return encode(self.to_dict())


def _balances(name: str, value: object) -> Balances:
    """``value`` (a table of asset -> amount, or ``(asset, amount)`` pairs) as
    :data:`Balances`, or :class:`EventError` naming ``ImportAccount.{name}[.ASSET]``."""
    where = f"ImportAccount.{name}"
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, tuple | list) and all(
            isinstance(p, tuple | list) and len(p) == 2 for p in value):
        items = [(p[0], p[1]) for p in value]
    else:
        raise EventError(f"{where}: must be a table of asset -> amount in smallest units "
                         f"(got {value!r})")
    seen: set[str] = set()
    for asset, amount in items:
        if not isinstance(asset, str):
            raise EventError(f"{where}: an asset is named by a string (got {asset!r})")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise EventError(f"{where}.{asset}: must be an integer in smallest units "
                             f"(got {amount!r})")
        if asset in seen:
            raise EventError(f"{where}.{asset}: given twice")
        seen.add(asset)
    return tuple(items)


@dataclass(frozen=True)
class SetPrice(Event):
    """Set ``asset``'s price (base currency, 8 decimals), as the oracle layer reports it.

    ``status`` is the oracle's verdict on the price (``fresh``, ``stale``, ``divergent``,
    ``clamped``, ``uncertain``, ``insufficient``) and ``reason`` why it is not fresh; the
    engine refuses actions that would rely on a price that is not fresh or divergent, and
    feeds the market's stable price and circuit breaker.
    """

    asset: str
    price: int
    status: str = "fresh"
    reason: str = ""


@dataclass(frozen=True)
class SetConditions(Event):
    """Report ``asset``'s market conditions (see :mod:`marginengine.oracle.conditions` for
    the units): annualized volatility in ppm, liquidity depth in base-currency units for a
    2% move, open interest in the asset's smallest units. A field left at ``None`` keeps
    its value. A value that is not a non-negative int raises :class:`EventError` naming
    the field.
    """

    asset: str
    volatility_ppm: int | None = None
    depth: int | None = None
    open_interest: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            for name in CONDITION_FIELDS:
                check_condition(name, getattr(self, name))
        except FieldError as exc:
            raise EventError(f"SetConditions.{exc.field}: {exc.reason}") from None


@dataclass(frozen=True)
class SetRiskParams(Event):
    """Set ``asset``'s risk parameters: a governance update (issue 12: the adaptive model
    proposes, and only this logged event changes the protocol). Values in bps, the bonus as
    the part above 100% (``500`` for 5%); a field left at ``None`` keeps its value. The
    engine applies it only within the protocol's steward bounds (``[protocol.stewards]``,
    Aave's RiskSteward: at most 0.5 percentage point per update, 3 days between two updates
    of one parameter), and records the accounts it made liquidatable and their debt.

    For a perp market listed in ``[protocol.adaptive] perp_markets`` (``asset`` is its
    symbol), ``maintenance_fraction_bps`` and ``initial_fraction_bps`` set its first
    tier's fractions, under the same kind of bounds; the lending fields do not apply there.
    """

    asset: str
    ltv_bps: int | None = None
    liquidation_threshold_bps: int | None = None
    liquidation_bonus_bps: int | None = None
    reason: str = ""
    maintenance_fraction_bps: int | None = None
    initial_fraction_bps: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        given = [name for name in (*RISK_PARAM_FIELDS, *PERP_PARAM_FIELDS)
                 if getattr(self, name) is not None]
        if not given:
            raise EventError("SetRiskParams: give at least one of "
                             + ", ".join((*RISK_PARAM_FIELDS, *PERP_PARAM_FIELDS)))
        for name in given:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
                raise EventError(f"SetRiskParams.{name}: must be an integer number of bps in "
                                 f"0..10000 (got {value!r})")
        if not isinstance(self.reason, str):
            raise EventError(f"SetRiskParams.reason: must be a string (got {self.reason!r})")


#: The parameter fields of :class:`SetRiskParams`, in the order they are applied when a
#: threshold rises (the LTV first when it falls: ``ltv <= threshold`` holds at every step).
RISK_PARAM_FIELDS: tuple[str, ...] = ("liquidation_threshold_bps", "ltv_bps",
                                      "liquidation_bonus_bps")
#: The perp fields of :class:`SetRiskParams` (the initial first when the maintenance rises).
PERP_PARAM_FIELDS: tuple[str, ...] = ("initial_fraction_bps", "maintenance_fraction_bps")


@dataclass(frozen=True)
class SetCrowding(Event):
    """Report collateral ``asset``'s venue as a constant-product pool holding
    ``base_reserve`` (smallest units) at the current price, with a fee of ``fee_bps``.

    With ``[protocol.adaptive] crowding = true`` the engine builds the exact liquidation
    heatmap of its book on ``asset`` against that pool
    (:func:`marginengine.margin.crowding.liquidation_heatmap`) and records each account's
    crowding add-on; every health, liquidation and borrow check then raises the account's
    requirement by it, until the next ``SetCrowding`` of ``asset``. A value out of range
    raises :class:`EventError` naming the field.
    """

    asset: str
    base_reserve: int
    fee_bps: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, low, high in (("base_reserve", 1, None), ("fee_bps", 0, 9_999)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low or (
                    high is not None and value > high):
                span = f"{low}..{high}" if high is not None else f"at least {low}"
                raise EventError(f"SetCrowding.{name}: must be an int {span} (got {value!r})")


@dataclass(frozen=True)
class SetSequencer(Event):
    """The L2 sequencer's uptime feed reports ``up`` (Chainlink's answer 0) or down (1),
    as of now; Aave's PriceOracleSentinel gates borrows and liquidations on it."""

    up: bool


@dataclass(frozen=True)
class AdvanceTime(Event):
    """Move the clock forward ``seconds``, accruing interest on every reserve."""

    seconds: int


@dataclass(frozen=True)
class Liquidate(Event):
    """``liquidator`` repays up to ``debt_to_cover`` of ``account``'s ``debt_asset`` debt
    and receives ``collateral_asset`` (Aave v3 ``liquidationCall``).

    With ``receive_supply`` the liquidator receives the collateral as supplied balance
    (aTokens) instead of the underlying tokens.
    """

    liquidator: str
    account: str
    debt_asset: str
    collateral_asset: str
    debt_to_cover: int
    receive_supply: bool = False


@dataclass(frozen=True)
class Absorb(Event):
    """``absorber`` has the protocol absorb an underwater ``account`` (Compound III).

    ``gas_used`` (gas) and ``base_fee`` (wei per gas) are what the transaction used and the
    block's base fee: Comet adds their product to the absorber's ``approxSpend``
    (``liquidatorPoints``); both 0 (the default) add nothing to it. The engine cannot
    measure gas, so the caller says it.
    """

    absorber: str
    account: str
    gas_used: int = 0
    base_fee: int = 0


@dataclass(frozen=True)
class BuyCollateral(Event):
    """``buyer`` pays ``base_amount`` of the base asset for seized ``asset`` (Compound III)."""

    buyer: str
    asset: str
    base_amount: int
    min_amount: int = 0


@dataclass(frozen=True)
class DepositQuote(Event):
    """Bring ``amount`` of the perp quote asset from outside into ``account``'s perp balance."""

    account: str
    amount: int


@dataclass(frozen=True)
class WithdrawQuote(Event):
    """Take ``amount`` out of ``account``'s perp balance (initial margin must still hold)."""

    account: str
    amount: int


@dataclass(frozen=True)
class TransferQuote(Event):
    """Move perp quote between an account and its isolated sub-accounts (``owner/label``)."""

    source: str
    target: str
    amount: int


@dataclass(frozen=True)
class Trade(Event):
    """``buyer`` buys ``size`` (base smallest units) of ``market`` from ``seller`` at
    ``price`` (quote per whole base token, 8 decimals)."""

    buyer: str
    seller: str
    market: str
    size: int
    price: int


@dataclass(frozen=True)
class LiquidatePerp(Event):
    """``liquidator`` liquidates ``account``'s position in ``market`` (``size`` 0: as much
    as the rules allow). Runs the backstop waterfall when the account is bankrupt."""

    liquidator: str
    account: str
    market: str
    size: int = 0


@dataclass(frozen=True)
class FundInsurance(Event):
    """Put ``amount`` of quote into an insurance fund: ``market``'s, or the shared one."""

    amount: int
    market: str = ""


@dataclass(frozen=True)
class Bark(Event):
    """``keeper`` starts the auction of an unsafe vault (Maker's ``dog.bark``/``cat.bite``)."""

    keeper: str
    account: str


@dataclass(frozen=True)
class Take(Event):
    """``keeper`` buys up to ``amount`` (wad) of an auction's collateral at no more than
    ``max_price`` (DAI per collateral, ray) (``clip.take``)."""

    keeper: str
    auction: int
    amount: int
    max_price: int


@dataclass(frozen=True)
class Redo(Event):
    """``keeper`` restarts a Dutch auction that is too old or too cheap (``clip.redo``)."""

    keeper: str
    auction: int


@dataclass(frozen=True)
class Tend(Event):
    """``keeper`` bids ``bid`` (DAI, rad) for the whole ``lot`` (``flip.tend``)."""

    keeper: str
    auction: int
    lot: int
    bid: int


@dataclass(frozen=True)
class Dent(Event):
    """``keeper`` accepts less collateral ``lot`` for the full ``bid`` (``flip.dent``)."""

    keeper: str
    auction: int
    lot: int
    bid: int


@dataclass(frozen=True)
class Deal(Event):
    """Settle an English auction whose bid expired or which ended (``flip.deal``)."""

    auction: int


@dataclass(frozen=True)
class Tick(Event):
    """Restart an English auction that ended without a bid (``flip.tick``)."""

    auction: int


# ---- Morpho Blue (morpho-org/morpho-blue src/Morpho.sol); ``market`` names a market of
# ``config.morpho``; give ``assets`` or ``shares`` (the other 0), as Morpho does.

@dataclass(frozen=True)
class MorphoSupply(Event):
    """``supply``: loan assets (or shares) from outside into ``account``'s supply."""

    account: str
    market: str
    assets: int = 0
    shares: int = 0


@dataclass(frozen=True)
class MorphoWithdraw(Event):
    """``withdraw``: supplied assets (or shares) out of ``account``."""

    account: str
    market: str
    assets: int = 0
    shares: int = 0


@dataclass(frozen=True)
class MorphoBorrow(Event):
    """``borrow``: loan assets (or shares) against ``account``'s collateral."""

    account: str
    market: str
    assets: int = 0
    shares: int = 0


@dataclass(frozen=True)
class MorphoRepay(Event):
    """``repay``: assets (or shares) of ``account``'s debt, from outside."""

    account: str
    market: str
    assets: int = 0
    shares: int = 0


@dataclass(frozen=True)
class MorphoSupplyCollateral(Event):
    """``supplyCollateral``: collateral from outside into ``account``'s position."""

    account: str
    market: str
    assets: int


@dataclass(frozen=True)
class MorphoWithdrawCollateral(Event):
    """``withdrawCollateral``: collateral out of ``account``'s position."""

    account: str
    market: str
    assets: int


@dataclass(frozen=True)
class MorphoLiquidate(Event):
    """``liquidate``: ``liquidator`` repays ``borrower``'s debt for its collateral (give
    ``seized_assets`` or ``repaid_shares``)."""

    liquidator: str
    borrower: str
    market: str
    seized_assets: int = 0
    repaid_shares: int = 0


@dataclass(frozen=True)
class MorphoAccrueInterest(Event):
    """``accrueInterest``: accrue ``market``'s interest to the ledger's clock."""

    market: str


@dataclass(frozen=True)
class DepositOptionCash(Event):
    """Bring ``amount`` of the options quote asset (``[options].quote``) from outside into
    ``account``'s options cash."""

    account: str
    amount: int


@dataclass(frozen=True)
class WithdrawOptionCash(Event):
    """Take ``amount`` out of ``account``'s options cash (the account's portfolio initial
    margin must still hold, or the withdrawal must not lower it)."""

    account: str
    amount: int


def _check_series(event: Event, underlying: str, expiry: int, strike: int) -> None:
    name = type(event).__name__
    if not underlying:
        raise EventError(f"{name}.underlying: must be a symbol (got {underlying!r})")
    if expiry < 0:
        raise EventError(f"{name}.expiry: must be unix seconds >= 0 (got {expiry})")
    if strike <= 0:
        raise EventError(f"{name}.strike: must be > 0 price units (got {strike})")


@dataclass(frozen=True)
class TradeOption(Event):
    """``buyer`` buys ``size`` (size units: ``10^size_decimals`` per option) of the European
    option ``underlying``/``expiry``/``strike``/``is_call`` from ``seller`` for ``premium``
    (quote smallest units, the whole trade's). A bilateral trade: both sides are checked
    pre-trade by the PMRM_2 rule (``validate_trade``) under the protocol's portfolio preset.
    Strike in price units (8 decimals) per whole underlying token."""

    buyer: str
    seller: str
    underlying: str
    expiry: int
    strike: int
    is_call: bool
    size: int
    premium: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_series(self, self.underlying, self.expiry, self.strike)
        if self.size <= 0:
            raise EventError(f"TradeOption.size: must be > 0 size units (got {self.size})")
        if self.premium < 0:
            raise EventError(f"TradeOption.premium: must be >= 0 (got {self.premium})")


@dataclass(frozen=True)
class SettleOption(Event):
    """Settle every position of one series at or after its expiry, at the expiry's
    settlement price, fixed at the first settlement of any series of that expiry and the
    same for every later one (one price per expiry, as Derive's settlement feed): under
    ``[options].settlement_rule == "twap"`` (the Derive presets) the spot's 30-minute TWAP
    before the expiry (:func:`marginengine.oracle.settlement_price`; refused
    ``OPTION_NOT_SETTLEABLE`` without a price at or before the window's start), else the
    underlying's oracle price. Longs receive the intrinsic value rounded down, shorts pay
    it rounded up."""

    underlying: str
    expiry: int
    strike: int
    is_call: bool

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_series(self, self.underlying, self.expiry, self.strike)


@dataclass(frozen=True)
class SetVolSurface(Event):
    """The implied volatility of ``underlying``'s options expiring at ``expiry``:
    ``vol_ppm`` (annualized, parts per million: 600000 is 60%) at the money, tilted by
    ``skew_ppm`` per unit of log-moneyness ``ln(K/F)`` (a linear smile; 0 is flat). The vol
    of a strike is floored at 1% (``MIN_VOL_PPM``)."""

    underlying: str
    expiry: int
    vol_ppm: int
    skew_ppm: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.underlying:
            raise EventError(f"SetVolSurface.underlying: must be a symbol "
                             f"(got {self.underlying!r})")
        if self.expiry < 0:
            raise EventError(f"SetVolSurface.expiry: must be unix seconds >= 0 "
                             f"(got {self.expiry})")
        if not MIN_VOL_PPM <= self.vol_ppm <= MAX_VOL_PPM:
            raise EventError(f"SetVolSurface.vol_ppm: must be in {MIN_VOL_PPM}..{MAX_VOL_PPM} "
                             f"(got {self.vol_ppm})")
        if abs(self.skew_ppm) > MAX_VOL_PPM:
            raise EventError(f"SetVolSurface.skew_ppm: must be within +-{MAX_VOL_PPM} "
                             f"(got {self.skew_ppm})")


# ---- Derive's portfolio auction (derivexyz/v2-core src/liquidation/DutchAuction.sol;
# engine/portfolio_auction_handlers.py): fractions in wad (10**18 is 100%), money in
# options quote smallest units.

@dataclass(frozen=True)
class FundSecurityModule(Event):
    """Put ``amount`` of the options quote into the security module (the insurance fund
    that pays bidders of insolvent portfolio auctions)."""

    amount: int


@dataclass(frozen=True)
class StartPortfolioAuction(Event):
    """``keeper`` starts the auction of ``account``'s portfolio, whose PMRM_2 maintenance
    margin is below 0 (``startAuction``): solvent if its mark-to-market is positive (the
    account pays the liquidation fee to the security module), else insolvent."""

    keeper: str
    account: str


@dataclass(frozen=True)
class BidPortfolioAuction(Event):
    """``bidder`` (an account holding only options cash) takes ``fraction`` (wad) of every
    position and of the cash of ``account``'s portfolio under auction (``bid``); a solvent
    bid is cut to the fraction that restores the buffer margin, and ends the auction then.
    ``price_limit`` (0: none): the most the bidder pays (solvent), or minus the least it
    receives from the security module (insolvent)."""

    bidder: str
    account: str
    fraction: int
    price_limit: int = 0


@dataclass(frozen=True)
class TerminatePortfolioAuction(Event):
    """End ``account``'s auction once it is back above its margin (buffer margin for a
    solvent auction, maintenance for an insolvent one) (``terminateAuction``)."""

    account: str


@dataclass(frozen=True)
class ConvertToInsolventAuction(Event):
    """Turn a solvent auction whose price has reached 0 into an insolvent one
    (``convertToInsolventAuction``)."""

    account: str


PORTFOLIO_AUCTION_EVENT_CLASSES: tuple[type[Event], ...] = (
    FundSecurityModule, StartPortfolioAuction, BidPortfolioAuction,
    TerminatePortfolioAuction, ConvertToInsolventAuction)

@dataclass(frozen=True)
class SetSviSurface(Event):
    """The implied volatility of ``underlying``'s options expiring at ``expiry`` as raw SVI
    (Gatheral): total variance ``w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))``
    at log-moneyness ``k = ln(K/F)``, each parameter in parts per million; a strike's vol is
    ``sqrt(w / T)`` (T in 365-day years), floored at 1%. Replaces the expiry's
    ``SetVolSurface`` (and is replaced by one). The parameters must pass SVI's no-arbitrage
    bounds (``pricing/svi.py``) and Durrleman's butterfly condition ``g(k) >= 0`` on
    ``k`` in -2..2 (step 0.05): else :class:`EventError` naming the field."""

    underlying: str
    expiry: int
    a_ppm: int
    b_ppm: int
    rho_ppm: int
    m_ppm: int
    sigma_ppm: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.underlying:
            raise EventError(f"SetSviSurface.underlying: must be a symbol "
                             f"(got {self.underlying!r})")
        if self.expiry < 0:
            raise EventError(f"SetSviSurface.expiry: must be unix seconds >= 0 "
                             f"(got {self.expiry})")
        for name in ("a_ppm", "b_ppm", "rho_ppm", "m_ppm", "sigma_ppm"):
            value = getattr(self, name)
            # The slice is read as floats: an integer beyond a float's range has no reading.
            if abs(value) > SVI_MAX_PPM:
                raise EventError(f"SetSviSurface.{name}: too large (beyond +-(2**256 - 1) "
                                 f"ppm)")
        try:
            params = self.params
            params.check_butterfly([i / 20 for i in range(-40, 41)])
        except FieldError as exc:
            name = exc.field.removeprefix("svi").lstrip(".")
            where = f"{name}_ppm" if name else "a_ppm..sigma_ppm"
            raise EventError(f"SetSviSurface.{where}: {exc.reason}") from None

    @property
    def params(self) -> SVIParams:
        """The slice as floats (ppm / 10**6)."""
        return SVIParams(self.a_ppm / 1e6, self.b_ppm / 1e6, self.rho_ppm / 1e6,
                         self.m_ppm / 1e6, self.sigma_ppm / 1e6)


#: Largest magnitude of an SVI parameter (ppm): the service's bound on signed integers
#: (uint256), well inside a float's range.
SVI_MAX_PPM = 2**256 - 1

#: Bounds of a surface's vol (ppm): 1% .. 1000%.
MIN_VOL_PPM = 10_000
MAX_VOL_PPM = 10_000_000

OPTION_EVENT_CLASSES: tuple[type[Event], ...] = (
    DepositOptionCash, WithdrawOptionCash, TradeOption, SettleOption, SetVolSurface,
    SetSviSurface)

MORPHO_EVENT_CLASSES: tuple[type[Event], ...] = (
    MorphoSupply, MorphoWithdraw, MorphoBorrow, MorphoRepay, MorphoSupplyCollateral,
    MorphoWithdrawCollateral, MorphoLiquidate, MorphoAccrueInterest)

# ---- Liquity v1 (liquity/dev BorrowerOperations.sol, TroveManager.sol, StabilityPool.sol):
# amounts in wei (ETH and LUSD, 18 decimals); ``max_fee`` is ``_maxFeePercentage`` (1e18 =
# 100%).

@dataclass(frozen=True)
class LiquityOpenTrove(Event):
    """``openTrove``: ``coll`` ETH, ``lusd_amount`` LUSD drawn (fee and 200 LUSD added)."""

    account: str
    coll: int
    lusd_amount: int
    max_fee: int = 10**18


@dataclass(frozen=True)
class LiquityAdjustTrove(Event):
    """``adjustTrove``: add or withdraw collateral, draw (``is_debt_increase``) or repay
    ``lusd_change``."""

    account: str
    coll_deposit: int = 0
    coll_withdrawal: int = 0
    lusd_change: int = 0
    is_debt_increase: bool = False
    max_fee: int = 10**18


@dataclass(frozen=True)
class LiquityCloseTrove(Event):
    """``closeTrove``: repay the debt (less the 200 LUSD reserve), take the collateral."""

    account: str


@dataclass(frozen=True)
class LiquityProvideToSP(Event):
    """``provideToSP``: deposit ``amount`` LUSD in the stability pool."""

    account: str
    amount: int


@dataclass(frozen=True)
class LiquityWithdrawFromSP(Event):
    """``withdrawFromSP``: withdraw up to ``amount`` LUSD (0: only the ETH gain)."""

    account: str
    amount: int


@dataclass(frozen=True)
class LiquityLiquidate(Event):
    """``liquidate(borrower)``."""

    liquidator: str
    borrower: str


@dataclass(frozen=True)
class LiquityLiquidateTroves(Event):
    """``liquidateTroves(n)``: up to ``n`` troves from the lowest collateral ratio."""

    liquidator: str
    n: int


@dataclass(frozen=True)
class LiquityBatchLiquidate(Event):
    """``batchLiquidateTroves``: ``borrowers`` comma-separated, in order."""

    liquidator: str
    borrowers: str


@dataclass(frozen=True)
class LiquityRedeemCollateral(Event):
    """``redeemCollateral``: ``lusd_amount`` LUSD for ETH at face value, less the
    redemption fee, from the troves with the lowest collateral ratio at or above 110%
    (``max_iterations`` 0: no limit)."""

    account: str
    lusd_amount: int
    max_fee: int = 10**18
    max_iterations: int = 0


LIQUITY_EVENT_CLASSES: tuple[type[Event], ...] = (
    LiquityOpenTrove, LiquityAdjustTrove, LiquityCloseTrove, LiquityProvideToSP,
    LiquityWithdrawFromSP, LiquityLiquidate, LiquityLiquidateTroves, LiquityBatchLiquidate,
    LiquityRedeemCollateral)

# ---- Euler v2 (euler-xyz/euler-vault-kit src/EVault): one vault (``config.euler.vault``)
# lending against collaterals (``config.euler.collaterals``); amounts in the token's smallest
# units, LTVs in Euler's 1e4 (CONFIG_SCALE).

@dataclass(frozen=True)
class EulerDeposit(Event):
    """``deposit(assets, receiver)``: vault assets from outside for shares (rounded down)."""

    account: str
    assets: int


@dataclass(frozen=True)
class EulerWithdraw(Event):
    """``withdraw(assets, receiver, owner)``: assets out for shares (rounded up)."""

    account: str
    assets: int


@dataclass(frozen=True)
class EulerDepositCollateral(Event):
    """A collateral deposit (its collateral vault's ``deposit``) into ``account``."""

    account: str
    asset: str
    amount: int


@dataclass(frozen=True)
class EulerWithdrawCollateral(Event):
    """A collateral withdrawal; the account status check (``checkLiquidity``) follows."""

    account: str
    asset: str
    amount: int


@dataclass(frozen=True)
class EulerBorrow(Event):
    """``borrow(assets, receiver)``; the account status check follows."""

    account: str
    assets: int


@dataclass(frozen=True)
class EulerRepay(Event):
    """``repay(assets, receiver)`` from outside (-1: ``type(uint256).max``, the whole debt)."""

    account: str
    assets: int


@dataclass(frozen=True)
class EulerSetLTV(Event):
    """Governance ``setLTV(collateral, borrowLTV, liquidationLTV, rampDuration)`` (1e4)."""

    collateral: str
    borrow_ltv: int
    liquidation_ltv: int
    ramp_duration: int = 0


@dataclass(frozen=True)
class EulerLiquidate(Event):
    """``liquidate(violator, collateral, repayAssets, minYieldBalance)``: the liquidator
    takes over ``repay_assets`` of debt (-1: the most allowed) for collateral. With
    ``repay`` it repays that debt in the same EVC batch (else its own account status
    check must pass with the debt it took over)."""

    liquidator: str
    violator: str
    collateral: str
    repay_assets: int = -1
    min_yield_balance: int = 0
    repay: bool = False


EULER_EVENT_CLASSES: tuple[type[Event], ...] = (
    EulerDeposit, EulerWithdraw, EulerDepositCollateral, EulerWithdrawCollateral, EulerBorrow,
    EulerRepay, EulerSetLTV, EulerLiquidate)

# ---- Mango v4 (blockworks-foundation/mango-v4 programs/mango-v4/src/instructions): a group
# of ``config.mango``; amounts in native units (the token's smallest units).

@dataclass(frozen=True)
class MangoDeposit(Event):
    """``token_deposit``: ``amount`` of ``token`` from outside into ``account``."""

    account: str
    token: str
    amount: int


@dataclass(frozen=True)
class MangoWithdraw(Event):
    """``token_withdraw(amount, allow_borrow)``: beyond the position it is a borrow; the
    init health must then be non-negative or not decrease (``check_health_post``)."""

    account: str
    token: str
    amount: int
    allow_borrow: bool = True


@dataclass(frozen=True)
class MangoPerpTrade(Event):
    """A perp fill for ``account``: ``base_lots`` (signed: bought) and ``quote`` (settle
    token native units, signed: received) and the trading ``fee`` paid (native, signed: a
    maker rebate is negative), then ``check_health_post``. Funding is settled first, the
    fee is immediately settleable (the oneshot allowance) and the fill moves the recurring
    settle allowance (``record_trading_fee``, ``record_trade``)."""

    account: str
    market: str
    base_lots: int
    quote: int
    fee: int = 0


@dataclass(frozen=True)
class MangoPerpOrders(Event):
    """``account``'s open orders on ``market`` become ``bids`` and ``asks`` base lots (the
    resting part of ``perp_place_order``), then ``check_health_post``."""

    account: str
    market: str
    bids: int
    asks: int


@dataclass(frozen=True)
class MangoSetStablePrice(Event):
    """The stable price of a bank or perp market (its ``StablePriceModel`` output), as an
    engine price (USD, 8 decimals)."""

    asset: str
    price: int


@dataclass(frozen=True)
class MangoLiqTokenWithToken(Event):
    """``token_liq_with_token(asset_token_index, liab_token_index, max_liab_transfer)``:
    ``liquidator`` pays up to ``max_liab_transfer`` native ``liab_token`` into
    ``account``'s borrow for its ``asset_token`` at the oracle prices and the fee factors,
    as much as brings its liquidation-end health to zero (-1: no maximum)."""

    liquidator: str
    account: str
    asset_token: str
    liab_token: str
    max_liab_transfer: int = -1


@dataclass(frozen=True)
class MangoTokenLiqBankruptcy(Event):
    """``token_liq_bankruptcy(max_liab_transfer)``: ``account`` has no asset left to
    liquidate; the group's insurance fund pays ``liquidator`` (in the quote) for taking
    over up to ``max_liab_transfer`` native ``liab_token`` at the oracle price and the
    bank's liquidation fee (for a quote borrow it repays it directly); once the fund is
    exhausted the rest is socialized over the bank's depositors (-1: no maximum)."""

    liquidator: str
    account: str
    liab_token: str
    max_liab_transfer: int = -1


@dataclass(frozen=True)
class MangoPerpLiqBaseOrPositivePnl(Event):
    """``perp_liq_base_or_positive_pnl(max_base_transfer, max_pnl_transfer)``:
    ``liquidator`` takes over up to ``max_base_transfer`` lots of ``account``'s base
    position on ``market`` (signed as the reduction: positive for a long liqee, negative
    for a short) at the oracle price adjusted by the base liquidation fee, and up to
    ``max_pnl_transfer`` native settle units of its positive pnl for settle tokens, as far
    as brings its liquidation-end health to zero."""

    liquidator: str
    account: str
    market: str
    max_base_transfer: int
    max_pnl_transfer: int = 0


@dataclass(frozen=True)
class MangoPerpLiqNegativePnlOrBankruptcy(Event):
    """``perp_liq_negative_pnl_or_bankruptcy(max_liab_transfer)``: on an account with no
    perp base left, ``liquidator`` takes over up to ``max_liab_transfer`` native settle
    units of its negative pnl on ``market``, first for the account's settle tokens, then,
    once those are exhausted, for the group's insurance fund (quote); once the fund is
    exhausted the rest is socialized over the market's open interest."""

    liquidator: str
    account: str
    market: str
    max_liab_transfer: int


@dataclass(frozen=True)
class MangoPerpSettlePnl(Event):
    """``perp_settle_pnl``: ``account_a``'s positive pnl on ``market`` is settled against
    ``account_b``'s negative pnl into their settle tokens, each side cut to its available
    settle limit this window and B's to what its health backs (``perp_max_settle``); A
    pays ``settler`` the settle fee (whole native units, rounded down)."""

    settler: str
    account_a: str
    account_b: str
    market: str


#: A side of a Mango perp book in a :class:`MangoPerpUpdateFunding`: ``(price lots,
#: quantity lots)`` of each valid order, in any order.
BookLevels = tuple[tuple[int, int], ...]


def _levels(name: str, value: object) -> BookLevels:
    """``value`` as :data:`BookLevels`, or :class:`EventError` naming
    ``MangoPerpUpdateFunding.{name}``."""
    where = f"MangoPerpUpdateFunding.{name}"
    if not isinstance(value, tuple | list) or not all(
            isinstance(p, tuple | list) and len(p) == 2 for p in value):
        raise EventError(f"{where}: must be a list of [price lots, quantity lots] pairs "
                         f"(got {value!r})")
    out = []
    for i, (price, quantity) in enumerate(value):
        for what, number in (("price lots", price), ("quantity lots", quantity)):
            if isinstance(number, bool) or not isinstance(number, int):
                raise EventError(f"{where}[{i}]: the {what} must be an integer "
                                 f"(got {number!r})")
            if not 0 < number <= 2**63 - 1:
                raise EventError(f"{where}[{i}]: the {what} must be positive and fit an "
                                 f"i64 (got {number})")
        out.append((price, quantity))
    return tuple(out)


@dataclass(frozen=True)
class MangoPerpUpdateFunding(Event):
    """``perp_update_funding``: the keeper's crank of ``market``'s funding
    (``PerpMarket::update_funding_and_stable_price``) from the book's valid orders,
    ``bids`` and ``asks`` as ``(price lots, quantity lots)`` pairs: the impact prices
    ``impact_quantity`` lots deep against the oracle give the day's rate, clamped to
    ``[min_funding, max_funding]``, applied for the time since the last update (at most an
    hour). The stable price is the engine's (``MangoSetStablePrice`` or the oracle's
    stable price), not updated here.

    In JSON the sides are lists of pairs: ``{"type": "MangoPerpUpdateFunding", "market":
    "SOL-PERP", "bids": [[9990, 5]], "asks": [[10010, 5]]}``."""

    market: str
    bids: BookLevels = ()
    asks: BookLevels = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "bids", _levels("bids", self.bids))
        object.__setattr__(self, "asks", _levels("asks", self.asks))

    def to_dict(self) -> dict[str, Any]:
        """``{"type", "market", "bids": [[price, quantity], ...], "asks": [...]}``."""
        return {"type": self.name, "market": self.market,
                "bids": [list(p) for p in self.bids], "asks": [list(p) for p in self.asks]}

    def to_json(self) -> str:
        """The JSON of :meth:`to_dict`."""
        return encode(self.to_dict())


MANGO_EVENT_CLASSES: tuple[type[Event], ...] = (
    MangoDeposit, MangoWithdraw, MangoPerpTrade, MangoPerpOrders, MangoSetStablePrice,
    MangoLiqTokenWithToken, MangoTokenLiqBankruptcy, MangoPerpLiqBaseOrPositivePnl,
    MangoPerpLiqNegativePnlOrBankruptcy, MangoPerpSettlePnl, MangoPerpUpdateFunding)

# ---- Drift v2 (drift-labs/protocol-v2 programs/drift/src/instructions): ``config.drift``;
# spot amounts in the token's native units, perp base 1e9 and quote 1e6.

@dataclass(frozen=True)
class DriftDeposit(Event):
    """``deposit``: ``amount`` of spot ``market`` from outside into ``account``."""

    account: str
    market: str
    amount: int


@dataclass(frozen=True)
class DriftWithdraw(Event):
    """``withdraw``: beyond the deposit a borrow; the account must then meet its initial
    margin requirement (``InsufficientCollateral``)."""

    account: str
    market: str
    amount: int


@dataclass(frozen=True)
class DriftPerpTrade(Event):
    """A perp fill for ``account``: ``base`` (1e9, signed: bought) and ``quote`` (1e6,
    signed: received); the initial requirement must then be met."""

    account: str
    market: str
    base: int
    quote: int


@dataclass(frozen=True)
class DriftLiquidateSpot(Event):
    """``liquidate_spot(asset_market, liability_market, liquidator_max_liability_transfer)``:
    ``liquidator`` takes over the liability that covers ``account``'s margin shortage for
    its asset at the liquidation multipliers (-1: no maximum), at most the share of it that
    the gradual liquidation allows at the event's slot (``calculate_max_pct_to_liquidate``).
    """

    liquidator: str
    account: str
    asset_market: str
    liability_market: str
    max_liability_transfer: int = -1


@dataclass(frozen=True)
class DriftLiquidatePerp(Event):
    """``liquidate_perp(market_index, liquidator_max_base_asset_amount)``: ``liquidator``
    takes over the part of ``account``'s perp position in ``market`` that covers its margin
    shortage, at the oracle price less the liquidator's fee (the insurance fund's fee on
    top, the liquidator's fee rising with the slots in liquidation: ``get_liquidation_fee``);
    ``max_base`` (1e9, -1: no maximum) and the gradual liquidation's share bound it."""

    liquidator: str
    account: str
    market: str
    max_base: int = -1


@dataclass(frozen=True)
class DriftResolvePerpBankruptcy(Event):
    """``resolve_perp_bankruptcy(market_index)``: ``account`` (cross-margin bankrupt: a
    liability and nothing else) has its negative quote in ``market`` cleared, paid by the
    insurance fund, then the market's fee pool, the rest socialized over the market's open
    positions through the cumulative funding rates; ``liquidator`` calls it."""

    liquidator: str
    account: str
    market: str


@dataclass(frozen=True)
class DriftResolveSpotBankruptcy(Event):
    """``resolve_spot_bankruptcy(market_index)``: ``account`` (cross-margin bankrupt) has
    its borrow of spot ``market`` cleared, paid by the market's insurance fund (at most
    its vault less 1), the rest socialized over the market's deposits by lowering its
    cumulative deposit interest; ``liquidator`` calls it."""

    liquidator: str
    account: str
    market: str


@dataclass(frozen=True)
class DriftLiquidatePerpPnlForDeposit(Event):
    """``liquidate_perp_pnl_for_deposit(perp_market_index, asset_market_index,
    liquidator_max_pnl_transfer)``: ``liquidator`` takes over ``account``'s negative quote
    in ``perp_market`` (no base left) that covers its margin shortage, for its deposit of
    ``asset_market`` at the oracle prices and the liquidation multipliers;
    ``max_pnl_transfer`` (quote 1e6, -1: no maximum) and the gradual liquidation's share
    bound it."""

    liquidator: str
    account: str
    perp_market: str
    asset_market: str
    max_pnl_transfer: int = -1


DRIFT_EVENT_CLASSES: tuple[type[Event], ...] = (
    DriftDeposit, DriftWithdraw, DriftPerpTrade, DriftLiquidateSpot, DriftLiquidatePerp,
    DriftResolvePerpBankruptcy, DriftResolveSpotBankruptcy, DriftLiquidatePerpPnlForDeposit)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (Deposit, Withdraw, Borrow, Repay, SetPrice, AdvanceTime, Liquidate, Absorb,
                BuyCollateral, DepositQuote, WithdrawQuote, TransferQuote, Trade,
                LiquidatePerp, FundInsurance, Bark, Take, Redo, Tend, Dent, Deal, Tick,
                SetConditions, SetSequencer, SetRiskParams, SetCrowding, SetUserEMode,
                SetUseAsCollateral, RepayWithATokens, SetLiquidationGracePeriod,
                SetReservePause, SetPoolPause, SetReserveFreeze, SetReserveActive,
                SetDebtCeiling, ImportAccount, *MORPHO_EVENT_CLASSES,
                *LIQUITY_EVENT_CLASSES, *OPTION_EVENT_CLASSES, *EULER_EVENT_CLASSES,
                *MANGO_EVENT_CLASSES, *DRIFT_EVENT_CLASSES, *PORTFOLIO_AUCTION_EVENT_CLASSES)
}


#: The events that keep the engine at genesis, where :class:`ImportAccount` is accepted:
#: market inputs (prices, conditions, vol surfaces, the sequencer), deposits and funds
#: (lenders' liquidity, quote, insurance, the security module, options cash), and imports.
#: None decides on margin or moves the clock; the first other event accepted (a borrow, a
#: trade, a liquidation, ``AdvanceTime``, a parameter change) closes genesis for good.
GENESIS_EVENTS: frozenset[type[Event]] = frozenset({
    ImportAccount, SetPrice, SetConditions, SetSequencer, SetVolSurface, SetSviSurface,
    Deposit, DepositQuote, FundInsurance, FundSecurityModule, DepositOptionCash})


def event_from_dict(data: Any) -> Event:
    """Build an event from ``{"type": ..., **fields}``, or raise :class:`EventError`."""
    if not isinstance(data, dict):
        raise EventError(f"event must be a table/object, not {type(data).__name__}")
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise EventError(
            f"type: unknown event type {kind!r} (one of {', '.join(EVENT_TYPES)})"
        )
    names = [f.name for f in dataclasses.fields(cls)]
    # Every problem at once, the unknown (most often mistyped) fields first: a field
    # misspelt is also a required one missing, and the misspelling is the one to fix.
    problems = [(f"{kind}.{k}", _unknown_field(str(k), names))
                for k in data if k != "type" and k not in names]
    problems += [(f"{kind}.{f.name}", "required field is missing")
                 for f in dataclasses.fields(cls)
                 if f.default is dataclasses.MISSING
                 and f.default_factory is dataclasses.MISSING and f.name not in data]
    if problems:
        raise EventError("; ".join(f"{f}: {r}" for f, r in problems), problems)
    return cls(**{k: v for k, v in data.items() if k != "type"})


def _unknown_field(name: str, names: list[str]) -> str:
    """Why ``name`` is refused: unknown, with the closest field the event takes."""
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"unknown field ({hint}fields: {', '.join(names)})"


@dataclass(frozen=True)
class Outcome:
    """What the engine did with one event: accepted with details, or rejected with a reason.

    Attributes
    ----------
    seq
        Position in the event log (1-based).
    event
        The event as submitted.
    accepted
        Whether it changed the state.
    reason
        Why it was refused, for people (``None`` when accepted): the refusal's message.
    details
        Figures of an accepted event (amounts repaid, seized, written off, ...).
    code
        The refusal's stable code (a :class:`~marginengine.decisions.Code` value;
        ``None`` when accepted). Programs compare this, never ``reason``.
    data
        The figures behind the refusal (``{}`` when accepted).

    An outcome is also its log record: with a per-batch log it is encoded at the batch's
    commit, so ``details`` and ``data`` are not to be changed after ``apply`` returns them
    (a changed record would be logged as changed, and replay would name the divergence).
    """

    seq: int
    event: Event
    accepted: bool
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    code: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def refused(cls, seq: int, event: Event, refusal: Refusal) -> Outcome:
        """The outcome of a refused event."""
        return cls(seq, event, False, refusal.message, {}, refusal.code.value,
                   dict(refusal.data))

    @property
    def refusal(self) -> Refusal | None:
        """The typed refusal (``None`` when accepted)."""
        if self.accepted or self.code is None:
            return None
        return Refusal(Code(self.code), self.reason or "", dict(self.data))

    @property
    def name(self) -> str:
        """``BorrowAccepted``, ``BorrowRejected``, ``LiquidationExecuted``, ..."""
        key = (type(self.event), self.accepted)
        name = _OUTCOME_NAMES.get(key)
        if name is None:
            name = _OUTCOME_NAMES[key] = _outcome_name(self.event, self.accepted)
        return name

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the log."""
        return {
            "seq": self.seq,
            "outcome": self.name,
            "event": self.event.to_dict(),
            "accepted": self.accepted,
            "reason": self.reason,
            "code": self.code,
            "data": self.data,
            "details": self.details,
        }

    def to_json(self) -> str:
        """The JSON of :meth:`to_dict`, exactly as :func:`~marginengine.persistence.encode`
        writes it: the log's payload. An accepted outcome's envelope is formatted directly
        (its reason, code and data are fixed), which halves the cost of a logged event's
        record; a refused one is encoded from :meth:`to_dict`."""
        if self.accepted and self.reason is None and self.code is None and not self.data:
            return _ACCEPTED_JSON % (self.seq, self.name, self.event.to_json(),
                                     encode(self.details) if self.details else "{}")
        return encode(self.to_dict())

    def __str__(self) -> str:
        if self.accepted:
            return f"{self.name}({self.details})"
        return f'{self.name}(reason="{self.reason}")'
