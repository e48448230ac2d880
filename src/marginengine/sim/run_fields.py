"""The per-run figures of a simulation's rows, named once: what Monte Carlo streams to
``runs.parquet`` and estimates, what a sweep's rows carry, what the Python API's ``.runs``
holds. A module of its own (no imports) so that the sweep, the optimizer and the API can
read the names without importing the process pool.
"""

from __future__ import annotations

#: Per-run fields streamed to runs.parquet (and used for the statistics).
RUN_FIELDS = ("run", "seed", "bad_debt", "liquidated_value", "liquidation_count",
              "liquidator_profit", "borrower_loss", "auctions_started",
              "auctions_settled_near_zero", "insurance_fund_drawdown", "adl_volume",
              "min_price", "final_price", "borrowing_power", "borrowed_value",
              "borrow_usage", "demand_served", "opened_above_borrowing_power",
              "opened_below_health_1")

#: Per-run fields whose mean is reported as ``mean_<field>``.
MEAN_FIELDS = ("bad_debt", "liquidated_value", "liquidation_count", "liquidator_profit",
               "borrower_loss", "auctions_started", "auctions_settled_near_zero",
               "insurance_fund_drawdown", "adl_volume", "borrowing_power", "borrowed_value",
               "borrow_usage", "demand_served", "opened_above_borrowing_power",
               "opened_below_health_1")

#: Per-run fields of a scenario with ``[perps]`` (sim/perps.py): streamed and averaged
#: (``mean_<field>``) when the runs have them.
PERP_RUN_FIELDS = ("perp_liquidation_count", "perp_liquidated_value", "bankrupt_shortfall",
                   "adl_covered", "socialized_loss", "perp_deficit")

#: Per-run fields of a scenario with ``[options]`` (sim/options_metrics.py): streamed and
#: averaged (``mean_<field>``) when the runs have them.
OPTION_RUN_FIELDS = ("options_initial_margin", "options_notional", "options_leverage",
                     "options_trades_accepted", "options_bad_debt",
                     "options_security_module_used", "options_auctions_started",
                     "options_auctions_insolvent", "options_bids", "options_value_liquidated")

#: Fields streamed and averaged when the runs have them (perps', options').
EXTRA_RUN_FIELDS = (*PERP_RUN_FIELDS, *OPTION_RUN_FIELDS)

#: Per-run figures of a sweep's rows besides :data:`RUN_FIELDS` (a Monte Carlo's rows):
#: the split of the bad debt, the setup's refusals and the venue's low.
SWEEP_ONLY_FIELDS = ("bad_debt_realized", "bad_debt_underwater", "setup_rejected",
                     "min_venue_price")
