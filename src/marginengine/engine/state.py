"""All the state of one engine, under one journalled transaction, and the reads over it.

:class:`EngineState` holds the ledger, the prices, the per-market oracles, the auction
house, the market conditions and the sequencer status. :meth:`EngineState.transaction`
journals every part: the ledger through its own journal, the rest here, saved on first
write. If an exception escapes, every part is restored, so a refused event changes
nothing anywhere. :class:`StateReads` is the read API the engine and the handlers'
context share (account data, margin, marks, prices for initial margin).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from marginengine.config import ProtocolConfig
from marginengine.config.families import LendingRules
from marginengine.config.portfolio import PortfolioRules
from marginengine.engine.events import GENESIS_EVENTS, MIN_VOL_PPM, Event, ImportAccount
from marginengine.engine.family_state import FamilyBook, family_margin_of, new_family_book
from marginengine.errors import FieldError, InvariantViolation
from marginengine.fixedpoint import PRICE_UNIT, Rounding
from marginengine.ledger import Ledger
from marginengine.ledger.options import OptionClearing, OptionSeries, expired
from marginengine.liquidation.absorb import LiquidatorPoints
from marginengine.liquidation.auction_house import AuctionHouse
from marginengine.liquidation.close_factor import CloseFactorInputs, close_factor_inputs
from marginengine.liquidation.liquity import StabilityPoolRule
from marginengine.liquidation.liquity_system import LiquitySystem
from marginengine.liquidation.portfolio_auction import PortfolioAuction, PortfolioAuctions
from marginengine.margin import (
    AccountData,
    AccountMarginModel,
    FamilyMargin,
    MarginKind,
    MarginState,
    Valuation,
    value_of,
)
from marginengine.margin.adaptive_model import (
    AdaptiveMarginModel,
    MarketParams,
    PerpParams,
    config_with_params,
    config_with_perp_params,
    market_params,
    perp_params,
)
from marginengine.margin.morpho import Market as MorphoMarket
from marginengine.margin.morpho import Position as MorphoPosition
from marginengine.margin.perp import BucketRisk, PerpMarginModel, margin_price, mark_price
from marginengine.margin.portfolio import (
    Expiry,
    OptionPosition,
    Portfolio,
    PortfolioMargin,
    ProposedTrade,
    WhatIf,
    portfolio_of,
)
from marginengine.margin.portfolio_rules import evaluate_portfolio, what_if_portfolio
from marginengine.margin.weighted import WeightedMarginModel
from marginengine.oracle import MarketOracle, PriceTable
from marginengine.oracle.conditions import MarketConditions
from marginengine.oracle.settlement_feed import (
    SETTLEMENT_TWAP_DURATION,
    SpotPoints,
    forward_portions,
    observe_spot,
    retained_spots,
    settlement_price,
)
from marginengine.pricing.scenarios import SECONDS_PER_YEAR
from marginengine.pricing.svi import SVIParams

_UNSET = object()


@dataclass(frozen=True)
class MorphoBook:
    """One Morpho Blue market's totals and positions (values: replaced, never mutated)."""

    market: MorphoMarket
    positions: Mapping[str, MorphoPosition]

    def position(self, account: str) -> MorphoPosition:
        """``account``'s position (empty if it has none)."""
        return self.positions.get(account, MorphoPosition())

    def state_dict(self) -> dict[str, object]:
        """Plain data for the state hash."""
        m = self.market
        return {"market": [m.total_supply_assets, m.total_supply_shares,
                           m.total_borrow_assets, m.total_borrow_shares, m.last_update, m.fee],
                "positions": {a: [p.supply_shares, p.borrow_shares, p.collateral]
                              for a, p in sorted(self.positions.items())
                              if (p.supply_shares, p.borrow_shares, p.collateral) != (0, 0, 0)}}


@dataclass(frozen=True)
class SequencerStatus:
    """The L2 sequencer as its uptime feed last reported it: up or down since ``since``."""

    up: bool
    since: int


