"""The one margin interface: the margin of an account, initial or maintenance, from a
valuation.

A :class:`Valuation` is everything prices an account: oracle prices (and, for initial
margin with a stable price, separate debt prices), perp marks and market conditions.
:class:`AccountMarginModel` composes the models per account: weighted lending margin for
every account, plus tiered perp margin over the whole bucket for an account that holds
perps (its lending and its perp equity and requirements in one bucket). The engine, the
scan's exact confirmation and the simulator decide health through it only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from marginengine.config import ProtocolConfig
from marginengine.decisions import Refusal
from marginengine.fixedpoint import WAD, Rounding
from marginengine.ledger import Ledger
from marginengine.margin.base import FamilyMargin, MarginKind, MarginState, health_of
from marginengine.margin.perp import PerpMarginModel
from marginengine.margin.portfolio import PortfolioMargin, portfolio_state
from marginengine.margin.validation import validate_initial_margin
from marginengine.margin.weighted import AccountData, WeightedMarginModel
from marginengine.oracle.conditions import MarketConditions

#: The add-on's unit: parts per million of the requirement.
ADDON_SCALE = 1_000_000


@dataclass(frozen=True)
class Valuation:
    """What values an account.

    Attributes
    ----------
    prices
        Oracle prices, base currency with 8 decimals (collateral side for initial margin).
    marks
        The price each perp market is margined at (its mark, or its oracle price for
        ``margin_price = "oracle"``: :func:`~marginengine.margin.perp.margin_price`).
    debt_prices
        Debt-side prices when they differ (initial margin with a stable price).
    conditions
        Market conditions by asset (volatility, depth, open interest).
    portfolio
        The PMRM_2 margin of an account in portfolio mode (one holding options or options
        cash), ``None`` for any other; ``None`` here: no account is.
    addons
        Per-account add-ons raising the requirement, ppm (the crowding add-on of
        :mod:`marginengine.margin.crowding`, as the engine's last ``SetCrowding`` events
        set it); an account absent has none.
    family
        The margin of an account of a family with state and rules of its own (Euler v2,
        Mango v4, Drift v2) by that family's rules
        (:class:`~marginengine.margin.base.FamilyMargin`), ``None`` for any other account;
        ``None`` here: no account is.
    """

    prices: Mapping[str, int]
    marks: Mapping[str, int] = field(default_factory=dict)
    debt_prices: Mapping[str, int] | None = None
    conditions: Mapping[str, MarketConditions] = field(default_factory=dict)
    portfolio: Callable[[str], PortfolioMargin | None] | None = None
    addons: Mapping[str, int] = field(default_factory=dict)
    family: Callable[[str], FamilyMargin | None] | None = None


def raised_requirement(requirement: int, addon_ppm: int) -> int:
    """``requirement x (1 + addon / 1e6)``, rounded up (an add-on never rounds away)."""
    return -(-requirement * (ADDON_SCALE + addon_ppm) // ADDON_SCALE)


def with_addon(state: MarginState, addon_ppm: int) -> MarginState:
    """``state`` with its requirement raised by ``addon_ppm`` (unchanged at 0)."""
    if not addon_ppm or state.requirement <= 0:
        return state
    requirement = raised_requirement(state.requirement, addon_ppm)
    return MarginState(state.kind, state.value, requirement,
                       health_of(max(state.value, 0), requirement, Rounding.DOWN))


class InitialScope(Enum):
    """Which accounts an action's cross-margin initial check (the bucket's, lending and
    perps together) binds; the lending rules of the family (``validate_borrow_power``,
    ``validate_health_after_withdraw``) bind every lending account besides.

    ``ALWAYS``
        Every account (perp actions: trades, quote withdrawals and transfers, a perp
        liquidator taking positions).
    HOLDS_PERPS
        An account whose margin is a bucket: perp positions or a perp balance (a borrow).
    OPEN_POSITIONS
        An account with open perp positions (a withdrawal of lending collateral: without
        positions, the family's withdraw rule alone decides, as Aave's ``validateHFAndLtv``
        checks health, not borrowing power). The check then needs every price of the
        bucket to be usable.
    """

    ALWAYS = "always"
    HOLDS_PERPS = "holds_perps"
    OPEN_POSITIONS = "open_positions"


def underwater_value(data: AccountData) -> int:
    """Debt not covered by collateral (unweighted), base-currency units: the loss the
    protocol would take if the account were closed now at these prices."""
    return max(0, data.total_debt - data.total_collateral)


class AccountMarginModel:
    """The margin of any account, composed from the models it needs.

    Parameters
    ----------
    config
        The protocol; its rule family chooses how the weighted model combines collateral.
    """

    def __init__(self, config: ProtocolConfig) -> None:
        self.config = config
        self.lending = WeightedMarginModel(config)
        self.perps = PerpMarginModel(self.lending)

    def portfolio_margin(self, valuation: Valuation, account_id: str) -> PortfolioMargin | None:
        """The account's PMRM_2 margin when it is in portfolio mode, else ``None``."""
        return valuation.portfolio(account_id) if valuation.portfolio is not None else None

    def family_margin(self, valuation: Valuation, account_id: str) -> FamilyMargin | None:
        """The account's margin by its family's own rules (Euler, Mango, Drift), else
        ``None``."""
        return valuation.family(account_id) if valuation.family is not None else None

    def holds_perps(self, ledger: Ledger, account_id: str) -> bool:
        """Whether the account's margin is a bucket with perps (positions or a balance)."""
        account = ledger.accounts.get(account_id)
        return bool(account and (account.perps or account.perp_quote))

    def models_of(self, ledger: Ledger, account_id: str) -> tuple[str, ...]:
        """Names of the models composed for this account (``weighted``, ``tiered``)."""
        return ("weighted", "tiered") if self.holds_perps(ledger, account_id) else ("weighted",)

    def margin(self, ledger: Ledger, valuation: Valuation, account_id: str,
               kind: MarginKind) -> MarginState:
        """The account's value against its requirement, of ``kind``, the requirement raised
        by the account's add-on in ``valuation`` (rounded up). A portfolio account
        (see :class:`Valuation`) is margined by PMRM_2 on its options; if it also holds
        lending or perps, the two values and requirements add (no offset across the
        clearing and the ledger: the conservative sum of isolated margins). An account of a
        family with rules of its own (see :class:`Valuation`) is margined by them."""
        return with_addon(self._base_margin(ledger, valuation, account_id, kind),
                          valuation.addons.get(account_id, 0))

    def _base_margin(self, ledger: Ledger, valuation: Valuation, account_id: str,
                     kind: MarginKind) -> MarginState:
        fam = self.family_margin(valuation, account_id)
        if fam is not None:
            return fam.of(kind)
        pm = self.portfolio_margin(valuation, account_id)
        if pm is not None:
            opts = self.config.options
            assert opts is not None  # a portfolio margin exists only with [options]
            quote_price = (valuation.debt_prices or valuation.prices)[opts.quote]
            state = portfolio_state(pm, kind, quote_price)
            account = ledger.accounts.get(account_id)
            if account is None or not (account.perps or account.perp_quote
                                       or account.lending):
                return state
            other = self._ledger_margin(ledger, valuation, account_id, kind)
            value = state.value + other.value
            requirement = state.requirement + other.requirement
            return MarginState(kind, value, requirement,
                               health_of(value, requirement, Rounding.DOWN))
        return self._ledger_margin(ledger, valuation, account_id, kind)

    def _ledger_margin(self, ledger: Ledger, valuation: Valuation, account_id: str,
                       kind: MarginKind) -> MarginState:
        if self.holds_perps(ledger, account_id):
            return self.perps.bucket(ledger, valuation.prices, valuation.marks, account_id,
                                     valuation.debt_prices).margin(kind)
        return self.lending.account_data(ledger, valuation.prices, account_id,
                                         valuation.debt_prices).margin(kind)

    def health(self, ledger: Ledger, valuation: Valuation, account_id: str) -> int:
        """Maintenance health as a wad: Aave's (or Comet's) health factor for a lending
        account; the bucket's maintenance value over requirement when it holds perps or
        is a portfolio account; a family account's health by its family's rules."""
        if valuation.addons.get(account_id) or self.holds_perps(ledger, account_id) or (
                self.portfolio_margin(valuation, account_id) is not None):
            return self.margin(ledger, valuation, account_id, MarginKind.MAINTENANCE).health
        fam = self.family_margin(valuation, account_id)
        if fam is not None:
            return fam.maintenance.health
        return self.lending.account_data(ledger, valuation.prices, account_id).health_factor

    def is_liquidatable(self, ledger: Ledger, valuation: Valuation, account_id: str,
                        lending_data: Callable[[str], AccountData] | None = None) -> bool:
        """Whether maintenance margin is not met: a lending account by its family's rule
        (Aave: HF below 1; Comet: liquidity below 0), a bucket when its maintenance value is
        below its requirement (a portfolio account likewise, on PMRM_2's maintenance); with
        an add-on in ``valuation``, when the value is below the raised requirement
        (:meth:`is_below_with_addon`); a family account by its family's own test (Euler:
        collateral at most the liability; Mango: maint health below 0; Drift: maintenance
        requirement not met).

        ``lending_data``: reads an account's lending :meth:`WeightedMarginModel.
        account_data <marginengine.margin.weighted.WeightedMarginModel.account_data>` at
        ``valuation.prices`` (the engine's, read once per state); called only where the
        rule is the lending one, instead of computing it again."""
        addon = valuation.addons.get(account_id, 0)
        if addon:
            return self.is_below_with_addon(ledger, valuation, account_id, addon)
        fam = self.family_margin(valuation, account_id)
        if fam is not None:
            return fam.liquidatable
        if self.holds_perps(ledger, account_id) or (
                self.portfolio_margin(valuation, account_id) is not None):
            state = self.margin(ledger, valuation, account_id, MarginKind.MAINTENANCE)
            return state.requirement > 0 and state.value < state.requirement
        if lending_data is None:
            return self.lending.is_liquidatable(ledger, valuation.prices, account_id)
        return self.lending.liquidatable(lending_data(account_id))

    def is_below(self, ledger: Ledger, valuation: Valuation, account_id: str,
                 threshold_wad: int) -> bool:
        """Whether the account's maintenance health is below ``threshold_wad`` (at ``WAD``
        exactly :meth:`is_liquidatable`); an account without requirement never is."""
        if threshold_wad == WAD:
            return self.is_liquidatable(ledger, valuation, account_id)
        state = self.margin(ledger, valuation, account_id, MarginKind.MAINTENANCE)
        return state.requirement > 0 and state.health < threshold_wad

    def initial_binds(self, ledger: Ledger, account_id: str, scope: InitialScope) -> bool:
        """Whether the cross-margin initial check of ``scope`` applies to the account."""
        if scope is InitialScope.ALWAYS:
            return True
        if scope is InitialScope.HOLDS_PERPS:
            return self.holds_perps(ledger, account_id)
        account = ledger.accounts.get(account_id)
        return bool(account and account.perps)

    def initial_refusal(self, ledger: Ledger, valuation: Valuation, account_id: str,
                        scope: InitialScope = InitialScope.ALWAYS,
                        who: str = "") -> Refusal | None:
        """The refusal of an action that leaves the account below initial margin, as its
        whole bucket (lending and perps, at the initial-margin ``valuation``) sees it;
        ``None`` when the requirement is met or ``scope`` does not bind the account."""
        addon = valuation.addons.get(account_id, 0)
        if not addon and not self.initial_binds(ledger, account_id, scope):
            return None
        bucket = self.perps.bucket(ledger, valuation.prices, valuation.marks, account_id,
                                   valuation.debt_prices)
        return validate_initial_margin(
            account_id, with_addon(bucket.margin(MarginKind.INITIAL), addon), who)

    def is_below_with_addon(self, ledger: Ledger, valuation: Valuation, account_id: str,
                            addon_ppm: int, threshold_wad: int = WAD) -> bool:
        """Whether the account's maintenance health is below ``threshold_wad`` once its
        requirement is raised by a per-account add-on (the crowding add-on of
        :mod:`marginengine.margin.crowding`): ``requirement x (1 + addon)``, rounded up.

        ``addon_ppm`` replaces the valuation's own add-on for the account. With no add-on
        this is :meth:`is_below` (the family's own rule); otherwise below when
        ``value x WAD < threshold x requirement'`` exactly.
        """
        if isinstance(addon_ppm, bool) or not isinstance(addon_ppm, int) or addon_ppm < 0:
            raise ValueError(f"addon_ppm: must be a non-negative int (got {addon_ppm!r})")
        if addon_ppm == 0:
            if valuation.addons.get(account_id):
                valuation = replace(valuation, addons={})
            return self.is_below(ledger, valuation, account_id, threshold_wad)
        state = self._base_margin(ledger, valuation, account_id, MarginKind.MAINTENANCE)
        if state.requirement <= 0:
            return False
        return state.value * WAD < threshold_wad * raised_requirement(state.requirement,
                                                                      addon_ppm)

    def underwater_total(self, ledger: Ledger, prices: Mapping[str, int]) -> int:
        """:func:`underwater_value` summed over every account of the ledger."""
        return sum(underwater_value(self.lending.account_data(ledger, prices, a))
                   for a in ledger.accounts)


__all__ = ["AccountMarginModel", "InitialScope", "Valuation", "raised_requirement",
           "underwater_value", "with_addon"]
