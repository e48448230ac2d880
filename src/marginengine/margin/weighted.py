"""Weighted collateral margin for lending: Aave v3's account data and Compound III's liquidity.

Collateral counts at its loan-to-value (initial) or liquidation threshold (maintenance);
the requirement is the debt. Values are in base-currency units (USD, 8 decimals):
``amount * price / 10**decimals``, collateral rounded down and debt rounded up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from marginengine.config import ProtocolConfig
from marginengine.config.families import HealthFormula
from marginengine.fixedpoint import BPS, Rounding, bps_mul, mul_div
from marginengine.ledger import Ledger
from marginengine.margin.base import MarginKind, MarginState, health_of
from marginengine.margin.emode import reserve_liquidation_threshold_bps, reserve_ltv_bps


def value_of(amount: int, price: int, unit: int, rounding: Rounding) -> int:
    """Value of ``amount`` smallest units at ``price`` in base-currency units."""
    return mul_div(amount, price, unit, rounding)


class AccountData(NamedTuple):
    """Aave's ``getUserAccountData``: everything in base-currency units, HF as a wad.

    An immutable named tuple rather than a frozen dataclass: account data is the hottest
    read there is (a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, about twice the cost).

    Attributes
    ----------
    total_collateral
        Collateral (enabled, with a liquidation threshold) at oracle prices.
    total_debt
        Debt at oracle prices.
    avg_ltv_bps, avg_liquidation_threshold_bps
        Collateral-weighted averages, basis points.
    available_borrows
        ``total_collateral x avg_ltv - total_debt``, floored at zero.
    health_factor
        ``total_collateral x avg_liquidation_threshold / total_debt`` (wad; from v3.5
        ``sum(collateral_i x threshold_i) / total_debt``).
    initial_value, maintenance_value
        Collateral after LTV and after liquidation-threshold weights (the maintenance
        value is the collateral the health factor is of: from v3.5 the sum over assets,
        floored, so it covers the debt exactly when the health factor is at least 1).
    """

    total_collateral: int
    total_debt: int
    avg_ltv_bps: int
    avg_liquidation_threshold_bps: int
    available_borrows: int
    health_factor: int
    initial_value: int
    maintenance_value: int

    def margin(self, kind: MarginKind) -> MarginState:
        """This account data as a :class:`MarginState` of ``kind``."""
        if kind is MarginKind.MAINTENANCE:
            return MarginState(kind, self.maintenance_value, self.total_debt, self.health_factor)
        return MarginState(
            kind, self.initial_value, self.total_debt,
            health_of(self.initial_value, self.total_debt),
        )


class WeightedMarginModel:
    """Weighted lending margin, computed the way the protocol's rule family computes it.

    Averaged thresholds (``aave-v3``) follow ``GenericLogic.calculateUserAccountData``:
    average LTV and threshold weighted by collateral value, ``HF = percentMul(collateral,
    avgLT) / debt`` (wadDiv, half up). Per-asset factors (``compound-v3``) follow Comet's
    ``isBorrowCollateralized`` and ``isLiquidatable``: each collateral's value times its
    factor, summed.
    """

    def __init__(self, config: ProtocolConfig) -> None:
        self.config = config
        rules = config.rules
        self.per_asset_weights = rules.per_asset_factors
        self.health_formula = rules.health_formula
        self.debt_rounding = rules.debt_value_rounding
        self.ltv_rounding = rules.ltv_rounding
        # The family's choices as booleans, decided once (account data is the hottest path
        # there is, and an enum member read through its class is slow on this Python).
        self._debt_up = self.debt_rounding is Rounding.UP
        self._sum_then_bps = self.health_formula is HealthFormula.WAD_DIV_SUM_THEN_BPS
        # (unit, ltv bps, liquidation threshold bps, collateral) per asset, computed once:
        # the properties parse Decimals, and account data is the hottest path there is.
        self._params = self.params_in(0)
        #: The same per e-mode category (Aave presets with ``[emode]``), by id.
        self._emode_params = {c: self.params_in(c)
                              for c in (config.emode.categories if config.emode else ())}

    def params_in(self, category_id: int) -> dict[str, tuple[int, int, int, bool]]:
        """``(unit, ltv bps, liquidation threshold bps, collateral)`` per asset for an
        account in e-mode category ``category_id`` (0: none)."""
        config = self.config
        category = config.emode_category(category_id)
        version = config.rules.emode
        return {
            a: (m.unit, reserve_ltv_bps(version, m, a, category),
                reserve_liquidation_threshold_bps(m, a, category), m.collateral)
            for a, m in config.markets.items()
        }

    def asset_ltv_bps(self, account_id: str, ledger: Ledger, asset: str) -> int:
        """The LTV at which ``asset`` counts for ``account_id`` in its e-mode category
        (Aave's ``getUserReserveLtv``)."""
        return self._params_of(ledger.emode_of(account_id))[asset][1]

    def _params_of(self, category_id: int) -> dict[str, tuple[int, int, int, bool]]:
        if category_id:
            params = self._emode_params.get(category_id)
            if params is None:  # not configured: Aave reads all zeros; never entered
                params = self._emode_params[category_id] = self.params_in(category_id)
            return params
        return self._params

    def account_data(
        self, ledger: Ledger, prices: Mapping[str, int], account_id: str,
        debt_prices: Mapping[str, int] | None = None,
    ) -> AccountData:
        """Aave-style account data for any weighted-margin preset.

        Collateral is valued at ``prices``; debt at ``debt_prices`` when given (initial
        margin with a stable price values the two sides at different prices).
        """
        debt_prices = prices if debt_prices is None else debt_prices
        debt_up = self._debt_up
        account = ledger.accounts.get(account_id)
        total_collateral = total_debt = ltv_sum = lt_sum = 0
        init_sum = maint_sum = 0
        if account is not None:
            params = self._params_of(account.emode) if account.emode else self._params
            # Every figure is a sum of exact integers: the order of the assets is immaterial
            # (no sort of the positions at every read).
            for asset, pos in account.lending.items():
                unit, ltv, lt, collateral = params[asset]
                if pos.scaled_supply and collateral and pos.use_as_collateral:
                    amount = ledger.supply_of(account_id, asset)
                    val = amount * prices[asset] // unit
                    total_collateral += val
                    ltv_sum += val * ltv
                    lt_sum += val * lt
                    init_sum += val * ltv // BPS
                    maint_sum += val * lt // BPS
                if pos.scaled_debt:
                    amount = ledger.debt_of(account_id, asset)
                    # v3.5+ mulDivCeil; v3.3 floors (rayMul(...) * price / unit).
                    total_debt += (-(-amount * debt_prices[asset] // unit) if debt_up
                                   else amount * debt_prices[asset] // unit)
        avg_ltv = ltv_sum // total_collateral if total_collateral else 0
        avg_lt = lt_sum // total_collateral if total_collateral else 0
        if self.per_asset_weights:
            initial_value, maintenance_value = init_sum, maint_sum
            hf = health_of(maintenance_value, total_debt, Rounding.DOWN)
        else:
            initial_value = bps_mul(total_collateral, avg_ltv, self.ltv_rounding)
            if self._sum_then_bps:
                # v3.5+: wadDiv(sum(C_i x LT_i), debt) / 1e4 (GenericLogic.sol). The
                # collateral after thresholds is that same sum (floored: never more than
                # the protocol counts), not C x the floored average: with several
                # collateral assets the average loses up to 1 bps of C, so the figure could
                # fall below the debt of an account whose HF is at least 1.
                maintenance_value = lt_sum // BPS
                hf = (health_of(lt_sum, total_debt) // BPS if total_debt
                      else health_of(0, 0))
            else:
                maintenance_value = bps_mul(total_collateral, avg_lt)
                # v3.3: percentMul(collateral, avgLT).wadDiv(debt), both half up.
                hf = health_of(maintenance_value, total_debt)
        available = max(0, initial_value - total_debt)
        return AccountData(
            total_collateral, total_debt, avg_ltv, avg_lt, available, hf,
            initial_value, maintenance_value,
        )

    def margin(
        self, ledger: Ledger, prices: Mapping[str, int], account_id: str, kind: MarginKind
    ) -> MarginState:
        """The account's :class:`MarginState` of ``kind``."""
        return self.account_data(ledger, prices, account_id).margin(kind)

    def is_liquidatable(self, ledger: Ledger, prices: Mapping[str, int], account_id: str) -> bool:
        """Aave: HF below 1. Compound III: liquidity (weighted collateral minus debt) < 0."""
        return self.liquidatable(self.account_data(ledger, prices, account_id))

    def liquidatable(self, data: AccountData) -> bool:
        """:meth:`is_liquidatable` of an account whose :meth:`account_data` at the
        valuation's prices is ``data`` (a caller holding that read need not redo it)."""
        if data.total_debt == 0:
            return False
        if self.per_asset_weights:
            return data.maintenance_value < data.total_debt
        return not data.margin(MarginKind.MAINTENANCE).is_met