class EngineState:
    """Everything an engine holds, changed only inside :meth:`transaction`.

    Parameters
    ----------
    config
        The validated protocol.
    """

    def __init__(self, config: ProtocolConfig) -> None:
        self.config = config
        self.rules: LendingRules = config.rules
        self.ledger = Ledger(config)
        self.prices = PriceTable()
        #: Account data read at a state, by account: ``(key, data)`` with the key of
        #: :meth:`StateReads.account_data` (the account's version, the index epoch, the
        #: price version, the margin model in force).
        self.account_reads: dict[str, tuple[tuple[int, int, int, object], AccountData]] = {}
        #: Close-factor inputs read at a state, by account: ``(key, inputs)`` with the key
        #: of :meth:`StateReads.close_factor_inputs` (the last pair read of each account).
        self.close_factor_reads: dict[str, tuple[tuple[object, ...], CloseFactorInputs]] = {}
        self.oracles = {asset: MarketOracle(asset, config.oracle)
                        for asset in (*config.markets, *config.perps)}
        self.auctions = AuctionHouse.of(config.auction) if config.auction is not None else None
        self.conditions: dict[str, MarketConditions] = {}
        self.sequencer: SequencerStatus | None = None
        self.margin = AccountMarginModel(config)
        # Morpho Blue's isolated markets (preset morpho-blue): created at the ledger's time.
        self.morpho: dict[str, MorphoBook] = {
            name: MorphoBook(MorphoMarket(last_update=self.ledger.time,
                                          fee=int(m.fee * 10**18)), {})
            for name, m in config.morpho.items()}
        self._saved_morpho: dict[str, MorphoBook] = {}
        # Liquity v1's troves and stability pool (presets liquity-v1, liquity-v1-2025).
        pool_rule = self.rules.liquity_pool
        # Its baseRate is the config's as of the ledger's time (the last fee operation).
        self.liquity: LiquitySystem | None = (
            LiquitySystem.empty(StabilityPoolRule(pool_rule.value),
                                int(config.liquity.base_rate * 10**18), self.ledger.time)
            if config.liquity is not None and pool_rule is not None else None)
        self._saved_liquity: Any = _UNSET
        # The family book of euler-v2, mango-v4, drift-v2: engine/family_state.py.
        self.family: FamilyBook | None = new_family_book(config, self.ledger.time)
        self._saved_family: Any = _UNSET
        # Options ([options]): the clearing (premiums, positions, settlements) and the vol
        # surfaces as SetVolSurface reported them: (underlying, expiry) -> (atm, skew) ppm.
        opts = config.options
        self.options: OptionClearing | None = (
            OptionClearing(config.markets[opts.quote].unit, 10**opts.size_decimals)
            if opts is not None else None)
        self.vols: dict[tuple[str, int], tuple[int, int]] = {}
        #: The portfolio-margin rule of options accounts (``[options].portfolio_preset``:
        #: PMRM_2's grid, PMRM v1 or the SRM; margin/portfolio_rules.py evaluates it).
        self.portfolio_config: PortfolioRules | None = (
            opts.rules if opts is not None else None)
        self._saved_options: Any = _UNSET
        self._saved_vols: Any = _UNSET
        #: The spots each options underlying was observed at (``SetPrice``, usable status)
        #: that a TWAP settlement can still need (``[options].settlement_rule == "twap"``;
        #: oracle/settlement_feed.py), by asset.
        self.settlement_spots: dict[str, SpotPoints] = {}
        self._saved_settlement_spots: Any = _UNSET
        #: SVI slices (SetSviSurface): (underlying, expiry) -> (a, b, rho, m, sigma) ppm.
        self.svi: dict[tuple[str, int], tuple[int, int, int, int, int]] = {}
        self._saved_svi: Any = _UNSET
        # Derive's portfolio auctions of options accounts (liquidation/portfolio_auction.py).
        self.portfolio_auctions: PortfolioAuctions | None = (
            PortfolioAuctions() if opts is not None else None)
        self._saved_portfolio_auctions: Any = _UNSET
        #: The protocol as configured (``config`` moves with ``SetRiskParams`` and the
        #: direct adaptive mode; the hash lists the parameters that differ from this).
        self.configured = config
        self.adaptive = (AdaptiveMarginModel(config, config.adaptive)
                         if config.adaptive is not None else None)
        #: Time of the last applied update per ``(asset, steward parameter name)``.
        self.param_times: dict[tuple[str, str], int] = {}
        self._saved_params: Any = _UNSET
        self._changed_params: set[str] = set()
        self._changed_perps: set[str] = set()
        #: The crowding add-on (ppm of the requirement) per collateral and account, as the
        #: last ``SetCrowding`` of each collateral set it; ``addons`` sums them per account.
        self.crowding: dict[str, Mapping[str, int]] = {}
        self.addons: dict[str, int] = {}
        self._saved_crowding: Any = _UNSET
        self._changed_addons: set[str] = set()
        #: Comet's ``liquidatorPoints`` per absorber (compound-v3's ``Absorb``); an
        #: absorber absent has none.
        self.liquidator_points: dict[str, LiquidatorPoints] = {}
        self._saved_points: Any = _UNSET
        #: Genesis (``ImportAccount``, engine/events.py ``GENESIS_EVENTS``): the type of
        #: the first accepted event that closed it (``None``: still open), and how many
        #: accounts were imported. Both follow from the accepted events alone (the core
        #: notes each after its commit: :meth:`note_accepted`), so a replay rebuilds them.
        self.genesis_closed_by: str | None = None
        self.imported = 0
        self._open = False
        self._saved_prices: dict[str, int | None] = {}
        self._saved_oracles: dict[str, MarketOracle] = {}
        self._saved_auctions: Any = _UNSET
        self._saved_conditions: dict[str, MarketConditions | None] = {}
        self._saved_sequencer: Any = _UNSET

    def note_accepted(self, event: Event) -> None:
        """Genesis after ``event`` was accepted (called by the core while genesis is
        open): an import is counted; an event not of ``GENESIS_EVENTS`` closes it."""
        kind = type(event)
        if kind is ImportAccount:
            self.imported += 1
        elif kind not in GENESIS_EVENTS:
            self.genesis_closed_by = event.name

    def copy(self, accounts: Collection[str] | None = None) -> EngineState:
        """An independent copy of the state as it stands between events: the engine's
        later events leave it as it was (a consistent read for a worker thread).

        What the handlers change in place is copied (the ledger, the price table, the
        dicts of conditions, vols, SVI slices, Morpho books, oracles, parameter times and
        settlement spots); what they replace on first write is shared (the options clearing, the
        auctions, the portfolio auctions, the family and Liquity books, each oracle, the
        crowding add-ons, the config and its margin model: ``*_for_update`` and ``set_*``
        above), as a replaced object is never changed again. The cache of account reads
        starts empty.

        Parameters
        ----------
        accounts
            Copy only these ledger accounts (:meth:`Ledger.copy`); ``None``: all.

        Raises
        ------
        RuntimeError
            Inside a transaction.
        """
        if self._open:
            raise RuntimeError("the engine state is copied between events, not inside one")
        twin = copy.copy(self)
        twin.ledger = self.ledger.copy(accounts)
        twin.prices = PriceTable(self.prices)
        twin.account_reads = {}
        twin.oracles = dict(self.oracles)
        twin.conditions = dict(self.conditions)
        twin.morpho = dict(self.morpho)
        twin.vols = dict(self.vols)
        twin.svi = dict(self.svi)
        twin.param_times = dict(self.param_times)
        twin.settlement_spots = dict(self.settlement_spots)
        # The journal's own containers, fresh (shared, the live state's next transaction
        # would write into the copy's).
        twin._saved_prices, twin._saved_oracles, twin._saved_conditions = {}, {}, {}
        twin._saved_morpho = {}
        twin._changed_params, twin._changed_perps, twin._changed_addons = set(), set(), set()
        return twin

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction over all the state; everything is restored if an exception
        escapes."""
        with self.ledger.transaction():
            self.begin()
            try:
                yield
            except BaseException:
                self.rollback()
                raise
            finally:
                self.end()

    def begin(self) -> None:
        """Start journalling the non-ledger state (inside a ledger transaction; the
        engine's ``apply`` calls ``begin``/``rollback``/``end`` itself, which saves a
        generator per event over :meth:`transaction`)."""
        self._open = True

    def rollback(self) -> None:
        """Restore every non-ledger part saved since :meth:`begin`."""
        self._rollback()

    def end(self) -> None:
        """Stop journalling and forget the saved copies."""
        self._open = False
        # Reset only what was used: most events touch no price, oracle or auction.
        if self._saved_prices:
            self._saved_prices = {}
        if self._saved_oracles:
            self._saved_oracles = {}
        if self._saved_conditions:
            self._saved_conditions = {}
        if self._saved_morpho:
            self._saved_morpho = {}
        self._saved_auctions = _UNSET
        self._saved_sequencer = _UNSET
        self._saved_liquity = _UNSET
        self._saved_family = _UNSET
        self._saved_options = _UNSET
        self._saved_vols = _UNSET
        self._saved_settlement_spots = _UNSET
        self._saved_svi = _UNSET
        self._saved_portfolio_auctions = _UNSET
        if self._saved_params is not _UNSET:
            self._saved_params = _UNSET
            self._changed_params = set()
            self._changed_perps = set()
        if self._saved_crowding is not _UNSET:
            self._saved_crowding = _UNSET
            self._changed_addons = set()
        self._saved_points = _UNSET

    def _rollback(self) -> None:
        for asset, price in self._saved_prices.items():
            self.prices.restore(asset, price)
        self.oracles.update(self._saved_oracles)
        if self._saved_auctions is not _UNSET:
            self.auctions = self._saved_auctions
        for asset, conditions in self._saved_conditions.items():
            if conditions is None:
                self.conditions.pop(asset, None)
            else:
                self.conditions[asset] = conditions
        if self._saved_sequencer is not _UNSET:
            self.sequencer = self._saved_sequencer
        self.morpho.update(self._saved_morpho)
        if self._saved_liquity is not _UNSET:
            self.liquity = self._saved_liquity
        if self._saved_family is not _UNSET:
            self.family = self._saved_family
        if self._saved_options is not _UNSET:
            self.options = self._saved_options
        if self._saved_vols is not _UNSET:
            self.vols = self._saved_vols
        if self._saved_svi is not _UNSET:
            self.svi = self._saved_svi
        if self._saved_settlement_spots is not _UNSET:
            self.settlement_spots = self._saved_settlement_spots
        if self._saved_portfolio_auctions is not _UNSET:
            self.portfolio_auctions = self._saved_portfolio_auctions
        if self._saved_params is not _UNSET:
            self.config, self.margin, self.param_times = self._saved_params
            self.ledger.config = self.config
        if self._saved_crowding is not _UNSET:
            self.crowding, self.addons = self._saved_crowding
        if self._saved_points is not _UNSET:
            self.liquidator_points = self._saved_points

    def _require_open(self) -> None:
        if not self._open:
            raise RuntimeError("engine state changes only inside a transaction")

    def set_price(self, asset: str, price: int) -> None:
        """Set a price (journalled)."""
        self._require_open()
        if asset not in self._saved_prices:
            self._saved_prices[asset] = self.prices.get(asset)
        self.prices.set(asset, price)

    def oracle_for_update(self, asset: str) -> MarketOracle:
        """The market's oracle, to change in place (journalled: copied on first write)."""
        self._require_open()
        if asset not in self._saved_oracles:
            self._saved_oracles[asset] = self.oracles[asset]
            self.oracles[asset] = self.oracles[asset].copy()
        return self.oracles[asset]

    def set_liquidator_points(self, absorber: str, points: LiquidatorPoints) -> None:
        """Replace an absorber's Comet liquidator points (journalled)."""
        self._require_open()
        if self._saved_points is _UNSET:
            self._saved_points = self.liquidator_points
            self.liquidator_points = dict(self.liquidator_points)
        self.liquidator_points[absorber] = points

    def auctions_for_update(self, auction: int | None = None) -> AuctionHouse | None:
        """The auction house, to change in place (journalled: copied on first write, with
        ``auction``'s entries owned by the copy)."""
        self._require_open()
        if self.auctions is None:
            return None
        if self._saved_auctions is _UNSET:
            self._saved_auctions = self.auctions
            self.auctions = self.auctions.copy()
        if auction is not None:
            self.auctions.own(auction)
        return self.auctions

    def set_conditions(self, asset: str, conditions: MarketConditions) -> None:
        """Replace an asset's market conditions (journalled)."""
        self._require_open()
        if asset not in self._saved_conditions:
            self._saved_conditions[asset] = self.conditions.get(asset)
        self.conditions[asset] = conditions

    def set_market_params(self, asset: str, params: MarketParams, time: int,
                          updated: Iterable[str] = ()) -> None:
        """Put ``params`` in force for lending market ``asset`` (journalled); ``updated``
        names the steward parameters whose update time becomes ``time``.

        The protocol configuration is replaced by a copy with the market's new LTV,
        threshold and bonus, and the margin model is rebuilt over it, so every rule that
        reads the market (health, borrow checks, liquidation plans) sees the parameters in
        force. The caller has checked them (``ltv <= threshold``, the bounds).
        """
        self._require_open()
        if self._saved_params is _UNSET:
            self._saved_params = (self.config, self.margin, dict(self.param_times))
        self.config = config_with_params(self.config, asset, params)
        self.ledger.config = self.config
        self.margin = AccountMarginModel(self.config)
        for name in updated:
            self.param_times[(asset, name)] = time
        self._changed_params.add(asset)

    def set_reserve_config(self, config: ProtocolConfig, asset: str) -> None:
        """Put ``config`` in force: the configuration in force with ``asset``'s reserve
        configuration changed beyond its risk parameters (its debt ceiling, its bit in an
        e-mode category's ``ltvzero``) by the pool configurator (journalled, as
        :meth:`set_market_params`; the margin model is rebuilt over it and the asset is
        reported among the changed parameters). The caller has checked it."""
        self._require_open()
        if self._saved_params is _UNSET:
            self._saved_params = (self.config, self.margin, dict(self.param_times))
        self.config = config
        self.ledger.config = self.config
        self.margin = AccountMarginModel(self.config)
        self._changed_params.add(asset)

    def set_perp_params(self, market: str, params: PerpParams, time: int,
                        updated: Iterable[str] = ()) -> None:
        """Put ``params`` in force as perp ``market``'s first-tier fractions (journalled;
        the tiers above as :func:`~marginengine.margin.adaptive_model.config_with_perp_params`
        sets them); ``updated`` names the steward parameters stamped at ``time``. The
        margin model is rebuilt, so every perp check reads the fractions in force."""
        self._require_open()
        if self._saved_params is _UNSET:
            self._saved_params = (self.config, self.margin, dict(self.param_times))
        self.config = config_with_perp_params(self.config, self.configured, market, params)
        self.ledger.config = self.config
        self.margin = AccountMarginModel(self.config)
        for name in updated:
            self.param_times[(market, name)] = time
        self._changed_perps.add(market)

    def changed_perp_params(self) -> dict[str, PerpParams]:
        """Perp markets whose fractions changed in the open transaction, with the new ones."""
        # Asked after every event, and nearly always empty: no sort, no comprehension then.
        if not self._changed_perps:
            return {}
        return {m: perp_params(self.config, m) for m in sorted(self._changed_perps)}

    def set_crowding(self, asset: str, addons: Mapping[str, int]) -> None:
        """Replace collateral ``asset``'s crowding add-ons (ppm, accounts without one
        omitted) and the per-account sums (journalled)."""
        self._require_open()
        if self._saved_crowding is _UNSET:
            self._saved_crowding = (self.crowding, self.addons)
            self.crowding, self.addons = dict(self.crowding), dict(self.addons)
        old = self.crowding.get(asset, {})
        self.crowding[asset] = dict(addons)
        for account in {*old, *addons}:
            total = sum(a.get(account, 0) for a in self.crowding.values())
            if total:
                self.addons[account] = total
            else:
                self.addons.pop(account, None)
            if old.get(account, 0) != addons.get(account, 0):
                self._changed_addons.add(account)

    def changed_addons(self) -> dict[str, int]:
        """Accounts whose crowding add-on changed in the open transaction, with the new sum."""
        if not self._changed_addons:
            return {}
        return {a: self.addons.get(a, 0) for a in sorted(self._changed_addons)}

    def changed_params(self) -> dict[str, MarketParams]:
        """Markets whose risk parameters changed in the open transaction, with the new ones."""
        if not self._changed_params:
            return {}
        return {a: market_params(self.config, a) for a in sorted(self._changed_params)}

    def set_sequencer(self, status: SequencerStatus) -> None:
        """Record the sequencer's status (journalled)."""
        self._require_open()
        if self._saved_sequencer is _UNSET:
            self._saved_sequencer = self.sequencer
        self.sequencer = status

    def changed_prices(self) -> dict[str, int]:
        """Prices changed in the open transaction, with their new values."""
        if not self._saved_prices:
            return {}
        return {a: self.prices[a] for a in sorted(self._saved_prices)}

    def set_morpho(self, market: str, book: MorphoBook) -> None:
        """Replace a Morpho market's book (journalled: the old one is saved on first write)."""
        self._require_open()
        if market not in self._saved_morpho:
            self._saved_morpho[market] = self.morpho[market]
        self.morpho[market] = book

    def set_liquity(self, system: LiquitySystem) -> None:
        """Replace the Liquity system (journalled: the old one is saved on first write)."""
        self._require_open()
        if self._saved_liquity is _UNSET:
            self._saved_liquity = self.liquity
        self.liquity = system

    def set_family(self, book: FamilyBook) -> None:
        """Replace the family's book (journalled: the old one is saved on first write)."""
        self._require_open()
        if self._saved_family is _UNSET:
            self._saved_family = self.family
        self.family = book

    def options_for_update(self) -> OptionClearing | None:
        """The options clearing, to change in place (journalled: copied on first write)."""
        self._require_open()
        if self.options is None:
            return None
        if self._saved_options is _UNSET:
            self._saved_options = self.options
            self.options = self.options.copy()
        return self.options

    def portfolio_auctions_for_update(self) -> PortfolioAuctions | None:
        """The portfolio auctions, to change in place (journalled: copied on first write)."""
        self._require_open()
        if self.portfolio_auctions is None:
            return None
        if self._saved_portfolio_auctions is _UNSET:
            self._saved_portfolio_auctions = self.portfolio_auctions
            self.portfolio_auctions = self.portfolio_auctions.copy()
        return self.portfolio_auctions

    def set_vol(self, underlying: str, expiry: int, vol_ppm: int, skew_ppm: int) -> None:
        """Record one expiry's surface (journalled)."""
        self._require_open()
        if self._saved_vols is _UNSET:
            self._saved_vols = dict(self.vols)
        self.vols[(underlying, expiry)] = (vol_ppm, skew_ppm)
        if (underlying, expiry) in self.svi:      # one surface per expiry: the latest
            if self._saved_svi is _UNSET:
                self._saved_svi = dict(self.svi)
            del self.svi[(underlying, expiry)]

    def set_svi(self, underlying: str, expiry: int,
                params: tuple[int, int, int, int, int]) -> None:
        """Record one expiry's SVI slice (journalled), replacing its ATM/skew surface."""
        self._require_open()
        if self._saved_svi is _UNSET:
            self._saved_svi = dict(self.svi)
        self.svi[(underlying, expiry)] = params
        if (underlying, expiry) in self.vols:
            if self._saved_vols is _UNSET:
                self._saved_vols = dict(self.vols)
            del self.vols[(underlying, expiry)]

    def observe_settlement_spot(self, asset: str, price: int) -> None:
        """Record ``asset``'s spot at the ledger's time for TWAP settlements (journalled),
        keeping only what a settlement can still need
        (:func:`~marginengine.oracle.settlement_feed.retained_spots`: the last 30 minutes,
        and the window of every expiry of ``asset`` passed with open interest and none of
        its series settled)."""
        self._require_open()
        now = self.ledger.time
        points = observe_spot(self.settlement_spots.get(asset, ()), now, price)
        if len(points) > 1 and points[1][0] <= now - SETTLEMENT_TWAP_DURATION:
            # Something at the front may be past every window (else nothing is: the
            # points are in time order and all of the last 30 minutes are kept).
            clearing = self.options
            pending = () if clearing is None else sorted({
                s.expiry for s in clearing.open_interest
                if s.underlying == asset and expired(s.expiry, now)
                and clearing.expiry_price(asset, s.expiry) is None})
            points = retained_spots(points, now, pending)
        if self._saved_settlement_spots is _UNSET:
            self._saved_settlement_spots = dict(self.settlement_spots)
        self.settlement_spots[asset] = points

    def _reserve_config_changes(self) -> dict[str, object]:
        """The debt ceilings (cents) and e-mode ``ltvzero`` lists that differ from the
        configured ones, for the hash."""
        out: dict[str, object] = {}
        configured = self.configured.markets
        ceilings = {a: m.debt_ceiling_units for a, m in sorted(self.config.markets.items())
                    if m.debt_ceiling_units != configured[a].debt_ceiling_units}
        if ceilings:
            out["debt_ceilings"] = ceilings
        now, then = self.config.emode, self.configured.emode
        if now is not None and then is not None:
            ltvzero = {str(i): sorted(c.ltvzero) for i, c in sorted(now.categories.items())
                       if sorted(c.ltvzero) != sorted(then.categories[i].ltvzero)}
            if ltvzero:
                out["emode_ltvzero"] = ltvzero
        return out

    def hash_parts(self) -> dict[str, object]:
        """The non-ledger state, as plain data for the state hash. Conditions and the
        sequencer enter only once reported, so hashes of logs without them are unchanged."""
        parts: dict[str, object] = {
            "prices": self.prices.as_dict(),
            "oracles": {a: o.state_dict() for a, o in sorted(self.oracles.items())},
            "auctions": self.auctions.state_dict() if self.auctions else None,
        }
        if self.conditions:
            parts["conditions"] = {a: c.as_dict() for a, c in sorted(self.conditions.items())}
        if self.sequencer is not None:
            parts["sequencer"] = {"up": self.sequencer.up, "since": self.sequencer.since}
        if self.morpho:
            parts["morpho"] = {n: b.state_dict() for n, b in sorted(self.morpho.items())}
        if self.liquity is not None:
            parts["liquity"] = self.liquity.state_dict()
        if self.family is not None:
            parts["family"] = self.family.state_dict()
        if self.options is not None and not self.options.is_empty():
            # Only once used, so hashes of logs without options are unchanged.
            parts["options"] = self.options.state_dict()
        if self.portfolio_auctions is not None and not self.portfolio_auctions.is_empty():
            parts["portfolio_auctions"] = self.portfolio_auctions.state_dict()
        if self.vols:
            parts["vols"] = {f"{u}.{t}": list(v) for (u, t), v in sorted(self.vols.items())}
        if self.settlement_spots:
            # Only once observed (TWAP settlement), so other hashes are unchanged.
            parts["settlement_spots"] = {a: [list(p) for p in points] for a, points
                                         in sorted(self.settlement_spots.items())}
        if self.svi:
            parts["svi"] = {f"{u}.{t}": list(v) for (u, t), v in sorted(self.svi.items())}
        if self.config is not self.configured or self.param_times:
            # Only once changed, so hashes of logs without parameter updates are unchanged.
            parts["risk_params"] = {
                a: market_params(self.config, a).as_dict()
                for a in sorted(self.config.markets)
                if market_params(self.config, a) != market_params(self.configured, a)}
            parts["risk_param_times"] = {f"{a}.{p}": t
                                         for (a, p), t in sorted(self.param_times.items())}
            perps = {m: perp_params(self.config, m).as_dict() for m in sorted(self.config.perps)
                     if perp_params(self.config, m) != perp_params(self.configured, m)}
            if perps:  # only once moved, so lending-only hashes are unchanged
                parts["perp_params"] = perps
            reserve_config = self._reserve_config_changes()
            if reserve_config:  # only once moved (SetDebtCeiling, SetReserveFreeze)
                parts["reserve_config"] = reserve_config
        if self.crowding:
            parts["crowding"] = {a: dict(sorted(c.items()))
                                 for a, c in sorted(self.crowding.items())}
        if self.imported:
            # Only once an account was imported, so hashes of logs without one are
            # unchanged (without imports, genesis decides nothing already in the state).
            parts["genesis"] = {"imported": self.imported, "closed_by": self.genesis_closed_by}
        if self.liquidator_points:
            # Only once an absorb credited some, so hashes of logs without one are unchanged.
            parts["liquidator_points"] = {a: p.as_dict() for a, p in
                                          sorted(self.liquidator_points.items())}
        return parts


