"""The state of the engine families with rules of their own beyond Morpho and Liquity
(Euler v2, Mango v4, Drift v2), and how it becomes the inputs of their pure rules.

A book is a frozen value, replaced (never mutated) by the family's handlers, so the
engine's one transaction journals it by keeping the old value. Its ``state_dict`` enters
the state hash. The functions here turn a book, the engine's prices and the clock into the
arguments of ``margin/euler.py`` and ``liquidation/euler.py``: there is no other copy of a
rule.

Prices: the engine's are USD with 8 decimals per whole token. Euler's quotes here are in
a unit of account of 18 decimals (USD x 1e18), so an Euler price per base unit (x 1e18) is
``price x 10^(28 - decimals)``, exact (``config.family_configs.EULER_MAX_DECIMALS``).
Mango's prices are I80F48 native quote per native token: ``price x 2^48 x 10^(quote
decimals - decimals) / 1e8``, rounded to nearest (half up). Drift's are
``PRICE_PRECISION`` (1e6): the engine's price / 100, rounded down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from marginengine.config import ProtocolConfig
from marginengine.config.family_configs import EulerConfig, MangoTokenConfig
from marginengine.decisions import Code, Refusal
from marginengine.errors import FieldError
from marginengine.fixedpoint import PRICE_DECIMALS
from marginengine.liquidation import drift as drift_liq
from marginengine.liquidation import mango as mango_liq
from marginengine.liquidation.euler import EulerVault
from marginengine.margin import drift as drift_rules
from marginengine.margin import euler as euler_rules
from marginengine.margin import mango as mango_rules
from marginengine.margin import mango_perp
from marginengine.margin.base import FamilyMargin

#: The unit of account's decimals (USD x 1e18) and its ratio to the engine's base currency.
EULER_UNIT_DECIMALS = 18
EULER_UNIT_SCALE: int = 10 ** (EULER_UNIT_DECIMALS - PRICE_DECIMALS)


@dataclass(frozen=True)
class EulerAccount:
    """One account in the Euler family: vault shares (a lender), debt (assets, no
    interest accrues: see docs/presets.md) and collateral balances; the time of its last
    successful account status check (recorded only when the vault has a liquidation
    cool-off, the one rule that reads it)."""

    shares: int = 0
    debt: int = 0
    collateral: Mapping[str, int] = field(default_factory=dict)
    last_status_check: int = 0

    def is_empty(self) -> bool:
        """Whether nothing is held or owed."""
        return not (self.shares or self.debt or any(self.collateral.values()))


@dataclass(frozen=True)
class EulerBook:
    """The vault's totals, the LTV config of each collateral and the accounts."""

    vault: EulerVault
    ltvs: Mapping[str, euler_rules.LTVConfig]
    accounts: Mapping[str, EulerAccount]
    socialized: int = 0

    @classmethod
    def of(cls, cfg: EulerConfig, now: int) -> EulerBook:
        """The empty vault, each collateral's LTVs set (no ramp) at ``now``."""
        ltvs = {}
        for name, c in sorted(cfg.collaterals.items()):
            ltv = euler_rules.set_ltv(euler_rules.LTVConfig(), c.borrow_ltv_scaled,
                                      c.liquidation_ltv_scaled, 0, max(now, 1))
            assert isinstance(ltv, euler_rules.LTVConfig)  # the config checked the LTVs
            ltvs[name] = ltv
        return cls(EulerVault(0, 0, 0), ltvs, {})

    def account(self, account_id: str) -> EulerAccount:
        """``account_id``'s account (empty if it has none)."""
        return self.accounts.get(account_id, EulerAccount())

    def with_account(self, account_id: str, account: EulerAccount,
                     vault: EulerVault | None = None) -> EulerBook:
        """This book with ``account_id``'s account replaced (and the vault's totals)."""
        accounts = dict(self.accounts)
        accounts[account_id] = account
        return EulerBook(self.vault if vault is None else vault, self.ltvs, accounts,
                         self.socialized)

    def state_dict(self) -> dict[str, object]:
        """Plain data for the state hash."""
        v = self.vault
        return {
            "vault": [v.cash, v.total_borrows, v.total_shares], "socialized": self.socialized,
            "ltvs": {n: [c.borrow_ltv, c.liquidation_ltv, c.initial_liquidation_ltv,
                         c.target_timestamp, c.ramp_duration]
                     for n, c in sorted(self.ltvs.items())},
            "accounts": {a: [x.shares, x.debt, {n: b for n, b in sorted(x.collateral.items())
                                                if b},
                             *([x.last_status_check] if x.last_status_check else [])]
                         for a, x in sorted(self.accounts.items()) if not x.is_empty()},
        }


@dataclass(frozen=True)
class MangoPerpPosition:
    """A Mango perp position: base lots (signed), quote (settle-token native units,
    signed), open bids and asks in base lots; the market funding it has settled
    (``long_settled_funding`` / ``short_settled_funding``, raw I80F48) and its settle-limit
    fields (:class:`~marginengine.margin.mango_perp.SettleLimitState`)."""

    base_lots: int = 0
    quote: int = 0
    bids: int = 0
    asks: int = 0
    long_settled_funding: int = 0
    short_settled_funding: int = 0
    limit: mango_perp.SettleLimitState = field(default_factory=mango_perp.SettleLimitState)

    def state_list(self) -> list[object]:
        """Plain data for the state hash (funding and settle limits only once set, so
        positions without them hash as before)."""
        out: list[object] = [self.base_lots, self.quote, self.bids, self.asks]
        if self.long_settled_funding or self.short_settled_funding:
            out.append({"settled_funding": [self.long_settled_funding,
                                            self.short_settled_funding]})
        if not self.limit.is_default():
            lim = self.limit
            out.append({"settle_limit": [lim.window, lim.settled_in_window, lim.recurring,
                                         lim.oneshot]})
        return out


@dataclass(frozen=True)
class MangoAccount:
    """A Mango account: signed native token positions and perp positions, and whether it
    is being liquidated (``MangoAccountFixed::being_liquidated``)."""

    tokens: Mapping[str, int] = field(default_factory=dict)
    perps: Mapping[str, MangoPerpPosition] = field(default_factory=dict)
    being_liquidated: bool = False


@dataclass(frozen=True)
class MangoBook:
    """The group's accounts and the stable prices reported (engine prices, 8 decimals;
    an asset without one takes the oracle layer's stable price, else its oracle price),
    the banks' collected liquidation fees (native units), and what token bankruptcy did:
    the insurance fund paid out (native quote), each bank's deposit index (raw I80F48,
    one until a loss is socialized), the loss socialized per bank and the part of it
    borne by the depositors outside the engine (native units)."""

    accounts: Mapping[str, MangoAccount]
    stable: Mapping[str, int]
    fees: Mapping[str, int] = field(default_factory=dict)
    insurance_paid: int = 0
    deposit_index: Mapping[str, int] = field(default_factory=dict)
    socialized: Mapping[str, int] = field(default_factory=dict)
    outside_loss: Mapping[str, int] = field(default_factory=dict)
    #: Per perp market, the platform liquidation fees accrued (settle-token native units,
    #: ``PerpMarket::accrued_liquidation_fees``).
    perp_fees: Mapping[str, int] = field(default_factory=dict)
    #: Per perp market, the negative pnl socialized by perp bankruptcy, and the part of it
    #: no open interest bore (Mango's loss on an open interest of zero; settle native).
    perp_socialized: Mapping[str, int] = field(default_factory=dict)
    perp_unallocated: Mapping[str, int] = field(default_factory=dict)
    #: Per perp market, its funding (``long_funding``, ``short_funding``,
    #: ``funding_last_updated``); a market not listed has none yet, last updated at 0.
    funding: Mapping[str, mango_perp.FundingState] = field(default_factory=dict)
    #: Per perp market, the funding the engine's whole-unit quotes could not hold when it
    #: was settled (the floor's remainders, raw I80F48: kept by the market).
    funding_dust: Mapping[str, int] = field(default_factory=dict)

    def funding_of(self, market: str) -> mango_perp.FundingState:
        """``market``'s funding state."""
        return self.funding.get(market, mango_perp.FundingState())

    def account(self, account_id: str) -> MangoAccount:
        """``account_id``'s account (empty if it has none)."""
        return self.accounts.get(account_id, MangoAccount())

    def with_account(self, account_id: str, account: MangoAccount) -> MangoBook:
        """This book with ``account_id``'s account replaced."""
        accounts = dict(self.accounts)
        accounts[account_id] = account
        return replace(self, accounts=accounts)

    def index_of(self, token: str) -> int:
        """``token``'s deposit index (raw I80F48)."""
        return self.deposit_index.get(token, mango_rules.ONE)

    def state_dict(self) -> dict[str, object]:
        """Plain data for the state hash (the flag, the fees and bankruptcy's figures only
        when set, so books without liquidations hash as before)."""
        out: dict[str, object] = {
            "stable": dict(sorted(self.stable.items())),
            "accounts": {a: [{t: b for t, b in sorted(x.tokens.items()) if b},
                             {m: p.state_list() for m, p in sorted(x.perps.items())},
                             *(["being_liquidated"] if x.being_liquidated else [])]
                         for a, x in sorted(self.accounts.items())},
        }
        if any(self.fees.values()):
            out["fees"] = {t: f for t, f in sorted(self.fees.items()) if f}
        if self.insurance_paid:
            out["insurance_paid"] = self.insurance_paid
        for name in ("deposit_index", "socialized", "outside_loss", "perp_fees",
                     "perp_socialized", "perp_unallocated", "funding_dust"):
            values = getattr(self, name)
            if values:
                out[name] = dict(sorted(values.items()))
        if self.funding:
            out["funding"] = {m: [f.long_funding, f.short_funding, f.last_updated]
                              for m, f in sorted(self.funding.items())}
        return out


