"""The typed context a handler is given: the only way a handler reaches the engine.

A handler reads the state (the reads of :class:`~marginengine.engine.state.StateReads`),
requires usable prices, changes state through the ledger's primitives and the journalled
setters here, refuses with a code (:meth:`HandlerContext.refuse`) and records details
(:meth:`HandlerContext.record`). Everything it changes is inside the engine's one
transaction, so a refusal (or any exception) leaves no trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from marginengine.config import ProtocolConfig
from marginengine.config.amounts import MAX_UNITS
from marginengine.decisions import Code, Refusal
from marginengine.engine.family_state import DriftBook, EulerBook, FamilyBook, MangoBook
from marginengine.engine.rejected import Rejected
from marginengine.engine.state import EngineState, MorphoBook, SequencerStatus, StateReads
from marginengine.fixedpoint import format_units
from marginengine.ledger import check_account_id
from marginengine.liquidation.absorb import LiquidatorPoints
from marginengine.liquidation.auction_house import AuctionHouse
from marginengine.liquidation.liquity_system import LiquitySystem
from marginengine.margin import InitialScope
from marginengine.margin.adaptive_model import MarketParams, PerpParams
from marginengine.oracle import MarketOracle
from marginengine.oracle.conditions import MarketConditions


class HandlerContext(StateReads):
    """What one handler may do while one event is applied.

    Parameters
    ----------
    state
        The engine's state, with its transaction open.
    """

    def __init__(self, state: EngineState) -> None:
        self.state = state
        self.details: dict[str, Any] = {}

    # ------------------------------------------------------------------ deciding
    def refuse(self, code: Code, message: str, **data: Any) -> NoReturn:
        """Refuse the event with a typed refusal (raises; the transaction rolls back)."""
        raise Rejected(Refusal(code, message, data))

    def refuse_with(self, refusal: Refusal) -> NoReturn:
        """Refuse with a refusal a rule returned."""
        raise Rejected(refusal)

    def record(self, **details: Any) -> None:
        """Add figures to the outcome's details."""
        self.details.update(details)

    # ------------------------------------------------------------------ checking arguments
    @property
    def time(self) -> int:
        """The ledger's clock, seconds."""
        return self.state.ledger.time

    def market(self, asset: object, field: str = "asset") -> str:
        """``asset`` if it is a lending market, else refuse naming ``field``."""
        if not isinstance(asset, str) or asset not in self.config.markets:
            self.refuse(Code.UNKNOWN_ASSET, f"{field}: unknown asset {asset!r}",
                        field=field, asset=str(asset))
        return asset

    def positive(self, amount: int, field: str = "amount") -> int:
        """``amount`` if positive and at most ``2**256 - 1`` (a token amount is a uint256
        on every chain the families run on: the protocol cannot be sent more), else refuse
        naming ``field`` (Aave's INVALID_AMOUNT)."""
        if amount <= 0:
            self.refuse(Code.INVALID_AMOUNT, f"{field}: must be positive (got {amount})",
                        field=field, value=amount)
        return self.within_uint256(amount, field)

    def within_uint256(self, amount: int, field: str = "amount") -> int:
        """``amount`` if at most ``2**256 - 1`` (no token amount passes a uint256), else
        refuse naming ``field`` (INVALID_AMOUNT). For fields that may be 0 or whose rule
        checks the sign itself (Liquity's)."""
        if amount > MAX_UNITS:
            self.refuse(Code.INVALID_AMOUNT,
                        f"{field}: too large (more than 2**256 - 1 smallest units)",
                        field=field, value=amount)
        return amount

    def account_id(self, account_id: str, field: str = "account") -> str:
        """``account_id`` if it is a valid id, else refuse naming ``field``."""
        try:
            return check_account_id(account_id, field)
        except ValueError as exc:
            self.refuse(Code.INVALID_ACCOUNT_ID, str(exc), field=field)

    def existing(self, account_id: str, field: str = "account") -> str:
        """``account_id`` if it is a known account, else refuse naming ``field``."""
        self.account_id(account_id, field)
        if account_id not in self.ledger.accounts:
            self.refuse(Code.UNKNOWN_ACCOUNT, f"{field}: unknown account {account_id!r}",
                        field=field, account=account_id)
        return account_id

    def units(self, asset: str, amount: int) -> str:
        """``amount`` smallest units of ``asset`` for a message (``1.5 WETH``)."""
        return f"{format_units(amount, self.config.markets[asset].decimals)} {asset}"

    # ------------------------------------------------------------------ prices
    def price(self, asset: str) -> int:
        """The asset's oracle price, or refuse if none was set."""
        if asset not in self.prices:
            self.refuse(Code.PRICE_NOT_SET, f"no price has been set for {asset}", asset=asset)
        return self.prices[asset]

    def require_prices(self, assets: Iterable[str], for_liquidation: bool = False) -> None:
        """Refuse unless every price the decision uses is usable now (the oracle layer
        decides: set, fresh enough, and its circuit breaker allows the action)."""
        for asset in sorted(set(assets)):
            refusal = self.oracles[asset].refusal(self.time, for_liquidation)
            if refusal is not None:
                self.refuse_with(refusal)

    # ------------------------------------------------------------------ margin
    def require_initial_margin(self, account_id: str,
                               scope: InitialScope = InitialScope.ALWAYS,
                               who: str = "") -> None:
        """Refuse unless the account meets initial margin after the action, as the one
        margin interface decides it (:meth:`AccountMarginModel.initial_refusal` at the
        initial-margin valuation); ``scope`` says which accounts the action's bucket check
        binds (see :class:`~marginengine.margin.InitialScope`). An account with a crowding
        add-on is always bound: its requirement, raised by the add-on, must be met."""
        model = self.margin_model
        if not model.initial_binds(self.ledger, account_id, scope) and \
                not self.state.addons.get(account_id):
            return
        if scope is InitialScope.OPEN_POSITIONS:
            self.require_prices(self.priced_assets(account_id))
        refusal = model.initial_refusal(self.ledger, self.initial_valuation(), account_id,
                                        InitialScope.ALWAYS, who)
        if refusal is not None:
            self.refuse_with(refusal)

    def morpho_book(self, market: object, field: str = "market") -> MorphoBook:
        """The Morpho market ``market``'s book, or refuse naming ``field``."""
        if not isinstance(market, str) or market not in self.state.morpho:
            known = ", ".join(sorted(self.state.morpho)) or "none"
            self.refuse(Code.UNKNOWN_MARKET, f"{field}: unknown Morpho market {market!r} "
                        f"(markets: {known})", field=field, market=str(market))
        return self.state.morpho[market]

    # ------------------------------------------------------------------ journalled changes
    def set_morpho(self, market: str, book: MorphoBook) -> None:
        """Replace a Morpho market's book (journalled)."""
        self.state.set_morpho(market, book)

    def liquity_system(self) -> LiquitySystem:
        """The Liquity system (the family's events run only where there is one)."""
        system = self.state.liquity
        if system is None:
            self.refuse(Code.EVENT_NOT_SUPPORTED, f"{self.rules.family} has no troves")
        return system

    def set_liquity(self, system: LiquitySystem) -> None:
        """Replace the Liquity system (journalled)."""
        self.state.set_liquity(system)

    def euler_book(self) -> EulerBook:
        """The Euler vault's book (the family's events run only where there is one)."""
        book = self.state.family
        if not isinstance(book, EulerBook):
            self.refuse(Code.EVENT_NOT_SUPPORTED, f"{self.rules.family} has no Euler vault")
        return book

    def mango_book(self) -> MangoBook:
        """The Mango group's book (the family's events run only where there is one)."""
        book = self.state.family
        if not isinstance(book, MangoBook):
            self.refuse(Code.EVENT_NOT_SUPPORTED, f"{self.rules.family} has no Mango group")
        return book

    def drift_book(self) -> DriftBook:
        """The Drift exchange's book (the family's events run only where there is one)."""
        book = self.state.family
        if not isinstance(book, DriftBook):
            self.refuse(Code.EVENT_NOT_SUPPORTED, f"{self.rules.family} has no Drift markets")
        return book

    def set_family(self, book: FamilyBook) -> None:
        """Replace the family's book (journalled)."""
        self.state.set_family(book)

    def set_price(self, asset: str, price: int) -> None:
        """Set an oracle price."""
        self.state.set_price(asset, price)

    def oracle_for_update(self, asset: str) -> MarketOracle:
        """A market's oracle, to change."""
        return self.state.oracle_for_update(asset)

    def auction_house(self, auction: int | None = None) -> AuctionHouse:
        """The auction house, to change (``auction``'s entries owned by this event), or
        refuse if the protocol has none."""
        house = self.state.auctions_for_update(auction)
        if house is None:
            self.refuse(Code.EVENT_NOT_SUPPORTED,
                        f"{self.rules.family} has no auctions; it liquidates directly")
        return house

    def set_market_params(self, asset: str, params: MarketParams,
                          updated: Iterable[str] = ()) -> None:
        """Put a market's risk parameters in force (see
        :meth:`EngineState.set_market_params`); ``updated`` parameters are stamped now."""
        self.state.set_market_params(asset, params, self.time, updated)

    def set_reserve_config(self, config: ProtocolConfig, asset: str) -> None:
        """Put a configuration in force that changes ``asset``'s debt ceiling or e-mode
        ``ltvzero`` bits (see :meth:`EngineState.set_reserve_config`)."""
        self.state.set_reserve_config(config, asset)

    def set_perp_params(self, market: str, params: PerpParams,
                        updated: Iterable[str] = ()) -> None:
        """Put perp ``market``'s first-tier fractions in force (journalled, see
        :meth:`EngineState.set_perp_params`); ``updated`` parameters are stamped now."""
        self.state.set_perp_params(market, params, self.time, updated)

    def set_crowding(self, asset: str, addons: Mapping[str, int]) -> None:
        """Replace collateral ``asset``'s crowding add-ons (journalled)."""
        self.state.set_crowding(asset, addons)

    def set_liquidator_points(self, absorber: str, points: LiquidatorPoints) -> None:
        """Replace an absorber's Comet liquidator points (journalled)."""
        self.state.set_liquidator_points(absorber, points)

    def set_conditions(self, asset: str, conditions: MarketConditions) -> None:
        """Replace an asset's market conditions."""
        self.state.set_conditions(asset, conditions)

    def set_sequencer(self, up: bool) -> None:
        """Record the sequencer's status as of now."""
        self.state.set_sequencer(SequencerStatus(up, self.time))


__all__ = ["HandlerContext"]