class StateReads:
    """Reads over an :class:`EngineState` (``self.state``), shared by the engine and the
    handlers' context. Every health decision goes through the one margin interface
    (:class:`~marginengine.margin.AccountMarginModel`)."""

    state: EngineState

    @property
    def config(self) -> ProtocolConfig:
        """The protocol."""
        return self.state.config

    @property
    def rules(self) -> LendingRules:
        """The protocol's rule family."""
        return self.state.rules

    @property
    def ledger(self) -> Ledger:
        """The exact ledger."""
        return self.state.ledger

    @property
    def prices(self) -> PriceTable:
        """The oracle prices (base currency, 8 decimals)."""
        return self.state.prices

    @property
    def oracles(self) -> dict[str, MarketOracle]:
        """Each market's oracle state."""
        return self.state.oracles

    @property
    def auctions(self) -> AuctionHouse | None:
        """The auction house (``None`` unless the protocol liquidates by auction)."""
        return self.state.auctions

    @property
    def conditions(self) -> Mapping[str, MarketConditions]:
        """Market conditions reported so far, by asset."""
        return self.state.conditions

    @property
    def genesis_closed_by(self) -> str | None:
        """The type of the event that closed genesis (``None``: ``ImportAccount`` is still
        accepted; see ``GENESIS_EVENTS`` in engine/events.py)."""
        return self.state.genesis_closed_by

    @property
    def sequencer_status(self) -> tuple[bool, int] | None:
        """The L2 sequencer's last reported ``(up, since)`` (``None``: never reported)."""
        status = self.state.sequencer
        return None if status is None else (status.up, status.since)

    @property
    def margin_model(self) -> AccountMarginModel:
        """The one margin interface."""
        return self.state.margin

    @property
    def model(self) -> WeightedMarginModel:
        """The weighted lending model (Aave's account data)."""
        return self.state.margin.lending

    @property
    def perp_model(self) -> PerpMarginModel:
        """The bucket model over lending and perps."""
        return self.state.margin.perps

    # ------------------------------------------------------------------ options
    def option_underlying(self, account_id: str) -> str | None:
        """The one underlying whose options ``account_id`` holds (``None``: none)."""
        clearing = self.state.options
        book = clearing.positions.get(account_id, {}) if clearing is not None else {}
        return min((s.underlying for s in book), default=None)

    def option_vol(self, series: OptionSeries, forward: float,
                   surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
                   ) -> float | None:
        """The series' implied vol from its expiry's surface (``None``: no surface):
        ``atm + skew x ln(K / F)``, floored at the surface's minimum. ``surfaces`` (a
        what-if): ``(underlying, expiry) -> (vol_ppm, skew_ppm)`` replacing the engine's
        surface of those expiries (as a ``SetVolSurface`` would)."""
        key = (series.underlying, series.expiry)
        override = surfaces.get(key) if surfaces is not None else None
        svi = self.state.svi.get(key) if override is None else None
        if svi is not None:
            # sqrt(w(k) / T), T in 365-day years (at least a second: the vol of an expired
            # series is never used to value it).
            w = SVIParams(*(x / 1e6 for x in svi)).total_variance_scalar(
                math.log(series.strike / PRICE_UNIT / forward))
            tau = max(series.expiry - self.ledger.time, 1) / SECONDS_PER_YEAR
            return max(math.sqrt(max(w, 0.0) / tau), MIN_VOL_PPM / 1e6)
        surface = self.state.vols.get(key) if override is None else override
        if surface is None:
            return None
        atm, skew = surface
        k = series.strike / PRICE_UNIT
        vol = atm / 1e6 + skew / 1e6 * math.log(k / forward)
        return max(vol, MIN_VOL_PPM / 1e6)

    def missing_vols(self, account_id: str) -> list[OptionSeries]:
        """Series ``account_id`` holds with no surface for their expiry."""
        clearing = self.state.options
        book = clearing.positions.get(account_id, {}) if clearing is not None else {}
        return sorted(s for s in book if (s.underlying, s.expiry) not in self.state.vols
                      and (s.underlying, s.expiry) not in self.state.svi)

    def option_portfolio(self, account_id: str, prices: Mapping[str, int] | None = None,
                         surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
                         ) -> Portfolio | None:
        """The account's :class:`~marginengine.margin.portfolio.Portfolio` at the engine's
        prices and surfaces (or ``prices`` and ``surfaces``, as :meth:`option_vol` reads
        them: a what-if): its options on its one underlying and its options cash
        (``None`` without an options clearing). The forward of every
        expiry is the spot (no rates: the carry of a stablecoin-quoted crypto option is
        left out); each series' vol is its surface's at that forward. Callers check first
        that the underlying's price and every surface are set."""
        clearing = self.state.options
        if clearing is None:
            return None
        underlying = self.option_underlying(account_id)
        if underlying is None:
            return Portfolio(spot=1.0, cash=clearing.cash.get(account_id, 0)
                             / clearing.quote_unit)
        spot = (self.prices if prices is None else prices)[underlying] / PRICE_UNIT
        expiries = {s.expiry for s in clearing.positions[account_id]}

        def vol(series: OptionSeries) -> float:
            v = self.option_vol(series, spot, surfaces)
            if v is None:
                raise InvariantViolation(f"no vol surface for {series.symbol}")
            return v

        fixings: dict[int, float] = {}
        if self.twap_settlement():
            # An expiry passed with nothing of it settled is worth what SettleOption
            # would settle it at: its TWAP (the spot until the window is covered).
            for t in expiries:
                if expired(t, self.ledger.time) and clearing.expiry_price(underlying,
                                                                          t) is None:
                    price = self.settlement_price_now(underlying, t)
                    if price is not None:
                        fixings[t] = price / PRICE_UNIT
        spot_int = (self.prices if prices is None else prices)[underlying]
        portions = {t: p for t in expiries
                    if (p := self.forward_portions_now(underlying, t, spot_int)) is not None}
        return portfolio_of(clearing, account_id, underlying, spot, self.ledger.time,
                            dict.fromkeys(expiries, spot), vol, fixings=fixings,
                            portions=portions)

    def option_what_if(self, account_id: str, series: OptionSeries, size: int,
                       premium: int) -> WhatIf:
        """The account's PMRM_2 margin before and after buying ``size`` (size units;
        negative: selling) of ``series`` for ``premium`` quote units (paid by a buyer,
        received by a seller); pure: nothing is booked. The caller checks the underlying's
        price and the expiry's surface are set.

        Raises
        ------
        FieldError
            No options clearing, or ``series`` on another underlying than the account's.
        """
        clearing, cfg = self.state.options, self.state.portfolio_config
        if clearing is None or cfg is None:
            raise FieldError("options", "the protocol has no [options]")
        held = self.option_underlying(account_id)
        if held is not None and held != series.underlying:
            raise FieldError("order", f"{account_id} holds {held} options; a portfolio "
                                      f"account margins one underlying")
        before = self.option_portfolio(account_id)
        assert before is not None
        spot = self.prices[series.underlying] / PRICE_UNIT
        if held is None:
            before = replace(before, spot=spot)
        times = sorted({s.expiry for s in clearing.positions.get(account_id, {})})
        new: tuple[Expiry, ...] = ()
        if series.expiry in times:
            index = times.index(series.expiry)
        else:
            index = len(times)
            split = self.forward_portions_now(series.underlying, series.expiry,
                                              self.prices[series.underlying])
            new = (Expiry(float(max(series.expiry - self.ledger.time, 0)), spot)
                   if split is None else
                   Expiry(float(series.expiry - self.ledger.time), split[1], split[0]),)
        vol = self.option_vol(series, spot)
        if vol is None:
            raise FieldError("order", f"no vol surface for {series.symbol}")
        trade = ProposedTrade(
            options=(OptionPosition(index, series.strike / PRICE_UNIT, series.is_call,
                                    size / clearing.size_unit, vol),),
            cash=(-premium if size > 0 else premium) / clearing.quote_unit, new_expiries=new)
        return what_if_portfolio(before, trade, cfg, series.underlying)

    def twap_settlement(self) -> bool:
        """Whether expiries settle at Derive's 30-minute spot TWAP
        (``[options].settlement_rule == "twap"``) rather than the oracle's spot."""
        opts = self.config.options
        return opts is not None and opts.settlement_rule == "twap"

    def settlement_price_now(self, underlying: str, expiry: int) -> int | None:
        """The price a ``SettleOption`` of ``underlying``'s ``expiry`` would settle at now
        (``None``: it would be refused): the expiry's, once a series of it settled
        (``OptionClearing.expiry_price``); else, from the expiry on, its TWAP
        (:func:`~marginengine.oracle.settlement_feed.settlement_price` over the spots
        observed, ``None`` without one at or before the window's start) or, under
        ``settlement = "spot"``, the oracle's price where usable for a liquidation."""
        clearing = self.state.options
        if clearing is None:
            return None
        fixed = clearing.expiry_price(underlying, expiry)
        now = self.ledger.time
        if fixed is not None or not expired(expiry, now):
            return fixed
        if self.twap_settlement():
            return settlement_price(self.state.settlement_spots.get(underlying, ()),
                                    expiry, now)
        oracle = self.state.oracles.get(underlying)
        if oracle is None or oracle.refusal(now, True) is not None:
            return None
        return self.prices[underlying]

    def forward_portions_now(self, underlying: str, expiry: int,
                             spot: int) -> tuple[float, float] | None:
        """A live expiry's forward inside its settlement window under TWAP settlement,
        ``(fixed, variable)`` in quote currency (Derive's ``getForwardPricePortions``:
        :func:`~marginengine.oracle.settlement_feed.forward_portions` over the spots
        observed, the forward the spot ``spot``); ``None`` (the forward all variable)
        otherwise: another rule, before the window, at or after the expiry, or without a
        spot at or before the window's start."""
        now = self.ledger.time
        if (not self.twap_settlement() or expired(expiry, now)
                or expiry - now >= SETTLEMENT_TWAP_DURATION):
            return None
        split = forward_portions(self.state.settlement_spots.get(underlying, ()), expiry,
                                 now, spot)
        if split is None:
            return None
        return split[0] / PRICE_UNIT, split[1] / PRICE_UNIT

    def settleable_series(self, account_id: str) -> list[OptionSeries]:
        """The series ``account_id`` holds that a ``SettleOption`` would settle now, sorted:
        expired at the engine's time (:func:`~marginengine.ledger.options.expired`), not
        settled, and with a settlement price at hand (:meth:`settlement_price_now`, the
        handler's own test). Settling them is what resolves a shortfall they cause; the
        options quote names them before any auction."""
        clearing = self.state.options
        if clearing is None:
            return []
        now = self.ledger.time
        out = []
        for s, n in sorted(clearing.positions.get(account_id, {}).items()):
            if not n or s in clearing.settled or not expired(s.expiry, now):
                continue
            if self.settlement_price_now(s.underlying, s.expiry) is not None:
                out.append(s)
        return out

    def portfolio_margin_units(self, account_id: str) -> tuple[int, int] | None:
        """The account's PMRM_2 ``(maintenance margin, mark-to-market)`` in options quote
        smallest units, each rounded down (never overstated): what the portfolio auction
        decides on (``None`` without an options clearing)."""
        margin = self.portfolio_margin(account_id)
        opts = self.config.options
        if margin is None or opts is None:
            return None
        unit = self.config.markets[opts.quote].unit
        return (math.floor(margin.fraction("maintenance") * unit),
                math.floor(margin.fraction("mtm") * unit))

    def portfolio_auction(self, account_id: str) -> PortfolioAuction | None:
        """The account's running portfolio auction (``None``: none)."""
        auctions = self.state.portfolio_auctions
        return auctions.running.get(account_id) if auctions is not None else None

    def is_portfolio_account(self, account_id: str) -> bool:
        """Whether the account is in portfolio mode: it holds options or options cash."""
        clearing = self.state.options
        return clearing is not None and (account_id in clearing.cash
                                         or bool(clearing.positions.get(account_id)))

    def _portfolio_hook(self, prices: Mapping[str, int] | None = None,
                        surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
                        ) -> Callable[[str], PortfolioMargin | None] | None:
        """What the one margin interface asks for a portfolio account's margin (at
        ``prices`` and ``surfaces``, default the engine's)."""
        if self.state.options is None:
            return None
        return lambda a: (self.portfolio_margin(a, prices, surfaces)
                          if self.is_portfolio_account(a) else None)

    def _family_hook(self, prices: Mapping[str, int]
                     ) -> Callable[[str], FamilyMargin | None] | None:
        """What the one margin interface asks for the margin of an account of the
        family's book (Euler, Mango, Drift), by the family's own rules at ``prices``."""
        book = self.state.family
        if book is None:
            return None
        config, now, stable = self.config, self.ledger.time, self.stable_prices()
        return lambda a: family_margin_of(config, book, prices, now, a, stable)

    def stable_prices(self) -> dict[str, int]:
        """The oracle layer's stable prices (where enabled and started), by asset."""
        return {a: o.stable.price for a, o in self.oracles.items() if o.stable is not None}

    def portfolio_margin(self, account_id: str, prices: Mapping[str, int] | None = None,
                         surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
                         ) -> PortfolioMargin | None:
        """The margin of the account's options portfolio by the protocol's portfolio
        rule (``[options].portfolio_preset``: PMRM_2's grid, PMRM v1 or the SRM, whose
        market is the account's underlying), at the engine's prices and surfaces or at
        ``prices`` and ``surfaces`` (a what-if: :meth:`option_vol`); ``None`` without an
        options clearing."""
        portfolio = self.option_portfolio(account_id, prices, surfaces)
        cfg = self.state.portfolio_config
        if portfolio is None or cfg is None:
            return None
        return evaluate_portfolio(portfolio, cfg, self.option_underlying(account_id))

    def liquidator_points(self, absorber: str) -> LiquidatorPoints:
        """Comet's ``liquidatorPoints(absorber)``: what its ``Absorb`` events credited
        (zeros for an address that never absorbed, as Comet's mapping reads)."""
        return self.state.liquidator_points.get(absorber, LiquidatorPoints())

    # ------------------------------------------------------------------ valuation
    def mark(self, market: str) -> int:
        """A perp market's mark price (see :func:`~marginengine.margin.perp.mark_price`).

        Raises
        ------
        FieldError
            ``market`` is not a perp market of the protocol, or has no index price yet.
        """
        if market not in self.config.perps:
            raise FieldError("market", f"unknown perp market {market!r}")
        if market not in self.prices:
            raise FieldError("market", f"no price has been set for {market}")
        state = self.ledger.clearing.markets[market]
        return mark_price(self.prices[market], state.last_trade_price, state.basis_ema_ppm)

    def marks(self) -> dict[str, int]:
        """Mark prices of every perp market with an index price."""
        return {m: self.mark(m) for m in self.config.perps if m in self.prices}

    def margin_prices(self) -> dict[str, int]:
        """The price each perp market with an index price is margined at: its mark, or its
        oracle price where ``margin_price = "oracle"`` (dYdX v4; see
        :func:`~marginengine.margin.perp.margin_price`)."""
        clearing = self.ledger.clearing.markets
        return {m: margin_price(p, self.prices[m], clearing[m].last_trade_price,
                                clearing[m].basis_ema_ppm)
                for m, p in self.config.perps.items() if m in self.prices}

    def valuation(self, prices: Mapping[str, int] | None = None,
                  marks: Mapping[str, int] | None = None,
                  surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
                  ) -> Valuation:
        """The valuation the margin models read: prices (the oracle's, or ``prices``),
        the perp markets' margin prices (the engine's :meth:`margin_prices`, or ``marks``)
        and market conditions; a portfolio account's options are valued at the same
        prices, on the engine's vol surfaces or ``surfaces`` where given
        (:meth:`option_vol`)."""
        return Valuation(self.prices if prices is None else prices,
                         self.margin_prices() if marks is None else marks,
                         conditions=self.state.conditions,
                         portfolio=self._portfolio_hook(prices, surfaces),
                         addons=self.state.addons,
                         family=self._family_hook(self.prices if prices is None else prices))

    def initial_prices(self) -> tuple[dict[str, int], dict[str, int]]:
        """Prices for initial margin: collateral at ``min(oracle, stable)`` and debt at
        ``max(oracle, stable)`` where the stable price is enabled; else the oracle's."""
        oracles = self.oracles
        collateral = {a: oracles[a].initial_collateral_price(p) for a, p in self.prices.items()}
        debt = {a: oracles[a].initial_debt_price(p) for a, p in self.prices.items()}
        return collateral, debt

    def initial_valuation(self) -> Valuation:
        """The valuation of initial margin (see :meth:`initial_prices`)."""
        collateral, debt = self.initial_prices()
        return Valuation(collateral, self.margin_prices(), debt, self.state.conditions,
                         self._portfolio_hook(), self.state.addons,
                         self._family_hook(self.prices))

    # ------------------------------------------------------------------ accounts
    def account_data(self, account_id: str) -> AccountData:
        """Aave-style account data (collateral, debt, averages, HF) at current prices.

        Read once per state of what it depends on: the account's positions (the ledger's
        :meth:`~marginengine.ledger.Ledger.account_version`), the indices (its
        ``index_epoch``), the prices (their ``version``) and the margin model in force. A
        keeper's read, the ``Liquidate`` it sends (which reads the same state first) and
        the reads after it share one computation."""
        state = self.state
        ledger, prices, margin = state.ledger, state.prices, state.margin
        version, epoch, prices_version = (ledger.account_version(account_id),
                                          ledger.index_epoch, prices.version)
        cached = state.account_reads.get(account_id)
        if cached is not None:
            # Field by field (no slices of the key): a keeper's every read comes here.
            key = cached[0]
            if key[0] == version and key[1] == epoch and key[2] == prices_version \
                    and key[3] is margin:
                return cached[1]
        data = margin.lending.account_data(ledger, prices, account_id)
        state.account_reads[account_id] = ((version, epoch, prices_version, margin), data)
        return data

    def close_factor_inputs(self, account_id: str, health_factor: int, data: AccountData,
                            debt_asset: str, collateral_asset: str,
                            balances: tuple[int, int] | None = None) -> CloseFactorInputs:
        """The close-factor rule's inputs of ``account_id`` for one pair
        (:func:`~marginengine.liquidation.close_factor.close_factor_inputs` at the engine's
        state), with ``health_factor`` the health the liquidation reads
        (:meth:`liquidation_health`) and ``data`` the account's :meth:`account_data`.

        Read once per state of what they depend on, the inputs of that function: the
        account's positions and e-mode (the ledger's
        :meth:`~marginengine.ledger.Ledger.account_version`), the indices (its
        ``index_epoch``), the prices (their ``version``), the configuration object in
        force, the pair, and the health and totals given. A keeper's read and the
        ``Liquidate`` it sends (which reads the same state before any write) share one
        computation. ``balances``: as :func:`close_factor_inputs` takes them (the
        caller's reads of this state), used only when the inputs are computed."""
        state = self.state
        ledger = state.ledger
        key = (ledger.account_version(account_id), ledger.index_epoch, state.prices.version,
               state.config, debt_asset, collateral_asset, health_factor, data.total_debt,
               data.total_collateral)
        cached = state.close_factor_reads.get(account_id)
        # (A tuple compares each item by identity first: the configuration costs nothing.)
        if cached is not None and cached[0] == key:
            return cached[1]
        inputs = close_factor_inputs(state.config, ledger, state.prices, account_id,
                                     health_factor, data.total_debt, data.total_collateral,
                                     debt_asset, collateral_asset, balances=balances)
        state.close_factor_reads[account_id] = (key, inputs)
        return inputs

    def initial_account_data(self, account_id: str) -> AccountData:
        """Account data at the initial-margin prices (see :meth:`initial_prices`)."""
        collateral, debt = self.initial_prices()
        return self.model.account_data(self.ledger, collateral, account_id, debt_prices=debt)

    def health_factor(self, account_id: str) -> int:
        """The account's maintenance health (wad) through the one margin interface."""
        return self.margin_model.health(self.ledger, self.valuation(), account_id)

    def liquidation_health(self, account_id: str, data: AccountData) -> int:
        """The health a close-factor liquidation reads: ``data``'s health factor, or with a
        crowding add-on the maintenance health against the raised requirement (the one
        margin interface), so the add-on decides liquidations as it decides health."""
        if not self.state.addons.get(account_id):
            return data.health_factor
        return self.health_factor(account_id)

    def is_liquidatable(self, account_id: str) -> bool:
        """Whether the family's rules allow liquidating the account now."""
        # The lending rule reads the account data the engine caches per state (a keeper's
        # check and the Liquidate after it share it), computed only if that rule decides.
        return self.margin_model.is_liquidatable(self.ledger, self.valuation(), account_id,
                                                 self.account_data)

    def has_perps(self, account_id: str) -> bool:
        """Whether the account holds perp positions or a perp balance."""
        return self.margin_model.holds_perps(self.ledger, account_id)

    def has_risk(self, account_id: str) -> bool:
        """Whether the account has lending debt or perp positions."""
        account = self.ledger.accounts.get(account_id)
        if account is None:
            return False
        return bool(account.perps) or any(p.scaled_debt for p in account.lending.values())

    def account_assets(self, account_id: str) -> list[str]:
        """The account's lending assets (sorted)."""
        account = self.ledger.accounts.get(account_id)
        return sorted(account.lending) if account else []

    def priced_assets(self, account_id: str) -> list[str]:
        """Every price the account's valuation uses: its lending assets, its perp markets
        and the perp quote asset."""
        account = self.ledger.accounts.get(account_id)
        if account is None:
            return []
        assets = set(account.lending) | set(account.perps)
        if account.perps and self.perp_model.quote_asset:
            assets.add(self.perp_model.quote_asset)
        return sorted(assets)

    def bucket(self, account_id: str, initial: bool = False) -> BucketRisk:
        """The account's whole margin bucket: lending and perps (initial: at the
        initial-margin prices of the oracle layer)."""
        valuation = self.initial_valuation() if initial else self.valuation()
        return self.perp_model.bucket(self.ledger, valuation.prices, valuation.marks,
                                      account_id, valuation.debt_prices)

    def equity_quote(self, risk: BucketRisk) -> int:
        """A bucket's unweighted equity in quote smallest units (signed)."""
        return risk.equity_quote()

    def margin_state(self, account_id: str, kind: MarginKind) -> MarginState:
        """The account's :class:`~marginengine.margin.MarginState` of ``kind``."""
        valuation = self.initial_valuation() if kind is MarginKind.INITIAL else self.valuation()
        return self.margin_model.margin(self.ledger, valuation, account_id, kind)

    def bad_debt_value(self) -> int:
        """Bad debt recognised so far (deficit or absorbed), in base-currency units."""
        return sum(
            value_of(r.bad_debt, self.prices[a], self.config.markets[a].unit, Rounding.UP)
            for a, r in self.ledger.reserves.items()
            if r.bad_debt
        )

    def underwater_value(self) -> int:
        """Debt not covered by collateral at current prices, summed over accounts (see
        :func:`~marginengine.margin.underwater_value`)."""
        return self.margin_model.underwater_total(self.ledger, self.prices)


__all__ = ["EngineState", "SequencerStatus", "StateReads"]
