"""Perp margin: tiered requirements, mark price, and the margin of a whole bucket.

A bucket (an account) holds lending collateral and debt and perp positions. Its value is
its lending collateral at the weights of the requirement (LTV for initial, liquidation
threshold for maintenance) plus its perp equity; its requirement is its lending debt plus
the perp margin of every position. Cross margin is one bucket; isolated margin is a
sub-account holding one position (see :class:`~marginengine.ledger.Account`).

Choices where the issue leaves room:
- unrealized profit does not count toward initial margin (only losses do), so a position
  cannot be levered up on paper gains; it counts fully toward maintenance;
- unsettled funding counts in equity at once;
- the mark price is the median of the index, the last trade and the index moved by an
  average of the trade basis (Binance's shape); a market values its positions at the mark
  or, with ``margin_price = "oracle"`` (dYdX v4), at the oracle price (:func:`margin_price`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from marginengine.config.perp import PPM, PerpMarketConfig, to_ppm
from marginengine.errors import field_path
from marginengine.fixedpoint import PRICE_UNIT, Rounding, div, mul_div
from marginengine.ledger import Ledger
from marginengine.ledger.perp import funding_payment, quote_value
from marginengine.margin.base import MarginKind, MarginState, health_of
from marginengine.margin.tiers import (
    MarginTier,
    TierSchedule,
    dydx_initial_margin,
    dydx_maintenance_margin,
    oi_scaled_imf,
    size_premium_imf,
)
from marginengine.margin.weighted import AccountData, WeightedMarginModel


def schedule_of(config: PerpMarketConfig, quote_unit: int) -> TierSchedule:
    """The market's tiers in quote smallest units and ppm (exact: the configuration
    refuses a floor finer than one quote unit)."""
    amounts = config.quote_amounts(quote_unit)
    return TierSchedule(tuple(
        MarginTier(amounts[field_path("tiers", i, "notional_floor")], to_ppm(t.mmf, "mmf"),
                   to_ppm(t.imf, "imf"))
        for i, t in enumerate(config.tiers)
    ))


def mark_price(index: int, last_trade: int, basis_ema_ppm: int) -> int:
    """Median of the index, the last trade (the index if none) and the index moved by the
    average basis."""
    trade = last_trade or index
    basis = index + div(abs(basis_ema_ppm) * index, PPM, Rounding.DOWN) * (
        1 if basis_ema_ppm >= 0 else -1)
    return sorted((index, trade, max(basis, 1)))[1]


def margin_price(perp: PerpMarketConfig, index: int, last_trade: int,
                 basis_ema_ppm: int) -> int:
    """The price a market's positions are valued and margined at: its oracle price
    (``index``) where ``perp.margin_price`` is ``"oracle"`` (dYdX v4), else the mark
    (:func:`mark_price`). The engine, the risk book and the what-if all take it from here."""
    if perp.margin_price == "oracle":
        return index
    return mark_price(index, last_trade, basis_ema_ppm)


@dataclass(frozen=True)
class PositionRisk:
    """One position's figures at its margin price (``mark``: the mark, or the oracle price
    for a market with ``margin_price = "oracle"``), quote smallest units."""

    market: str
    size: int
    mark: int
    notional: int
    value: int
    unrealized: int
    funding_owed: int
    maintenance: int
    initial: int


@dataclass(frozen=True)
class BucketRisk:
    """A bucket's lending data, perp equity and perp requirements.

    ``perp_equity`` is ``perp_quote + sum(size x mark) - unsettled funding``;
    ``perp_equity_initial`` the same with unrealized profits left out (except those of
    ``margin_model = "dydx-v4"`` positions: dYdX's initial check is on net collateral,
    profit included). Quote amounts are in
    quote smallest units; :meth:`margin` converts at the quote asset's price.
    """

    lending: AccountData
    positions: tuple[PositionRisk, ...]
    perp_quote: int
    perp_equity: int
    perp_equity_initial: int
    perp_maintenance: int
    perp_initial: int
    quote_price: int
    quote_unit: int

    def usd(self, quote_amount: int, rounding: Rounding) -> int:
        """Quote smallest units to base-currency units (signed)."""
        magnitude = mul_div(abs(quote_amount), self.quote_price, self.quote_unit, rounding)
        return magnitude if quote_amount >= 0 else -magnitude

    def margin(self, kind: MarginKind) -> MarginState:
        """Value against requirement in base-currency units; health as a wad (0 if the
        value is negative)."""
        if kind is MarginKind.MAINTENANCE:
            value = self.lending.maintenance_value + self.usd(self.perp_equity, Rounding.DOWN)
            requirement = self.lending.total_debt + self.usd(self.perp_maintenance, Rounding.UP)
        else:
            value = self.lending.initial_value + self.usd(self.perp_equity_initial,
                                                          Rounding.DOWN)
            requirement = self.lending.total_debt + self.usd(self.perp_initial, Rounding.UP)
        return MarginState(kind, value, requirement, health_of(max(value, 0), requirement,
                                                               Rounding.DOWN))

    def equity_quote(self) -> int:
        """:attr:`equity` in quote smallest units (signed, toward zero)."""
        usd = self.equity
        magnitude = abs(usd) * self.quote_unit // self.quote_price
        return magnitude if usd >= 0 else -magnitude

    @property
    def equity(self) -> int:
        """Unweighted net worth in base-currency units: collateral - debt + perp equity."""
        return (self.lending.total_collateral - self.lending.total_debt
                + self.usd(self.perp_equity, Rounding.DOWN))


class PerpMarginModel:
    """Bucket margin over lending (via :class:`WeightedMarginModel`) and perp positions.

    Parameters
    ----------
    lending
        The lending margin model of the protocol.
    """

    def __init__(self, lending: WeightedMarginModel) -> None:
        self.lending = lending
        self.config = lending.config
        self.quote_asset = self.config.perp_quote_asset or ""
        # Without perp markets no account holds a perp balance (DepositQuote is refused),
        # so the quote's price and unit are never used; 1 and 1 keep the arithmetic whole.
        self.quote_unit = (self.config.markets[self.quote_asset].unit if self.quote_asset
                           else 1)
        self.schedules = {
            m: schedule_of(p, self.config.markets[p.quote].unit)
            for m, p in self.config.perps.items()
        }
        # Exact integer forms of the decimal parameters, converted once.
        self.amounts = {m: p.quote_amounts(self.config.markets[p.quote].unit)
                        for m, p in self.config.perps.items()}
        self.maintenance_fractions = {m: p.maintenance_fraction_ppm
                                      for m, p in self.config.perps.items()
                                      if p.margin_model == "dydx-v4"}
        # dYdX v4 checks initial margin on net collateral, USDC plus the positions' net
        # notional, unrealized profit included (x/subaccounts/keeper/subaccount.go
        # internalCanUpdateSubaccountsWithLeverage: margin.Risk.IsInitialCollateralized on
        # x/perpetuals/lib/lib.go GetNetCollateralAndMarginRequirements). The other models
        # leave a position's unrealized profit out of its initial margin.
        self.profit_excluded = {m for m, p in self.config.perps.items()
                                if p.margin_model != "dydx-v4"}

    def position_risk(self, ledger: Ledger, account_id: str, market: str,
                      marks: Mapping[str, int], size: int | None = None) -> PositionRisk:
        """One position's figures at ``marks``, each perp market's margin price
        (:func:`margin_price`; ``size`` overrides the ledger's)."""
        perp = self.config.perps[market]
        quote_unit = self.config.markets[perp.quote].unit
        account = ledger.accounts.get(account_id)
        pos = account.perps.get(market) if account else None
        size = pos.size if size is None and pos else (size or 0)
        mark = marks[market]
        notional = abs(quote_value(size, mark, perp.base_unit, quote_unit, Rounding.UP))
        value = quote_value(size, mark, perp.base_unit, quote_unit, Rounding.DOWN)
        unrealized = value + (pos.cost if pos else 0)
        state = ledger.clearing.markets[market]
        owed = funding_payment(size, state.funding_index, pos.funding_index,
                               perp.base_unit) if pos else 0
        schedule = self.schedules[market]
        amounts = self.amounts[market]
        base_imf = schedule.tiers[0].imf_ppm
        oi_args = (0, 0, 0)
        if perp.oi_scaling is not None:
            # dYdX's open notional is BaseToQuoteQuantums (truncated toward zero).
            oi_args = (quote_value(state.open_interest, mark, perp.base_unit, quote_unit,
                                   Rounding.DOWN),
                       amounts["oi_scaling.lower_cap"], amounts["oi_scaling.upper_cap"])
        imf = oi_scaled_imf(base_imf, *oi_args) if perp.oi_scaling is not None else 0
        if perp.size_premium_factor:
            imf = max(imf, size_premium_imf(base_imf, abs(size), perp.base_unit,
                                            perp.ppm("size_premium_factor")))
        if perp.margin_model == "dydx-v4":
            # dYdX v4 GetMarginRequirementsInQuoteQuantums (protocol/x/perpetuals/lib/
            # lib.go): notional truncated, IMR = ceil(N x max(OIMF, premium)), MMR =
            # ceil(ceil(N x base IMF) x maintenance fraction), both roundings up.
            dydx_notional = abs(quote_value(size, mark, perp.base_unit, quote_unit,
                                            Rounding.DOWN))
            maintenance = dydx_maintenance_margin(dydx_notional, base_imf,
                                                  self.maintenance_fractions[market])
            initial = dydx_initial_margin(dydx_notional, base_imf, *oi_args,
                                          custom_imf_ppm=imf)
        else:
            maintenance = schedule.maintenance_margin(notional)
            initial = max(schedule.initial_margin(notional),
                          div(notional * imf, PPM, Rounding.UP))
        return PositionRisk(market, size, mark, notional, value, unrealized, owed,
                            maintenance, initial)

    def bucket(self, ledger: Ledger, prices: Mapping[str, int], marks: Mapping[str, int],
               account_id: str, debt_prices: Mapping[str, int] | None = None) -> BucketRisk:
        """The whole bucket at ``prices`` (lending) and ``marks`` (perps: each market's
        margin price, :func:`margin_price`)."""
        lending = self.lending.account_data(ledger, prices, account_id, debt_prices)
        account = ledger.accounts.get(account_id)
        positions = tuple(
            self.position_risk(ledger, account_id, m, marks)
            for m in sorted(account.perps if account else ())
        )
        perp_quote = account.perp_quote if account else 0
        equity = perp_quote + sum(p.value - p.funding_owed for p in positions)
        equity_initial = equity - sum(max(p.unrealized, 0) for p in positions
                                      if p.market in self.profit_excluded)
        quote_price = (prices.get(self.quote_asset, PRICE_UNIT) if self.quote_asset
                       else PRICE_UNIT)
        quote_unit = self.quote_unit
        return BucketRisk(
            lending, positions, perp_quote, equity, equity_initial,
            sum(p.maintenance for p in positions), sum(p.initial for p in positions),
            quote_price, quote_unit,
        )
