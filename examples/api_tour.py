"""The simulator from Python: one run as DataFrames and why its bad debt arose, then a
sweep of the liquidation bonus on common random numbers. Run from the repository's root:

    python examples/api_tour.py [--accounts N] [--runs N]

tests/sim/test_api_tour.py runs it with a small book.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import marginengine
from marginengine.config import read_toml
from marginengine.sim.sweep import parse_grid, run_sweep

SCENARIO = Path(__file__).resolve().parent / "lst_crash.toml"


def main(accounts: int, runs: int) -> None:
    # 1. One run: the summary, the per-step series and the run's row.
    result = marginengine.simulate(SCENARIO, book__accounts=accounts,
                                   book__total_debt=accounts * 60_000)
    steps = result.steps
    print(f"bad debt {result.summary['bad_debt']:,.0f} USD, "
          f"{result.summary['liquidation_count']} liquidations")
    worst = steps.loc[steps["liquidatable_accounts"].idxmax()]
    print(f"most liquidatable accounts: {int(worst['liquidatable_accounts'])} at step "
          f"{int(worst['step'])} (ETH {worst['external_price_usd']:,.0f}, wstETH "
          f"{worst['external_price_usd.wstETH']:,.0f})")

    # Why the bad debt arose: report.html's explanation as data (docs/api.md).
    why = result.explanation
    print(f"why: {why['sentences'][0]}")
    for name, cause in why["causes"].items():
        print(f"cause {name}: {cause['accounts']} accounts, "
              f"{cause['bad_debt_usd']:,.0f} USD")
    for row in why["accounts"][:3]:
        print(f"loss {row['account']}: {row['bad_debt_usd']:,.0f} USD ({row['cause']})")

    # 2. A sweep: the bonus of both ETH markets at 5% and 8%, the same seeds at each point.
    data = read_toml(SCENARIO)
    data["book"].update({"accounts": accounts, "total_debt": accounts * 60_000})
    axes = parse_grid(["protocol.markets.WETH.liquidation_bonus+"
                       "protocol.markets.wstETH.liquidation_bonus=0.05,0.08"])
    sweep = run_sweep(data, axes, runs=runs, source=str(SCENARIO))
    for point in sweep.points:
        bonus = point["params"]["protocol.markets.WETH.liquidation_bonus"]
        print(f"bonus {bonus:.0%}: mean bad debt {point['mean_bad_debt']:,.0f} USD, "
              f"mean borrower loss {point['mean_borrower_loss']:,.0f} USD")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    main(args.accounts, args.runs)