@dataclass(frozen=True)
class DriftAccount:
    """A Drift cross-margin account: signed spot token amounts (native units) and perp
    positions ``(base 1e9, quote 1e6)``, signed."""

    spot: Mapping[str, int] = field(default_factory=dict)
    perps: Mapping[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class DriftLiquidation:
    """An account's liquidation in progress (Drift's ``UserStatus::BeingLiquidated``):
    ``start_slot`` is ``user.last_active_slot``, set when the liquidation starts
    (``enter_cross_margin_liquidation``), ``margin_freed`` is
    ``user.liquidation_margin_freed`` (quote 1e6), the margin shortage freed since."""

    start_slot: int
    margin_freed: int = 0


@dataclass(frozen=True)
class DriftBook:
    """The exchange's accounts, and per perp market what ``resolve_perp_bankruptcy``
    reads and writes (quote 1e6)."""

    accounts: Mapping[str, DriftAccount]
    #: Per perp market, the insurance fund's liquidation fees (quote 1e6,
    #: ``amm.total_liquidation_fee``).
    liquidation_fees: Mapping[str, int] = field(default_factory=dict)
    #: The quote spot market's insurance fund vault (quote 1e6).
    insurance_fund: int = 0
    #: Per perp market, the AMM's fee pool (``amm.fee_pool``): the configured start plus
    #: the insurance fund's liquidation fees, less what bankruptcies drew.
    fee_pools: Mapping[str, int] = field(default_factory=dict)
    #: Per perp market, ``insurance_claim.quote_settled_insurance``.
    settled_insurance: Mapping[str, int] = field(default_factory=dict)
    #: Per perp market, ``amm.total_social_loss``.
    social_loss: Mapping[str, int] = field(default_factory=dict)
    #: Per spot market but the quote, its insurance fund vault (token units); the quote
    #: market's is ``insurance_fund``.
    spot_insurance: Mapping[str, int] = field(default_factory=dict)
    #: Per spot market, ``cumulative_deposit_interest`` once a spot bankruptcy lowered it
    #: (``SPOT_CUMULATIVE_INTEREST_PRECISION``; absent: 1e10, nothing socialized yet).
    deposit_interest: Mapping[str, int] = field(default_factory=dict)
    #: Per spot market, ``total_social_loss`` (token units).
    spot_social_loss: Mapping[str, int] = field(default_factory=dict)
    #: Per spot market, the revenue pool's deposits from ``liquidate_spot``'s insurance
    #: fund fees (token units, ``update_revenue_pool_balances``).
    spot_revenue: Mapping[str, int] = field(default_factory=dict)
    #: The accounts being liquidated (``enter_cross_margin_liquidation`` until
    #: ``exit_cross_margin_liquidation``): when each started and what it freed.
    liquidations: Mapping[str, DriftLiquidation] = field(default_factory=dict)

    def account(self, account_id: str) -> DriftAccount:
        """``account_id``'s account (empty if it has none)."""
        return self.accounts.get(account_id, DriftAccount())

    def with_account(self, account_id: str, account: DriftAccount) -> DriftBook:
        """This book with ``account_id``'s account replaced."""
        accounts = dict(self.accounts)
        accounts[account_id] = account
        return replace(self, accounts=accounts)

    def with_liquidation(self, account_id: str,
                         status: DriftLiquidation | None) -> DriftBook:
        """This book with ``account_id``'s liquidation status replaced (``None``: not being
        liquidated)."""
        liquidations = dict(self.liquidations)
        if status is None:
            liquidations.pop(account_id, None)
        else:
            liquidations[account_id] = status
        return replace(self, liquidations=liquidations)

    def with_liquidation_fee(self, market: str, fee: int) -> DriftBook:
        """This book with ``fee`` added to ``market``'s insurance-fund liquidation fees and
        to its fee pool (Drift moves it there when the account settles: the fee pool's
        target counts ``total_liquidation_fee``, ``controller/amm.rs``)."""
        fees = dict(self.liquidation_fees)
        fees[market] = fees.get(market, 0) + fee
        pools = dict(self.fee_pools)
        pools[market] = pools.get(market, 0) + fee
        return replace(self, liquidation_fees=fees, fee_pools=pools)

    def state_dict(self) -> dict[str, object]:
        """Plain data for the state hash (fees, fund and pools only once there are some,
        so books without perp liquidations hash as before)."""
        out: dict[str, object] = {
            "accounts": {a: [{m: b for m, b in sorted(x.spot.items()) if b},
                             {m: list(p) for m, p in sorted(x.perps.items()) if any(p)}]
                         for a, x in sorted(self.accounts.items())}}
        if any(self.liquidation_fees.values()):
            out["liquidation_fees"] = dict(sorted(self.liquidation_fees.items()))
        if self.insurance_fund:
            out["insurance_fund"] = self.insurance_fund
        for name in ("fee_pools", "settled_insurance", "social_loss", "spot_insurance",
                     "deposit_interest", "spot_social_loss", "spot_revenue"):
            values: Mapping[str, int] = getattr(self, name)
            if any(values.values()):
                out[name] = dict(sorted(values.items()))
        if self.liquidations:
            out["liquidations"] = {a: [x.start_slot, x.margin_freed]
                                   for a, x in sorted(self.liquidations.items())}
        return out


#: The book of the protocol's family, when it has one of these.
FamilyBook = EulerBook | MangoBook | DriftBook


def new_family_book(config: ProtocolConfig, now: int) -> FamilyBook | None:
    """The protocol's family book, empty (``None`` unless its family has one)."""
    if config.euler is not None:
        return EulerBook.of(config.euler, now)
    if config.mango is not None:
        return MangoBook({}, {})
    if config.drift is not None:
        q = drift_rules.QUOTE_PRECISION
        return DriftBook({}, insurance_fund=int(config.drift.insurance_fund * q),
                         fee_pools={n: int(p.fee_pool * q)
                                    for n, p in sorted(config.drift.perps.items())
                                    if p.fee_pool},
                         spot_insurance={
                             n: int(m.insurance_fund * config.markets[n].unit)
                             for n, m in sorted(config.drift.spot.items())
                             if m.insurance_fund})
    return None


def family_margin_of(config: ProtocolConfig, book: FamilyBook, prices: Mapping[str, int],
                     now: int, account_id: str,
                     stable: Mapping[str, int] | None = None) -> FamilyMargin | None:
    """The account's margin by its family's rules (``None``: not an account of the book).
    ``stable``: the oracle layer's stable prices (Mango's init side)."""
    if isinstance(book, MangoBook):
        return mango_family_margin(config, book, prices, stable or {}, account_id, now=now)
    if isinstance(book, DriftBook):
        return drift_family_margin(config, book, prices, account_id)
    return euler_family_margin(config, book, prices, now, account_id)


# ---------------------------------------------------------------------- Drift v2
#: The engine's prices (8 decimals) over Drift's ``PRICE_PRECISION`` (6).
DRIFT_PRICE_SCALE: int = 10 ** (PRICE_DECIMALS - 6)


def drift_price(prices: Mapping[str, int], asset: str) -> int:
    """Drift's oracle price of ``asset`` (``PRICE_PRECISION``, 1e6): the engine's / 100."""
    if asset not in prices:
        raise FieldError("prices", f"no price has been set for {asset}")
    return prices[asset] // DRIFT_PRICE_SCALE


def drift_spot_market(config: ProtocolConfig, name: str,
                      book: DriftBook | None = None) -> drift_rules.SpotMarket:
    """The ``SpotMarket`` fields of spot market ``name``; with ``book``, also the market's
    deposits for the scaled initial asset weight (``get_scaled_initial_asset_weight``):
    the configured outside ``deposits`` plus every engine account's deposit, as Drift's
    scaled ``deposit_balance`` (``SPOT_BALANCE_PRECISION``, 1e9, at a cumulative deposit
    interest of 1; rounded down, as a deposit's scaled balance is)."""
    cfg = config.drift
    assert cfg is not None
    m = cfg.spot[name]
    decimals = config.markets[name].decimals
    start = m.scaled("scale_initial_asset_weight_start")
    deposit_balance = 0
    if start and book is not None:  # only the scaled initial weight reads the deposits
        native = int(m.deposits * 10**decimals) + sum(
            max(a.spot.get(name, 0), 0) for a in book.accounts.values())
        deposit_balance = native * drift_rules.SPOT_BALANCE_PRECISION // 10**decimals
    return drift_rules.SpotMarket(
        decimals=decimals,
        **{f: m.scaled(f) for f in ("initial_asset_weight", "maintenance_asset_weight",
                                    "initial_liability_weight",
                                    "maintenance_liability_weight", "imf_factor")},
        scale_initial_asset_weight_start=start, deposit_balance=deposit_balance)


def drift_perp_market(config: ProtocolConfig, name: str) -> drift_rules.PerpMarketMargin:
    """The margin fields of perp market ``name``."""
    cfg = config.drift
    assert cfg is not None
    m = cfg.perps[name]
    return drift_rules.PerpMarketMargin(
        m.scaled("margin_ratio_initial"), m.scaled("margin_ratio_maintenance"),
        m.scaled("imf_factor"), drift_rules.PerpPnlWeights(
            m.scaled("unrealized_pnl_initial_asset_weight"),
            m.scaled("unrealized_pnl_maintenance_asset_weight"),
            m.scaled("unrealized_pnl_imf_factor")))


def drift_balances(config: ProtocolConfig, book: DriftBook, prices: Mapping[str, int],
                   account_id: str
                   ) -> tuple[list[drift_rules.SpotBalance], list[drift_rules.PerpBalance]]:
    """The account's spot balances and perp positions, priced, for the margin rules."""
    account = book.account(account_id)
    spots = [drift_rules.SpotBalance(drift_spot_market(config, n, book), amount,
                                     drift_price(prices, n))
             for n, amount in sorted(account.spot.items()) if amount]
    perps = [drift_rules.PerpBalance(drift_perp_market(config, n), base, quote,
                                     drift_price(prices, n))
             for n, (base, quote) in sorted(account.perps.items()) if base or quote]
    return spots, perps


def drift_margin(config: ProtocolConfig, book: DriftBook, prices: Mapping[str, int],
                 account_id: str, kind: drift_rules.MarginRequirementType,
                 margin_buffer: int = 0) -> drift_rules.MarginCalculation:
    """The account's Drift margin calculation of ``kind`` (``margin_buffer`` 1e4: the
    liquidation context's buffer)."""
    spots, perps = drift_balances(config, book, prices, account_id)
    return drift_rules.margin_calculation(spots, perps, kind, margin_buffer)


def drift_family_margin(config: ProtocolConfig, book: DriftBook, prices: Mapping[str, int],
                        account_id: str) -> FamilyMargin | None:
    """The account's margin by Drift's rules (``None`` if it has no Drift account)."""
    if account_id not in book.accounts:
        return None
    spots, perps = drift_balances(config, book, prices, account_id)
    return drift_rules.family_margin(spots, perps, DRIFT_PRICE_SCALE)



def drift_slot(config: ProtocolConfig, now: int) -> int:
    """Drift's slot at the engine's clock ``now`` (seconds), at ``drift.slot_ms`` a slot."""
    cfg = config.drift
    assert cfg is not None  # a Drift book exists only with [drift]
    return drift_liq.slot_at(now, cfg.slot_ms)


def drift_liquidation_of(book: DriftBook, account_id: str, slot: int) -> DriftLiquidation:
    """``account_id``'s liquidation once a liquidation of it goes on at ``slot``: the one in
    progress, else one starting now with nothing freed (``enter_cross_margin_liquidation``:
    ``last_active_slot = slot``, ``liquidation_margin_freed = 0``)."""
    return book.liquidations.get(account_id) or DriftLiquidation(slot)


def drift_max_pct(config: ProtocolConfig, book: DriftBook, account_id: str, slot: int,
                  margin_shortage: int) -> int:
    """``calculate_max_pct_to_liquidate`` for ``account_id`` at ``slot``
    (``LIQUIDATION_PCT_PRECISION``) with the exchange's ``initial_pct_to_liquidate`` and
    ``liquidation_duration``."""
    cfg = config.drift
    assert cfg is not None  # a Drift book exists only with [drift]
    status = drift_liquidation_of(book, account_id, slot)
    return drift_liq.max_pct_to_liquidate(margin_shortage, slot - status.start_slot,
                                          status.margin_freed, cfg.initial_pct(),
                                          cfg.liquidation_duration)


def drift_after_liquidation(book: DriftBook, account_id: str, slot: int, freed: int,
                            covered: bool) -> DriftBook:
    """``book`` with ``account_id``'s liquidation status after a liquidation at ``slot``
    that freed ``freed`` of its margin shortage (``increment_margin_freed``): ended when the
    transfer covered the shortage (``exit_cross_margin_liquidation``), else carried on."""
    if covered:
        return book.with_liquidation(account_id, None)
    status = drift_liquidation_of(book, account_id, slot)
    return book.with_liquidation(account_id, replace(
        status, margin_freed=status.margin_freed + max(freed, 0)))


@dataclass(frozen=True)
class DriftSpotLiqPlan:
    """What ``liquidate_spot`` would move now (smallest units): the liability taken over
    and the asset paid for it, with the margin shortage (with the buffer) and the transfer
    that covers it; ``if_fee`` (of the liability's token units) is the insurance fund's
    part of the transfer (the account's borrow falls by ``liability_transfer - if_fee``)
    and ``if_fee_rate`` its rate (``LIQUIDATION_FEE_PRECISION``); ``max_pct`` the share
    of ``to_cover`` this liquidation may move (``LIQUIDATION_PCT_PRECISION``)."""

    liability_transfer: int
    asset_transfer: int
    margin_shortage: int
    to_cover: int
    if_fee: int = 0
    if_fee_rate: int = 0
    max_pct: int = drift_liq.LIQUIDATION_PCT_PRECISION


def drift_spot_liq_plan(config: ProtocolConfig, book: DriftBook, prices: Mapping[str, int],
                        account_id: str, asset: str, liab: str,
                        calc: drift_rules.MarginCalculation,
                        max_liability_transfer: int | None = None, *,
                        slot: int) -> DriftSpotLiqPlan:
    """``liquidate_spot``'s transfers for ``account_id`` (below maintenance: ``calc``, the
    liquidation context's calculation with the margin buffer; a deposit of ``asset`` and
    a borrow of ``liab``), as ``controller/liquidation.rs`` sizes them: the margin shortage
    with the buffer, against the markets' configured maintenance weights (the liability's
    plus the buffer) at the multipliers ``1 + asset fee`` and ``1 - liability fee``, net of
    the insurance fund's fee (``calculate_spot_if_fee`` on the liability market's share of
    the shortage); of that, the share ``calculate_max_pct_to_liquidate`` allows at ``slot``
    (nothing moves when it rounds to 0); at least the whole liability when it is worth $10
    or less; at most the
    liability, what the asset implies and ``max_liability_transfer``; the asset for it, at
    most the deposit. The engine's handler and the simulator's keepers both size a
    liquidation here."""
    cfg = config.drift
    assert cfg is not None  # a Drift book exists only with [drift]
    held = book.account(account_id)
    asset_amount, liab_amount = held.spot.get(asset, 0), -held.spot.get(liab, 0)
    l_market = drift_spot_market(config, liab)
    a_decimals = config.markets[asset].decimals
    a_price, l_price = drift_price(prices, asset), drift_price(prices, liab)
    one = drift_liq.LIQUIDATION_FEE_PRECISION
    a_mult = one + cfg.spot[asset].scaled("liquidator_fee")
    l_mult = one - cfg.spot[liab].scaled("liquidator_fee")
    maintenance = drift_rules.MarginRequirementType.MAINTENANCE
    # liquidate_spot reads the markets' maintenance weights as configured (no size
    # adjustment) and adds the buffer to the liability's.
    asset_weight = cfg.spot[asset].scaled("maintenance_asset_weight")
    liab_weight = cfg.spot[liab].scaled("maintenance_liability_weight") + cfg.margin_buffer()
    shortage = calc.margin_shortage
    # tracked_market_margin_shortage: the shortage's share of the liability's requirement
    tracked = -drift_rules.weighted_spot_value(
        drift_rules.SpotBalance(l_market, -liab_amount, l_price), maintenance)
    tracked_shortage = (shortage * tracked // calc.margin_requirement
                        if calc.margin_requirement else 0)
    if_rate = drift_liq.spot_if_fee(tracked_shortage, liab_amount, asset_weight, a_mult,
                                    liab_weight, l_mult, l_market.decimals, l_price,
                                    cfg.spot[liab].scaled("if_liquidation_fee"))
    to_cover = drift_liq.liability_transfer_to_cover_margin_shortage(
        shortage, asset_weight, a_mult, liab_weight, l_mult, l_market.decimals, l_price,
        if_rate)
    implied = drift_liq.liability_transfer_implied_by_asset_amount(
        asset_amount, a_mult, a_decimals, a_price, l_mult, l_market.decimals, l_price)
    pct = drift_max_pct(config, book, account_id, slot, shortage)
    # u128 saturating_mul, then the floored division
    allowed = min(to_cover * pct, drift_liq.U128_MAX) // drift_liq.LIQUIDATION_PCT_PRECISION
    if allowed == 0:   # "max_liability_allowed_to_be_transferred == 0": nothing moves
        return DriftSpotLiqPlan(0, 0, shortage, to_cover, 0, if_rate, pct)
    # no dust: a liability worth $10 or less goes whole
    liab_value = drift_rules.token_value(liab_amount, l_market.decimals, l_price)
    minimum = 0 if liab_value > 10 * drift_rules.QUOTE_PRECISION else liab_amount
    transfer = min(liab_amount, max(allowed, minimum), implied)
    if max_liability_transfer is not None:
        transfer = min(transfer, max_liability_transfer)
    asset_transfer = min(asset_amount, drift_liq.asset_transfer_for_liability_transfer(
        asset_amount, a_mult, a_decimals, a_price, transfer, l_mult,
        l_market.decimals, l_price))
    return DriftSpotLiqPlan(transfer, asset_transfer, shortage, to_cover,
                            transfer * if_rate // one, if_rate, pct)


@dataclass(frozen=True)
class DriftPerpLiqPlan:
    """What ``liquidate_perp`` would move now: the base taken over (1e9, unsigned), its
    value at the oracle price, the liquidator's and the insurance fund's fees (quote 1e6),
    the margin shortage and the base that covers it (``U64_MAX``: closing cannot), and the
    insurance fund's fee rate (``LIQUIDATION_FEE_PRECISION``); the liquidator's fee rate
    at the slot (``get_liquidation_fee``) and the share of ``to_cover`` this liquidation may
    move (``max_pct``, ``LIQUIDATION_PCT_PRECISION``)."""

    base_transfer: int
    quote_transfer: int
    liquidator_fee: int
    if_fee: int
    margin_shortage: int
    to_cover: int
    if_fee_rate: int
    liquidator_fee_rate: int = 0
    max_pct: int = drift_liq.LIQUIDATION_PCT_PRECISION


def drift_step_floor(amount: int, step: int) -> int:
    """``standardize_base_asset_amount``: down to a multiple of ``step``."""
    return amount - amount % step


def drift_step_ceil(amount: int, step: int) -> int:
    """``standardize_base_asset_amount_ceil``: up to a multiple of ``step``."""
    return -(-amount // step) * step


def drift_perp_liq_plan(config: ProtocolConfig, book: DriftBook, prices: Mapping[str, int],
                        account_id: str, market: str, calc: drift_rules.MarginCalculation,
                        max_base: int | None = None, *, slot: int) -> DriftPerpLiqPlan:
    """``liquidate_perp``'s transfer for ``account_id`` (below maintenance: ``calc``, the
    liquidation context's calculation with the margin buffer; holding base in ``market``):
    the base covering the margin shortage against the maintenance ratio plus the buffer,
    net of the liquidator's and the insurance fund's fees, rounded up to the step size; of
    that, the share ``calculate_max_pct_to_liquidate`` allows at ``slot`` (nothing moves
    when it rounds to 0; the whole position when it is worth $50 or less), at most the
    position and
    ``max_base`` (floored to the step size by the caller), and its value and fees at the
    oracle price. The liquidator's fee is ``get_liquidation_fee`` at ``slot``: the
    market's ``liquidator_fee``, rising after 1,500 slots in liquidation toward
    ``get_max_liquidation_fee``. The engine's handler and the simulator's keepers both size
    a perp liquidation here (``controller/liquidation.rs`` ``liquidate_perp``)."""
    cfg = config.drift
    assert cfg is not None  # a Drift book exists only with [drift]
    perp_cfg = cfg.perps[market]
    step = perp_cfg.order_step_size
    base, quote = book.account(account_id).perps[market]
    price = drift_price(prices, market)
    quote_price = drift_rules.PRICE_PRECISION  # perp PnL counts in the quote at 1 (config)
    user_base = abs(base)
    margin = drift_perp_market(config, market)
    ratio_with_buffer = margin.margin_ratio(user_base, drift_rules.MarginRequirementType.
                                            MAINTENANCE) + cfg.margin_buffer()
    shortage = calc.margin_shortage
    status = drift_liquidation_of(book, account_id, slot)
    liquidator_fee = drift_liq.liquidation_fee(
        perp_cfg.scaled("liquidator_fee"), drift_liq.max_perp_liquidation_fee(
            perp_cfg.scaled("liquidator_fee"), perp_cfg.scaled("margin_ratio_maintenance")),
        status.start_slot, slot)
    # tracked_market_margin_shortage: the shortage's share of this market's requirement
    tracked = drift_rules.perp_margin(
        drift_rules.PerpBalance(margin, base, quote, price),
        drift_rules.MarginRequirementType.MAINTENANCE)[0]
    tracked_shortage = (shortage * tracked // calc.margin_requirement
                        if calc.margin_requirement else 0)
    if_rate = drift_liq.perp_if_fee(tracked_shortage, user_base, ratio_with_buffer,
                                    liquidator_fee, price, quote_price,
                                    perp_cfg.scaled("if_liquidation_fee"))
    to_cover = drift_liq.base_asset_amount_to_cover_margin_shortage(
        shortage, ratio_with_buffer, liquidator_fee, if_rate, price, quote_price)
    if to_cover != drift_liq.U64_MAX:
        to_cover = drift_step_ceil(to_cover, step)
    pct = drift_max_pct(config, book, account_id, slot, shortage)
    allowed = to_cover * pct // drift_liq.LIQUIDATION_PCT_PRECISION  # fits u128: no saturation
    if allowed == 0:   # "max_base_asset_amount_allowed_to_be_transferred == 0"
        return DriftPerpLiqPlan(0, 0, 0, 0, shortage, to_cover, if_rate, liquidator_fee, pct)
    # the whole position when it is worth $50 or less
    position_value = user_base * price // drift_rules.AMM_RESERVE_PRECISION
    floor = 0 if position_value > 50 * drift_rules.QUOTE_PRECISION else user_base
    cap = drift_liq.U64_MAX if max_base is None else max_base
    amount = drift_step_ceil(min(user_base, cap, max(allowed, floor)), step)
    value = amount * price // drift_rules.AMM_RESERVE_PRECISION
    one = drift_liq.LIQUIDATION_FEE_PRECISION
    return DriftPerpLiqPlan(amount, value, value * liquidator_fee // one, value * if_rate // one,
                            shortage, to_cover, if_rate, liquidator_fee, pct)


@dataclass(frozen=True)
class DriftPerpPnlLiqPlan:
    """What ``liquidate_perp_pnl_for_deposit`` would move now: the negative quote taken
    over (1e6), the deposit paid for it (the asset's token units), the margin shortage
    (with the buffer) and the quote transfer that covers it."""

    pnl_transfer: int
    asset_transfer: int
    margin_shortage: int
    to_cover: int
    #: The share of ``to_cover`` this liquidation may move (``LIQUIDATION_PCT_PRECISION``).
    max_pct: int = drift_liq.LIQUIDATION_PCT_PRECISION


def drift_perp_pnl_liq_plan(config: ProtocolConfig, book: DriftBook, prices: Mapping[str, int],
                            account_id: str, market: str, asset: str,
                            calc: drift_rules.MarginCalculation,
                            max_pnl_transfer: int | None = None, *,
                            slot: int) -> DriftPerpPnlLiqPlan:
    """``liquidate_perp_pnl_for_deposit``'s transfers for ``account_id`` (below
    maintenance: ``calc``, the liquidation context's calculation with the buffer; no base
    and a negative quote in ``market``; a deposit of ``asset``): the quote covering the
    margin shortage as a liability of weight 1 plus the buffer against the asset's
    maintenance weight at the multipliers ``1 + asset fee`` and ``1 - perp fee``, of that
    the share ``calculate_max_pct_to_liquidate`` allows at ``slot`` (nothing moves when it
    rounds to 0), at least
    the whole quote when it is $10 or less, at most the quote, what the deposit implies and
    ``max_pnl_transfer``; the deposit for it (``controller/liquidation.rs``)."""
    cfg = config.drift
    assert cfg is not None  # a Drift book exists only with [drift]
    held = book.account(account_id)
    asset_amount = held.spot.get(asset, 0)
    unsettled = -held.perps[market][1]
    a_market = drift_spot_market(config, asset)
    a_price, quote_price = drift_price(prices, asset), drift_price(prices, cfg.quote)
    one = drift_liq.LIQUIDATION_FEE_PRECISION
    a_mult = one + cfg.spot[asset].scaled("liquidator_fee")
    pnl_mult = one - cfg.perps[market].scaled("liquidator_fee")
    quote_decimals = 6            # perp PnL is in QUOTE_PRECISION
    shortage = calc.margin_shortage
    # the asset's configured maintenance weight (no size discount), as Drift reads it
    to_cover = drift_liq.liability_transfer_to_cover_margin_shortage(
        shortage, cfg.spot[asset].scaled("maintenance_asset_weight"), a_mult,
        drift_liq.SPOT_WEIGHT_PRECISION + cfg.margin_buffer(), pnl_mult, quote_decimals,
        quote_price, 0)
    implied = drift_liq.liability_transfer_implied_by_asset_amount(
        asset_amount, a_mult, a_market.decimals, a_price, pnl_mult, quote_decimals,
        quote_price)
    pct = drift_max_pct(config, book, account_id, slot, shortage)
    # u128 saturating_mul, then the floored division
    allowed = min(to_cover * pct, drift_liq.U128_MAX) // drift_liq.LIQUIDATION_PCT_PRECISION
    if allowed == 0:   # "max_pnl_allowed_to_be_transferred == 0": nothing moves
        return DriftPerpPnlLiqPlan(0, 0, shortage, to_cover, pct)
    # no dust: a quote of $10 or less goes whole
    minimum = 0 if unsettled > 10 * drift_rules.QUOTE_PRECISION else unsettled
    cap = drift_liq.U128_MAX if max_pnl_transfer is None else max_pnl_transfer
    transfer = min(cap, unsettled, max(allowed, minimum), implied)
    asset_transfer = min(asset_amount, drift_liq.asset_transfer_for_liability_transfer(
        asset_amount, a_mult, a_market.decimals, a_price, transfer, pnl_mult,
        quote_decimals, quote_price)) if transfer > 0 else 0
    return DriftPerpPnlLiqPlan(transfer, asset_transfer, shortage, to_cover, pct)


def drift_is_bankrupt(book: DriftBook, account_id: str) -> bool:
    """``is_cross_margin_bankrupt`` of ``account_id``: a liability and nothing else."""
    held = book.account(account_id)
    return drift_liq.is_cross_margin_bankrupt(list(held.spot.values()),
                                              list(held.perps.values()))


@dataclass(frozen=True)
class DriftPerpBankruptcyPlan:
    """What ``resolve_perp_bankruptcy`` would do now (quote 1e6): the loss cleared (the
    position's negative quote, as a positive number), paid by the insurance fund, then the
    fee pool, the rest socialized through the cumulative funding rates
    (``funding_rate_delta``, ``FUNDING_RATE_PRECISION``: added to the longs', taken from
    the shorts'); ``payments`` each open position's funding payment (signed, received)."""

    loss: int
    if_payment: int
    fee_pool_payment: int
    loss_to_socialize: int
    funding_rate_delta: int
    payments: Mapping[str, int]

    @property
    def socialized_charged(self) -> int:
        """What the positions pay in all (the rounding of the rate and of each payment
        makes it differ from ``loss_to_socialize`` by a few units)."""
        return -sum(self.payments.values())


def drift_perp_bankruptcy_plan(config: ProtocolConfig, book: DriftBook, account_id: str,
                               market: str) -> DriftPerpBankruptcyPlan | None:
    """``resolve_perp_bankruptcy`` for ``account_id``'s position in ``market`` (bankrupt,
    its quote negative): the insurance fund pays at most its vault less 1 and the market's
    remaining claim, the fee pool the rest it can, then every open position of the market
    pays its share of what remains per base, rounded up, as a funding payment.
    ``None``: no position is open in the market (``CantResolvePerpBankruptcy``)."""
    cfg = config.drift
    assert cfg is not None  # a Drift book exists only with [drift]
    loss = -book.account(account_id).perps[market][1]
    cap = cfg.perps[market].quote_max_insurance
    claim = (drift_liq.U64_MAX if cap is None
             else int(cap * drift_rules.QUOTE_PRECISION)
             - book.settled_insurance.get(market, 0))
    if_payment = drift_liq.perp_bankruptcy_if_payment(loss, book.insurance_fund,
                                                      max(claim, 0))
    remaining = loss - if_payment
    fee_pool_payment = min(remaining, max(book.fee_pools.get(market, 0), 0))
    to_socialize = remaining - fee_pool_payment
    positions = {a: x.perps[market][0] for a, x in sorted(book.accounts.items())
                 if x.perps.get(market, (0, 0))[0]}
    total_base = sum(abs(b) for b in positions.values())
    if total_base == 0:
        return None
    delta = drift_liq.funding_rate_delta_to_resolve_bankruptcy(to_socialize, total_base)
    payments: dict[str, int] = {}
    if to_socialize > 0:
        for account, base in positions.items():
            # the longs' cumulative rate rises by delta, the shorts' falls by it
            paid = drift_liq.funding_payment(delta if base > 0 else -delta, base)
            if paid:
                payments[account] = paid
    return DriftPerpBankruptcyPlan(loss, if_payment, fee_pool_payment, to_socialize,
                                   delta if to_socialize > 0 else 0, payments)


@dataclass(frozen=True)
class DriftSpotBankruptcyPlan:
    """What ``resolve_spot_bankruptcy`` would do now (the market's token units): the
    borrow cleared, the insurance fund's payment, the rest socialized by lowering the
    market's cumulative deposit interest by ``interest_delta`` (to ``interest_after``,
    ``SPOT_CUMULATIVE_INTEREST_PRECISION``); ``haircuts`` what each deposit loses
    (positive), ``quote_social_loss`` the borrow's value at the oracle (quote 1e6,
    ``total_quote_social_loss``)."""

    borrow: int
    if_payment: int
    loss_to_socialize: int
    interest_delta: int
    interest_after: int
    haircuts: Mapping[str, int]
    quote_social_loss: int
    #: What the configured outside deposits (``drift.spot.NAME.deposits``) lose: they
    #: count in the market's deposits, their loss leaves the engine's books.
    outside_charged: int = 0

    @property
    def socialized_charged(self) -> int:
        """What the deposits lose in all: at least ``loss_to_socialize`` (the delta and
        each deposit round against the depositors; the excess stays in the vault), 0
        when the market has no deposits (the loss then stays uncovered, as in Drift); the
        engine's accounts' part of it when outside deposits share it
        (``outside_charged``)."""
        return sum(self.haircuts.values())


def drift_spot_insurance(config: ProtocolConfig, book: DriftBook, market: str) -> int:
    """``market``'s insurance fund vault (token units): the quote's is the exchange's."""
    cfg = config.drift
    assert cfg is not None  # a Drift book exists only with [drift]
    return book.insurance_fund if market == cfg.quote else book.spot_insurance.get(market, 0)


def drift_spot_bankruptcy_plan(config: ProtocolConfig, book: DriftBook,
                               prices: Mapping[str, int], account_id: str,
                               market: str) -> DriftSpotBankruptcyPlan:
    """``resolve_spot_bankruptcy`` for ``account_id``'s borrow of ``market`` (bankrupt,
    the balance negative): the insurance fund pays at most its vault less 1, the rest is
    taken from the market's deposits by lowering the cumulative deposit interest
    (``calculate_cumulative_deposit_interest_delta_to_resolve_bankruptcy``); each deposit
    is then worth ``amount x (interest - delta) / interest``, rounded down.

    Raises
    ------
    ValueError
        The loss is more than the deposits hold (Drift's ``MathError``).
    """
    borrow = -book.account(account_id).spot[market]
    if_payment = drift_liq.spot_bankruptcy_if_payment(
        borrow, drift_spot_insurance(config, book, market))
    loss = borrow - if_payment
    deposits = {a: x.spot[market] for a, x in sorted(book.accounts.items())
                if x.spot.get(market, 0) > 0}
    cfg = config.drift
    assert cfg is not None  # a Drift book exists only with [drift]
    decimals = config.markets[market].decimals
    # the market's deposit_balance counts the outside deposits too, at the interest now
    interest = book.deposit_interest.get(market, drift_liq.SPOT_CUMULATIVE_INTEREST_PRECISION)
    outside_start = int(cfg.spot[market].deposits * 10**decimals)
    outside = drift_liq.deposit_after_interest_delta(
        outside_start, drift_liq.SPOT_CUMULATIVE_INTEREST_PRECISION, drift_liq.
        SPOT_CUMULATIVE_INTEREST_PRECISION - interest)
    delta = drift_liq.cumulative_deposit_interest_delta_to_resolve_bankruptcy(
        loss, interest, sum(deposits.values()) + outside)
    haircuts: dict[str, int] = {}
    for account, amount in deposits.items():
        cut = amount - drift_liq.deposit_after_interest_delta(amount, interest, delta)
        if cut:
            haircuts[account] = cut
    outside_cut = outside - drift_liq.deposit_after_interest_delta(outside, interest, delta)
    # get_token_value(-borrow, decimals, price): signed, truncated toward zero
    quote_loss = borrow * drift_price(prices, market) // 10**decimals
    return DriftSpotBankruptcyPlan(borrow, if_payment, loss, delta, interest - delta,
                                   haircuts, quote_loss, outside_cut)


# ---------------------------------------------------------------------- Mango v4
def mango_fx_price(config: ProtocolConfig, asset: str, price: int) -> int:
    """Mango's I80F48 price (native quote per native ``asset``) of an engine price."""
    cfg = config.mango
    assert cfg is not None
    shift = config.markets[cfg.quote].decimals - config.markets[asset].decimals
    scale: int = 10 ** abs(shift)
    num, den = price * mango_rules.ONE, int(10**PRICE_DECIMALS)
    num, den = (num * scale, den) if shift >= 0 else (num, den * scale)
    return (2 * num + den) // (2 * den)


def mango_weight(value: object) -> int:
    """A configured weight as Mango holds it: I80F48 from the float (``from_num``)."""
    return mango_rules.fx_from_f64(float(str(value)))


def mango_maint_weights(token: MangoTokenConfig, now: int) -> tuple[int, int]:
    """The bank's maint asset and liability weights at the clock ``now`` (seconds), raw
    I80F48: ``Bank::maint_weights(now_ts)`` over the configured shift
    (:func:`~marginengine.margin.mango.maint_weights`; the targets held as the weights
    are, :func:`mango_weight`)."""
    asset, liab = mango_weight(token.maint_asset_weight), mango_weight(token.maint_liab_weight)
    if not token.maint_weight_shift:
        return asset, liab
    assert token.maint_weight_shift_asset_target is not None
    assert token.maint_weight_shift_liab_target is not None
    return mango_rules.maint_weights(
        asset, liab, token.maint_weight_shift_start, token.maint_weight_shift_end,
        mango_weight(token.maint_weight_shift_asset_target),
        mango_weight(token.maint_weight_shift_liab_target), now)


def _scale_start(config: ProtocolConfig, value: object | None) -> float:
    # Mango holds the limits as f64 in native quote units.
    if value is None:
        return mango_rules.NO_SCALING
    cfg = config.mango
    assert cfg is not None
    return float(int(Decimal(str(value)) * 10 ** config.markets[cfg.quote].decimals))


def mango_outside_deposits(config: ProtocolConfig, book: MangoBook, token: str) -> int:
    """The native deposits of the bank's accounts outside the engine: configured, less
    their share of the losses socialized."""
    cfg = config.mango
    assert cfg is not None
    unit = 10 ** config.markets[token].decimals
    return int(cfg.tokens[token].deposits * unit) - book.outside_loss.get(token, 0)


def mango_bank_totals(config: ProtocolConfig, book: MangoBook, token: str) -> tuple[int, int]:
    """The bank's native deposits and borrows: those of accounts outside the engine
    (configured, deposits less their socialized losses) plus the engine's accounts'."""
    cfg = config.mango
    assert cfg is not None
    t, unit = cfg.tokens[token], 10 ** config.markets[token].decimals
    deposits, borrows = mango_outside_deposits(config, book, token), int(t.borrows * unit)
    for account in book.accounts.values():
        balance = account.tokens.get(token, 0)
        deposits, borrows = deposits + max(balance, 0), borrows + max(-balance, 0)
    return deposits, borrows


def mango_prices(config: ProtocolConfig, book: MangoBook, prices: Mapping[str, int],
                 stable: Mapping[str, int], asset: str) -> mango_rules.Prices:
    """``asset``'s oracle and stable price (I80F48)."""
    if asset not in prices:
        raise FieldError("prices", f"no price has been set for {asset}")
    oracle = prices[asset]
    return mango_rules.Prices(mango_fx_price(config, asset, oracle),
                              mango_fx_price(config, asset,
                                             book.stable.get(asset, stable.get(asset, oracle))))


def mango_infos(config: ProtocolConfig, book: MangoBook, prices: Mapping[str, int],
                stable: Mapping[str, int], account_id: str, *, now: int
                ) -> tuple[list[mango_rules.TokenInfo], list[mango_rules.PerpInfo]]:
    """The account's ``TokenInfo`` (its tokens and the settle tokens of its perps) and
    ``PerpInfo``, as Mango's health cache builds them at the clock ``now`` (seconds: the
    maint weights of a bank with a maint weight shift, ``Bank::maint_weights(now_ts)``)."""
    cfg = config.mango
    assert cfg is not None
    account = book.account(account_id)
    held = {t for t, b in account.tokens.items() if b}
    held |= {cfg.perps[m].settle for m in account.perps}
    tokens, index = [], {}
    for i, name in enumerate(cfg.tokens):
        if name not in held:
            continue
        t = cfg.tokens[name]
        p = mango_prices(config, book, prices, stable, name)
        deposits, borrows = mango_bank_totals(config, book, name)
        index[name] = i
        maint_asset, maint_liab = mango_maint_weights(t, now)
        tokens.append(mango_rules.TokenInfo(
            token_index=i, prices=p,
            maint_asset_weight=maint_asset,
            init_asset_weight=mango_weight(t.init_asset_weight),
            # Bank::scaled_init_*_weight both at the init *liability* price, max(oracle,
            # stable): "pessimistic, the most unfavorable scaling" (new_health_cache in
            # health/cache.rs; the asset weight was scaled at the asset price here).
            init_scaled_asset_weight=mango_rules.scaled_init_asset_weight(
                mango_weight(t.init_asset_weight),
                _scale_start(config, t.deposit_weight_scale_start_quote),
                mango_rules.fx(deposits), 0, p.liab(mango_rules.HealthType.INIT)),
            maint_liab_weight=maint_liab,
            init_liab_weight=mango_weight(t.init_liab_weight),
            init_scaled_liab_weight=mango_rules.scaled_init_liab_weight(
                mango_weight(t.init_liab_weight),
                _scale_start(config, t.borrow_weight_scale_start_quote),
                mango_rules.fx(borrows), p.liab(mango_rules.HealthType.INIT)),
            balance_spot=mango_rules.fx(account.tokens.get(name, 0))))
    perps = []
    for name, pos in sorted(account.perps.items()):
        m = cfg.perps[name]
        perps.append(mango_rules.PerpInfo(
            settle_token_index=index[m.settle],
            init_base_asset_weight=mango_weight(m.init_base_asset_weight),
            init_base_liab_weight=mango_weight(m.init_base_liab_weight),
            maint_base_asset_weight=mango_weight(m.maint_base_asset_weight),
            maint_base_liab_weight=mango_weight(m.maint_base_liab_weight),
            init_overall_asset_weight=mango_weight(m.init_overall_asset_weight),
            maint_overall_asset_weight=mango_weight(m.maint_overall_asset_weight),
            base_lot_size=m.base_lot_size, base_lots=pos.base_lots, bids_base_lots=pos.bids,
            asks_base_lots=pos.asks,
            quote=mango_rules.perp_health_quote(mango_rules.fx(pos.quote),
                                                mango_unsettled_funding(book, name, pos)),
            base_prices=mango_prices(config, book, prices, stable, name)))
    return tokens, perps


def mango_unsettled_funding(book: MangoBook, market: str, pos: MangoPerpPosition) -> int:
    """``PerpPosition::unsettled_funding`` of ``pos`` on ``market`` (raw I80F48)."""
    f = book.funding_of(market)
    return mango_rules.unsettled_funding(pos.base_lots, f.long_funding, f.short_funding,
                                         pos.long_settled_funding, pos.short_settled_funding)


def mango_settle_funding(book: MangoBook, market: str,
                         pos: MangoPerpPosition) -> tuple[MangoPerpPosition, int]:
    """``PerpPosition::settle_funding``: the unsettled funding moved into the quote, and
    the market's funding recorded as settled. The engine's quote is whole native units:
    it becomes the floor of ``quote - funding`` (a position is never credited a fraction
    it is not owed); the oneshot allowance moves by the whole units moved (Mango's moves
    by the exact funding). Returns the position and the remainder the floor left (raw,
    non-negative: the market's :attr:`MangoBook.funding_dust`)."""
    f = book.funding_of(market)
    exact = mango_rules.fx(pos.quote) - mango_unsettled_funding(book, market, pos)
    quote = exact >> mango_rules.FRAC_BITS
    moved = quote - pos.quote
    limit = mango_perp.record_oneshot(pos.limit, mango_rules.fx(moved)) if moved else pos.limit
    return replace(pos, quote=quote, long_settled_funding=f.long_funding,
                   short_settled_funding=f.short_funding, limit=limit), \
        exact - mango_rules.fx(quote)


def mango_with_funding_dust(book: MangoBook, market: str, dust: int) -> MangoBook:
    """``book`` with ``dust`` (raw) added to ``market``'s funding remainders."""
    if not dust:
        return book
    return replace(book, funding_dust={**book.funding_dust,
                                       market: book.funding_dust.get(market, 0) + dust})


def mango_settle_params(config: ProtocolConfig, book: MangoBook, prices: Mapping[str, int],
                        stable: Mapping[str, int], market: str
                        ) -> mango_perp.SettleLimitParams:
    """``market``'s settle-limit parameters at its stable price now."""
    cfg = config.mango
    assert cfg is not None
    m = cfg.perps[market]
    return mango_perp.SettleLimitParams(
        mango_perp.f32(float(m.settle_pnl_limit_factor)), m.settle_pnl_limit_window_size_ts,
        mango_prices(config, book, prices, stable, market).stable, m.base_lot_size)


def mango_funding_params(config: ProtocolConfig, market: str) -> mango_perp.FundingParams:
    """``market``'s funding parameters (the ``f32`` bounds as Mango holds them)."""
    cfg = config.mango
    assert cfg is not None
    m = cfg.perps[market]
    return mango_perp.FundingParams(
        mango_rules.fx_from_f64(mango_perp.f32(float(m.min_funding))),
        mango_rules.fx_from_f64(mango_perp.f32(float(m.max_funding))),
        m.impact_quantity, m.base_lot_size, m.quote_lot_size)


def mango_health(config: ProtocolConfig, book: MangoBook, prices: Mapping[str, int],
                 stable: Mapping[str, int], account_id: str,
                 kind: mango_rules.HealthType, *, now: int) -> int:
    """The account's Mango health of ``kind`` (raw I80F48, native quote)."""
    tokens, perps = mango_infos(config, book, prices, stable, account_id, now=now)
    return mango_rules.health(tokens, perps, kind)


@dataclass(frozen=True)
class MangoLiqPlan:
    """What ``token_liq_with_token`` would move now, in whole native units (the engine's
    balances): the liability paid (the rule's I80F48 amount rounded down) and the asset
    recomputed from it, both rounded down.

    Attributes
    ----------
    liab_transfer, asset_from_liqee, asset_to_liqor, asset_fee
        Native units (the fee is the asset bank's).
    rule
        The rule's amounts (raw I80F48).
    """

    liab_transfer: int
    asset_from_liqee: int
    asset_to_liqor: int
    asset_fee: int
    rule: mango_liq.TokenLiq


def mango_bank_liq(config: ProtocolConfig, prices: Mapping[str, int],
                   token: str) -> mango_liq.BankLiq:
    """The bank's side of a liquidation: oracle price, unscaled init weights, fees."""
    cfg = config.mango
    assert cfg is not None
    t = cfg.tokens[token]
    if token not in prices:
        raise FieldError("prices", f"no price has been set for {token}")
    return mango_liq.BankLiq(mango_fx_price(config, token, prices[token]),
                             mango_weight(t.init_asset_weight), mango_weight(t.init_liab_weight),
                             mango_weight(t.liquidation_fee),
                             mango_weight(t.platform_liquidation_fee))


def mango_liq_plan(config: ProtocolConfig, book: MangoBook, prices: Mapping[str, int],
                   stable: Mapping[str, int], account_id: str, asset: str, liab: str,
                   max_liab_transfer: int | None = None, *, now: int
                   ) -> MangoLiqPlan | Refusal:
    """``liquidation_action`` of ``token_liq_with_token`` on ``account_id`` (assumed
    liquidatable) at these prices: the plan, or the rule's ``RequireGtViolated``."""
    cfg = config.mango
    assert cfg is not None
    account = book.account(account_id)
    liq_end = mango_health(config, book, prices, stable, account_id,
                           mango_rules.HealthType.LIQUIDATION_END, now=now)
    tokens, perps = mango_infos(config, book, prices, stable, account_id, now=now)
    balances = mango_rules.effective_token_balances(tokens, perps,
                                                    mango_rules.HealthType.LIQUIDATION_END)
    by_index = {t.token_index: b for t, b in zip(tokens, balances, strict=True)}
    index = list(cfg.tokens)
    a_bank, l_bank = mango_bank_liq(config, prices, asset), mango_bank_liq(config, prices, liab)
    cap = (mango_rules.I80F48_MAX if max_liab_transfer is None
           else mango_rules.fx(max_liab_transfer))
    rule = mango_liq.token_liq_with_token(
        liq_end, l_bank, mango_rules.fx(account.tokens.get(liab, 0)),
        by_index.get(index.index(liab), 0), a_bank,
        mango_rules.fx(account.tokens.get(asset, 0)), by_index.get(index.index(asset), 0), cap)
    if isinstance(rule, Refusal):
        return rule
    liab_paid = rule.liab_transfer >> mango_rules.FRAC_BITS
    from_raw, to_raw = mango_liq.asset_transfers(mango_rules.fx(liab_paid), l_bank, a_bank)
    from_liqee, to_liqor = from_raw >> mango_rules.FRAC_BITS, to_raw >> mango_rules.FRAC_BITS
    return MangoLiqPlan(liab_paid, from_liqee, to_liqor, from_liqee - to_liqor, rule)


#: The holder key of the bank's depositors outside the engine in
#: :attr:`MangoBankruptcyPlan.shares` (no account id is empty).
MANGO_OUTSIDE = ""


@dataclass(frozen=True)
class MangoBankruptcyPlan:
    """What ``token_liq_bankruptcy`` would move now, in whole native units.

    Attributes
    ----------
    insurance_transfer
        Quote (the insurance token) out of the fund: to the liquidator, or straight into
        the liqee's borrow when the liability is the quote.
    liab_transfer
        Liability tokens into the liqee's position (the rule's amount rounded down; the
        liquidator pays them, or the fund when the liability is the quote).
    liab_after_insurance
        The liqee's liability position after the insurance part.
    socialized
        The loss socialized once the fund is exhausted: credited to the liqee, taken from
        the bank's depositors (at most their deposits).
    shares
        Each depositor's part of it (:data:`MANGO_OUTSIDE`: those outside the engine).
    deposit_index
        The bank's deposit index after (raw I80F48).
    rule
        The rule's amounts (raw I80F48).
    """

    insurance_transfer: int
    liab_transfer: int
    liab_after_insurance: int
    socialized: int
    shares: Mapping[str, int]
    deposit_index: int
    rule: mango_liq.BankruptcyInsurance


def mango_insurance_vault(config: ProtocolConfig, book: MangoBook) -> int:
    """The group's insurance fund left (native quote): configured less paid out."""
    cfg = config.mango
    assert cfg is not None
    fund = int(cfg.insurance_fund * 10 ** config.markets[cfg.quote].decimals)
    return fund - book.insurance_paid


def _can_take_an_asset(config: ProtocolConfig, book: MangoBook, prices: Mapping[str, int],
                       stable: Mapping[str, int], account_id: str, *, now: int) -> bool:
    # Whether some token_liq_with_token would pay in at least one whole native unit of a
    # borrow for an asset (liab_possible, what the asset buys: not the health bound).
    held = book.account(account_id).tokens
    for asset in sorted(t for t, b in held.items() if b > 0):
        for liab in sorted(t for t, b in held.items() if b < 0):
            plan = mango_liq_plan(config, book, prices, stable, account_id, asset, liab,
                                  now=now)
            if not isinstance(plan, Refusal) and plan.rule.liab_possible >= mango_rules.ONE:
                return True
    return False


def mango_phase2_refusal(config: ProtocolConfig, book: MangoBook, prices: Mapping[str, int],
                         stable: Mapping[str, int], account_id: str, *, now: int
                         ) -> Refusal | None:
    """``require_after_phase2_liquidation`` on ``account_id``
    (:func:`~marginengine.liquidation.mango.after_phase2_refusal`), except that an asset
    counts as liquidatable only if it buys at least one whole native unit of a borrow:
    Mango holds fractions of native units, so its token_liq_with_token takes an asset to
    zero; the engine's whole units leave the liqee a remainder worth less than one native
    unit of the liability, which Mango's one-native test would keep liquidatable forever
    (a deviation, docs/presets.md)."""
    tokens, perps = mango_infos(config, book, prices, stable, account_id, now=now)
    refusal = mango_liq.after_phase2_refusal(tokens, perps)
    if (refusal is not None and refusal.code is Code.MANGO_HAS_LIQUIDATABLE_TOKEN_POSITION
            and not _can_take_an_asset(config, book, prices, stable, account_id, now=now)):
        return mango_liq.after_phase2_refusal(tokens, perps, assets_liquidatable=False)
    return refusal


def mango_is_bankrupt(config: ProtocolConfig, book: MangoBook, prices: Mapping[str, int],
                      stable: Mapping[str, int], account_id: str, *, now: int) -> bool:
    """``account_id`` is past phase 2 of Mango's liquidation (:func:`mango_phase2_refusal`)
    with a token borrow left (``has_liq_spot_borrows``)."""
    if mango_phase2_refusal(config, book, prices, stable, account_id, now=now) is not None:
        return False
    tokens, perps = mango_infos(config, book, prices, stable, account_id, now=now)
    return mango_liq.has_liq_spot_borrows(tokens, perps)


def mango_bankruptcy_plan(config: ProtocolConfig, book: MangoBook, prices: Mapping[str, int],
                          stable: Mapping[str, int], liquidator: str, account_id: str,
                          liab: str, max_liab_transfer: int | None = None, *, now: int
                          ) -> MangoBankruptcyPlan | Refusal:
    """``token_liq_bankruptcy`` of ``account_id``'s ``liab`` borrow (past phase 2: the
    caller checks :func:`~marginengine.liquidation.mango.after_phase2_refusal`): the plan,
    or the rule's ``RequireGtViolated``."""
    cfg = config.mango
    assert cfg is not None
    account = book.account(account_id)
    tokens, perps = mango_infos(config, book, prices, stable, account_id, now=now)
    balances = mango_rules.effective_token_balances(tokens, perps,
                                                    mango_rules.HealthType.LIQUIDATION_END)
    index = list(cfg.tokens).index(liab)
    health_balance = next((b for t, b in zip(tokens, balances, strict=True)
                           if t.token_index == index), 0)
    liab_native = account.tokens.get(liab, 0)
    bank = mango_bank_liq(config, prices, liab)
    is_quote = liab == cfg.quote
    vault = mango_insurance_vault(config, book) if cfg.tokens[liab].group_insurance_fund else 0
    cap = (mango_rules.I80F48_MAX if max_liab_transfer is None
           else mango_rules.fx(max_liab_transfer))
    rule = mango_liq.bankruptcy_insurance(
        mango_rules.fx(liab_native), health_balance, bank.oracle_price, bank.liquidation_fee,
        None if is_quote else mango_bank_liq(config, prices, cfg.quote).oracle_price, cap,
        vault)
    if isinstance(rule, Refusal):
        return rule
    paid = rule.insurance_transfer if is_quote else (
        rule.liab_transfer >> mango_rules.FRAC_BITS if rule.insurance_transfer else 0)
    # What the fund pays must buy at least one whole native unit of the liability: else
    # (a vault left below the price of one unit) the liquidator would get insurance tokens
    # for nothing, call after call; the fund keeps that remainder.
    insurance = rule.insurance_transfer if paid else 0
    after = liab_native + paid
    holders = {a: x.tokens.get(liab, 0) for a, x in book.accounts.items()}
    if not is_quote and paid:
        holders[liquidator] = holders.get(liquidator, 0) - paid
    holders = {a: b for a, b in holders.items() if b > 0 and a != account_id}
    outside = mango_outside_deposits(config, book, liab)
    if outside > 0:
        holders[MANGO_OUTSIDE] = outside
    total = sum(holders.values())
    # Mango socializes only once the fund is exhausted; at most the deposits (deviation:
    # the index would go negative, so the rest stays the liqee's borrow, explicit).
    socialized = min(max(0, -after), total) if rule.insurance_fund_exhausted else 0
    shares = mango_liq.socialize_loss(socialized, holders)
    new_index = book.index_of(liab)
    if socialized:
        indexed_total = mango_liq.fx_div(mango_rules.fx(total), new_index)
        new_index = mango_liq.socialized_deposit_index(new_index, indexed_total,
                                                       mango_rules.fx(socialized))
    return MangoBankruptcyPlan(insurance, paid, after, socialized, shares, new_index, rule)


@dataclass(frozen=True)
class MangoPerpLiqPlan:
    """What ``perp_liq_base_or_positive_pnl`` would move now, in the engine's units: base
    lots, and perp quote and settle tokens in whole native units (each side's quote change
    rounded down, so the platform fee, their difference, is at least the rule's; the pnl
    taken over rounded down and its token price recomputed from it, rounded down).

    Attributes
    ----------
    base_transfer
        Lots into the liqee's position (the liquidator takes the opposite).
    quote_liqee, quote_liqor
        The perp quote each side records for the base.
    platform_fee
        ``-(quote_liqee + quote_liqor)``: the market's.
    pnl_transfer, token_transfer
        Positive pnl the liquidator takes over and the settle tokens it pays for it.
    rule
        The rule's amounts (raw I80F48).
    """

    base_transfer: int
    quote_liqee: int
    quote_liqor: int
    platform_fee: int
    pnl_transfer: int
    token_transfer: int
    rule: mango_liq.PerpBaseLiq


def mango_perp_liq_plan(config: ProtocolConfig, book: MangoBook, prices: Mapping[str, int],
                        stable: Mapping[str, int], account_id: str, market: str,
                        max_base_transfer: int, max_pnl_transfer: int, *, now: int
                        ) -> MangoPerpLiqPlan | Refusal:
    """``liquidation_action`` of ``perp_liq_base_or_positive_pnl`` on ``account_id``
    (assumed liquidatable, holding a position on ``market``) at these prices."""
    cfg = config.mango
    assert cfg is not None
    m = cfg.perps[market]
    tokens, perps = mango_infos(config, book, prices, stable, account_id, now=now)
    liq_end = mango_rules.HealthType.LIQUIDATION_END
    balances = mango_rules.effective_token_balances(tokens, perps, liq_end)
    settle_index = list(cfg.tokens).index(m.settle)
    at = next(i for i, t in enumerate(tokens) if t.token_index == settle_index)
    perp = perps[sorted(book.account(account_id).perps).index(market)]
    rules_market = mango_liq.PerpLiqMarket(
        m.base_lot_size, mango_weight(m.init_base_asset_weight),
        mango_weight(m.init_base_liab_weight), mango_weight(m.init_overall_asset_weight),
        mango_weight(m.base_liquidation_fee), mango_weight(m.platform_liquidation_fee),
        mango_weight(m.positive_pnl_liquidation_fee))
    rule = mango_liq.perp_liq_base_or_positive_pnl(
        rules_market, tokens[at], balances[at], mango_rules.health(tokens, perps, liq_end),
        perp, max_base_transfer, max_pnl_transfer)
    if isinstance(rule, Refusal):
        return rule
    frac = mango_rules.FRAC_BITS
    quote_liqee, quote_liqor = rule.quote_transfer_liqee >> frac, rule.quote_transfer_liqor >> frac
    pnl = rule.pnl_transfer >> frac
    gain = mango_rules.ONE - rules_market.positive_pnl_liquidation_fee
    token = mango_rules.fx_mul(mango_rules.fx(pnl), gain) >> frac if pnl > 0 else 0
    return MangoPerpLiqPlan(rule.base_transfer, quote_liqee, quote_liqor,
                            -(quote_liqee + quote_liqor), pnl, token, rule)


@dataclass(frozen=True)
class MangoPerpBankruptcyPlan:
    """What ``perp_liq_negative_pnl_or_bankruptcy`` would move now, in whole native units
    (the settlement, the insurance pnl and the fund's tokens rounded down, the socialized
    loss rounded up to close what the rule wipes, at most the liqee's negative quote).

    Attributes
    ----------
    settlement
        Negative pnl the liquidator takes over for the liqee's settle tokens.
    insurance_transfer, insurance_liab_transfer
        Quote from the fund to the liquidator, and the negative pnl it takes over for it.
    socialized
        Negative pnl wiped from the liqee and spread over the market's open interest.
    shares
        Each position's part of it (by ``|base lots|``; empty on no open interest).
    rule
        The rule's amounts (raw I80F48).
    """

    settlement: int
    insurance_transfer: int
    insurance_liab_transfer: int
    socialized: int
    shares: Mapping[str, int]
    rule: mango_liq.PerpNegativePnlLiq


def mango_liqee_settle_limit(config: ProtocolConfig, book: MangoBook,
                             prices: Mapping[str, int], stable: Mapping[str, int],
                             account_id: str, market: str, *, now: int) -> int | None:
    """How much negative pnl ``account_id`` may still settle on ``market`` this window
    (native units, ``-min`` of ``available_settle_limit`` after ``update_settle_limit``
    and with its funding settled), or ``None`` when the market has no settle limit."""
    cfg = config.mango
    assert cfg is not None
    if cfg.perps[market].settle_pnl_limit_factor < 0:
        return None
    pos = book.account(account_id).perps[market]
    params = mango_settle_params(config, book, prices, stable, market)
    limit = mango_perp.update_settle_limit(pos.limit, params.window_size, now)
    quote = mango_rules.fx(pos.quote) - mango_unsettled_funding(book, market, pos)
    low, _ = mango_perp.available_settle_limit(limit, params, quote, pos.base_lots)
    return -low


def mango_perp_bankruptcy_plan(config: ProtocolConfig, book: MangoBook,
                               prices: Mapping[str, int], stable: Mapping[str, int],
                               account_id: str, market: str, max_liab_transfer: int,
                               *, now: int) -> MangoPerpBankruptcyPlan | Refusal:
    """``liquidation_action`` of ``perp_liq_negative_pnl_or_bankruptcy`` on
    ``account_id`` (assumed liquidatable and past phase 2, holding a position on
    ``market``): the settlement is bounded by the liqee's available settle limit in the
    current window (:func:`mango_liqee_settle_limit`)."""
    cfg = config.mango
    assert cfg is not None
    m = cfg.perps[market]
    tokens, perps = mango_infos(config, book, prices, stable, account_id, now=now)
    at = sorted(book.account(account_id).perps).index(market)
    vault = mango_insurance_vault(config, book) if m.group_insurance_fund else 0
    rule = mango_liq.perp_liq_negative_pnl_or_bankruptcy(
        tokens, perps, at, mango_bank_liq(config, prices, m.settle).oracle_price,
        mango_bank_liq(config, prices, cfg.quote).oracle_price,
        mango_weight(m.base_liquidation_fee), max_liab_transfer, vault,
        mango_liqee_settle_limit(config, book, prices, stable, account_id, market, now=now))
    if isinstance(rule, Refusal):
        return rule
    frac = mango_rules.FRAC_BITS
    settlement = rule.settlement >> frac
    insurance_liab = rule.insurance_liab_transfer >> frac if rule.insurance_transfer else 0
    quote = book.account(account_id).perps[market].quote + settlement + insurance_liab
    socialized = 0
    if rule.socialized_loss > 0:
        socialized = max(0, min(mango_liq.fx_ceil(rule.liab_from_liqee) - insurance_liab,
                                -quote))
    holders = {a: abs(x.perps[market].base_lots) for a, x in book.accounts.items()
               if market in x.perps and x.perps[market].base_lots and a != account_id}
    # Mango's socialize_loss: the loss per contract of open interest, both sides.
    shares = mango_liq.split_in_proportion(socialized, holders)
    return MangoPerpBankruptcyPlan(settlement, rule.insurance_transfer, insurance_liab,
                                   socialized, shares, rule)


def mango_family_margin(config: ProtocolConfig, book: MangoBook, prices: Mapping[str, int],
                        stable: Mapping[str, int], account_id: str, *, now: int
                        ) -> FamilyMargin | None:
    """The account's margin by Mango's health (``None`` if it has no Mango account)."""
    if account_id not in book.accounts:
        return None
    cfg = config.mango
    assert cfg is not None
    tokens, perps = mango_infos(config, book, prices, stable, account_id, now=now)
    return mango_rules.family_margin(tokens, perps, config.markets[cfg.quote].decimals,
                                     PRICE_DECIMALS)


def euler_price(config: ProtocolConfig, prices: Mapping[str, int], asset: str) -> int:
    """Euler's price of one base unit of ``asset`` (unit of account x 1e18)."""
    if asset not in prices:
        raise FieldError("prices", f"no price has been set for {asset}")
    # amount x p / 1e18 = amount x price x 1e10 / 10^decimals: exact for at most 28 decimals.
    unit: int = 10 ** config.markets[asset].decimals
    return prices[asset] * EULER_UNIT_SCALE * 10**18 // unit


def euler_collaterals(config: ProtocolConfig, book: EulerBook, prices: Mapping[str, int],
                      account_id: str) -> list[euler_rules.CollateralBalance]:
    """The account's collaterals (every one it deposited, emptied or not: Euler's enabled
    collaterals), priced, with their LTV configs."""
    held = book.account(account_id).collateral
    return [euler_rules.CollateralBalance(name, held[name], euler_price(config, prices, name),
                                          book.ltvs[name])
            for name in sorted(held)]


def euler_family_margin(config: ProtocolConfig, book: EulerBook, prices: Mapping[str, int],
                        now: int, account_id: str) -> FamilyMargin | None:
    """The account's margin by Euler's rules (``None`` if it has no Euler account)."""
    if account_id not in book.accounts:
        return None
    cfg = config.euler
    assert cfg is not None
    debt = book.account(account_id).debt
    debt_price = euler_price(config, prices, cfg.vault) if debt else 0
    return euler_rules.family_margin(euler_collaterals(config, book, prices, account_id),
                                     debt, debt_price, now, EULER_UNIT_SCALE)


__all__ = [
    "EULER_UNIT_DECIMALS",
    "EULER_UNIT_SCALE",
    "MANGO_OUTSIDE",
    "DriftAccount",
    "DriftBook",
    "DriftLiquidation",
    "DriftPerpBankruptcyPlan",
    "DriftPerpLiqPlan",
    "DriftPerpPnlLiqPlan",
    "DriftSpotBankruptcyPlan",
    "DriftSpotLiqPlan",
    "EulerAccount",
    "EulerBook",
    "FamilyBook",
    "MangoAccount",
    "MangoBankruptcyPlan",
    "MangoBook",
    "MangoPerpBankruptcyPlan",
    "MangoPerpLiqPlan",
    "MangoPerpPosition",
    "drift_after_liquidation",
    "drift_balances",
    "drift_family_margin",
    "drift_is_bankrupt",
    "drift_liquidation_of",
    "drift_margin",
    "drift_max_pct",
    "drift_perp_bankruptcy_plan",
    "drift_perp_liq_plan",
    "drift_perp_market",
    "drift_perp_pnl_liq_plan",
    "drift_price",
    "drift_slot",
    "drift_spot_bankruptcy_plan",
    "drift_spot_insurance",
    "drift_spot_liq_plan",
    "drift_spot_market",
    "drift_step_ceil",
    "drift_step_floor",
    "euler_collaterals",
    "euler_family_margin",
    "euler_price",
    "family_margin_of",
    "mango_bank_totals",
    "mango_bankruptcy_plan",
    "mango_family_margin",
    "mango_fx_price",
    "mango_health",
    "mango_infos",
    "mango_insurance_vault",
    "mango_is_bankrupt",
    "mango_maint_weights",
    "mango_outside_deposits",
    "mango_perp_bankruptcy_plan",
    "mango_perp_liq_plan",
    "mango_phase2_refusal",
    "new_family_book",
]
