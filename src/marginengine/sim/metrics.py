"""Figures of a simulation that are defined once and used by every runner.

Borrower loss
-------------
What a liquidated borrower loses, in base-currency units (8 decimals, USD), is the value
of the collateral taken from the account minus the value of the debt that taking retired,
both at the **oracle price at the time of the liquidation** (for an auction: at the time
it settles), floored at zero:

``borrower_loss = max(0, value(collateral taken) - value(debt retired))``

- a direct liquidation (Aave rules) takes the liquidator's collateral and the protocol's
  fee and retires the debt repaid (plus any debt written off as deficit), so the loss is
  the liquidation bonus (protocol fee included) at the oracle price;
- an auction (Maker's Dog with Clipper or Flipper) retires the vault's whole debt at
  ``Bark`` and takes the collateral sold to bidders (``lot_sold``: the lot less what went
  back to the vault), so the loss is the penalty collected (``raised - debt``, at most
  the chop) plus the discount of the sale below the oracle price
  (``value(lot_sold) - raised``).

The floor at zero: collateral worth less than the debt it retired costs the borrower
nothing more than it was already worth; the difference is the protocol's bad debt,
counted there and not here.

Values of collateral round down and values of debt round up, so the loss is never
overstated by a rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

from marginengine.fixedpoint import Rounding
from marginengine.margin import value_of


def borrower_loss(collateral_taken: int, collateral_price: int, collateral_unit: int,
                  debt_retired: int, debt_price: int, debt_unit: int) -> int:
    """The borrower's loss of one liquidation or auction, base-currency units (8 decimals).

    Parameters
    ----------
    collateral_taken
        Collateral taken from the account, its smallest units.
    collateral_price, debt_price
        Oracle prices (8 decimals) at the time of the liquidation or settlement.
    collateral_unit, debt_unit
        Smallest units per whole token.
    debt_retired
        Debt removed from the account by it, the debt asset's smallest units.

    Returns
    -------
    int
        ``max(0, value(collateral_taken) - value(debt_retired))``, the collateral valued
        rounding down and the debt rounding up.
    """
    taken = value_of(collateral_taken, collateral_price, collateral_unit, Rounding.DOWN)
    retired = value_of(debt_retired, debt_price, debt_unit, Rounding.UP)
    return max(0, taken - retired)


@dataclass(frozen=True)
class SeriesColumn:
    """One column of ``steps.parquet``: its unit and whether it is a state at the end of
    the step, a flow within the step, or a running total since step 0."""

    name: str
    unit: str
    kind: str  # "state", "per_step" or "cumulative"
    meaning: str


#: The columns of ``steps.parquet``, in order (docs/formats.md has the same table).
SERIES_COLUMNS: tuple[SeriesColumn, ...] = (
    SeriesColumn("step", "step", "state", "step index; 0 is the initial state, before any step"),
    SeriesColumn("time_s", "s", "state", "engine time at the end of the step"),
    SeriesColumn("external_price_usd", "USD", "state", "the collateral's external price"),
    SeriesColumn("venue_price_usd", "USD", "state", "the venue's mid price after the step"),
    SeriesColumn("oracle_price_usd", "USD", "state", "the price the engine holds"),
    SeriesColumn("gas_gwei", "gwei", "state", "gas price of the step"),
    SeriesColumn("liquidatable_accounts", "accounts", "state",
                 "accounts the step's scan found liquidatable (before keepers act)"),
    SeriesColumn("liquidations_step", "liquidations", "per_step",
                 "liquidations and auctions started in the step"),
    SeriesColumn("liquidations_cum", "liquidations", "cumulative",
                 "liquidations and auctions started since step 0"),
    SeriesColumn("liquidated_value_usd_step", "USD", "per_step",
                 "debt repaid by liquidations or taken into auctions in the step"),
    SeriesColumn("liquidated_value_usd_cum", "USD", "cumulative",
                 "debt repaid by liquidations or taken into auctions since step 0"),
    SeriesColumn("bad_debt_usd", "USD", "state",
                 "the headline bad debt (summary.json's bad_debt): realized + in auctions "
                 "+ underwater, at the end of the step"),
    SeriesColumn("bad_debt_realized_usd_cum", "USD", "cumulative",
                 "deficit recognised by the protocol (written off, auction shortfalls)"),
    SeriesColumn("bad_debt_in_auctions_usd", "USD", "state",
                 "debt of running auctions their lots would not cover at the external price"),
    SeriesColumn("underwater_usd", "USD", "state",
                 "debt above collateral of the accounts below the threshold"),
    SeriesColumn("borrower_loss_usd_cum", "USD", "cumulative",
                 "borrower loss (sim/metrics.py) of liquidations and settled auctions"),
    SeriesColumn("auctions_running", "auctions", "state", "auctions running after the step"),
    SeriesColumn("health_p05", "ratio", "state", "5th percentile of health, accounts with debt"),
    SeriesColumn("health_p50", "ratio", "state", "median health, accounts with debt"),
    SeriesColumn("keeper_profit_usd_cum", "USD", "cumulative",
                 "keepers' profit after gas since step 0"),
)

#: The columns a scenario with ``[perps]`` adds (sim/perps.py), after the ones above; each
#: perp market ``M`` also adds ``perp_index_usd.M`` and ``perp_mark_usd.M`` (USD, state).
#: The waterfall columns are exact in quote units before they are shown in USD:
#: ``insurance_drawdown_usd + adl_covered_usd + socialized_loss_usd + perp_deficit_usd ==
#: bankrupt_shortfall_usd`` every step.
PERP_SERIES_COLUMNS: tuple[SeriesColumn, ...] = (
    SeriesColumn("perp_liquidatable_accounts", "accounts", "state",
                 "perp buckets the step's scan found below maintenance"),
    SeriesColumn("perp_liquidations", "liquidations", "per_step",
                 "LiquidatePerp events accepted in the step"),
    SeriesColumn("perp_liquidations_cum", "liquidations", "cumulative",
                 "LiquidatePerp events accepted since step 0"),
    SeriesColumn("perp_liquidated_value_usd_step", "USD", "per_step",
                 "notional closed by perp liquidations at their fill prices"),
    SeriesColumn("insurance_fund_usd", "USD", "state",
                 "every insurance fund's balance at the end of the step"),
    SeriesColumn("bankrupt_shortfall_usd", "USD", "per_step",
                 "loss beyond the bankrupt buckets' equity at their fill prices"),
    SeriesColumn("insurance_drawdown_usd", "USD", "per_step",
                 "what the insurance funds paid toward it"),
    SeriesColumn("adl_covered_usd", "USD", "per_step",
                 "what auto-deleveraging moved onto opposite positions"),
    SeriesColumn("adl_volume_usd", "USD", "per_step",
                 "notional closed by auto-deleveraging, at bankruptcy prices"),
    SeriesColumn("socialized_loss_usd", "USD", "per_step",
                 "what was spread over the liquidated market's open positions"),
    SeriesColumn("perp_deficit_usd", "USD", "per_step",
                 "what nobody covered (the clearing's deficit)"),
    SeriesColumn("open_interest_usd", "USD", "state", "long open interest at the marks"),
    SeriesColumn("perp_keeper_profit_usd_cum", "USD", "cumulative",
                 "perp liquidators' hedge proceeds against their fills, after gas"),
)

#: Column name -> unit, for the Parquet key-value metadata.
SERIES_UNITS: dict[str, str] = {c.name: c.unit
                                for c in (*SERIES_COLUMNS, *PERP_SERIES_COLUMNS)}
