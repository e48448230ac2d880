"""Several protocols in one cascade: each its own engine, book, keepers and oracles, all
on the same price paths and venues, and on the same gas unless a protocol is on a chain
of its own (``[gas.chains.NAME]``, :func:`chain_rng`).

The scenario's ``[protocol]`` is the first protocol; ``[[protocols]]`` adds more
(:class:`~marginengine.sim.cascade_config.ProtocolSpec`). Every step, in order:

1. every protocol's clock advances;
2. the venues follow the step's external prices (once: they are shared);
3. each protocol in turn, in the file's order: its oracles publish (a ``venue`` oracle
   reads the shared venue *after* the protocols before it have sold on it this step),
   its risk book scans, its keepers act and sell on the shared venues.

So one protocol's liquidation sales move the prices another protocol's oracle reads: the
cross-protocol cascade. The first protocol draws the paths, the gas, its book and its
keeper order from the run's generator exactly as it would alone; a further protocol
draws its book and keeper order from a generator of its own, derived from the run's
generator's starting state and its position (:func:`protocol_rng`), so removing one
protocol changes nothing in how the others are drawn.

Figures: the summary's additive figures (bad debt and its parts, liquidations, liquidated
value, keeper profit and gas, borrower loss, accounts, events, explicit actions, the perp
figures of the protocols with a perp venue, sim/perps.py, and the borrowing power,
borrowed value and demand, whose ratios ``borrow_usage`` and ``demand_served`` are then
taken of the sums) are the sums over the protocols; ``rejected_actions`` lists every
protocol's (a further one's prefixed by its name); ``protocols`` holds every protocol's
own summary. The series' additive columns (:data:`ADDITIVE_COLUMNS`: counts, liquidated
value, bad debt and its parts, borrower loss, keeper profit, the perp waterfall) are the
sums over the protocols that have them, so the last ``bad_debt_usd`` is the summary's
``bad_debt``; the venue prices (``venue_price_usd`` and ``venue_price_usd.X``) are the last
protocol's, the shared venues after every protocol's sales of the step, and the summary's
``min_venue_price`` (also per asset) the lowest any protocol read; the others (prices,
gas, health quantiles, time) are the first protocol's.
Each protocol, the first included, adds ``liquidatable_accounts.<name>``,
``liquidations_cum.<name>``, ``bad_debt_usd.<name>`` and ``oracle_price_usd.<name>``
(the headline asset as that protocol's oracle has it), and its
:data:`PERP_PROTOCOL_COLUMNS` when it has a perp venue. A perp venue's liquidators hedge
on the shared venues too: one venue's liquidations move the mark of the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import Any, Protocol

import numpy as np

#: Summary figures that add up over protocols.
ADDITIVE = ("bad_debt", "bad_debt_realized", "bad_debt_in_auctions", "bad_debt_underwater",
            "liquidated_value", "liquidation_count", "liquidator_profit", "keeper_gas_spent",
            "borrower_loss", "setup_rejected", "toxic_liquidations", "accounts", "events",
            "opened_above_borrowing_power", "opened_below_health_1",
            "auctions_started", "auctions_settled", "auctions_settled_near_zero",
            "auctions_running",
            # perp venues (sim/perps.py): summed over the protocols that have one
            "perp_liquidation_count", "perp_liquidated_value", "bankrupt_shortfall",
            "insurance_fund_start", "insurance_fund_end", "insurance_fund_drawdown",
            "adl_covered", "adl_volume", "socialized_loss", "perp_deficit",
            "perp_keeper_profit", "perp_keeper_gas_spent", "perp_accounts",
            "perp_setup_rejected", "open_interest_end",
            # explicit [[actions]], each acting on the protocol it names
            "explicit_actions")
#: USD capacity figures that add up over protocols; ``borrow_usage`` and
#: ``demand_served`` are then the ratios of their sums.
CAPACITY = ("borrowing_power", "borrowed_value", "borrow_demand")
#: Perp series columns added for each further protocol that has them.
PERP_PROTOCOL_COLUMNS = ("perp_liquidations_cum", "insurance_fund_usd",
                         "bankrupt_shortfall_usd", "insurance_drawdown_usd",
                         "adl_covered_usd", "socialized_loss_usd", "perp_deficit_usd")
#: Series columns added for each protocol, the first included (as ``<column>.<name>``).
PROTOCOL_COLUMNS = ("liquidatable_accounts", "liquidations_cum", "bad_debt_usd",
                    "oracle_price_usd")
#: Series columns that add up over protocols: with several, the column without a suffix
#: is the sum over the protocols that have it (as the summary's additive figures are).
#: ``insurance_fund_usd`` and ``open_interest_usd`` are states, but of separate funds and
#: books, so they add up too; prices, gas and health quantiles do not.
ADDITIVE_COLUMNS = ("liquidatable_accounts", "liquidations_step", "liquidations_cum",
                    "liquidated_value_usd_step", "liquidated_value_usd_cum", "bad_debt_usd",
                    "bad_debt_realized_usd_cum", "bad_debt_in_auctions_usd",
                    "underwater_usd", "borrower_loss_usd_cum", "auctions_running",
                    "keeper_profit_usd_cum",
                    "perp_liquidatable_accounts", "perp_liquidations",
                    "perp_liquidations_cum", "perp_liquidated_value_usd_step",
                    "insurance_fund_usd", "bankrupt_shortfall_usd", "insurance_drawdown_usd",
                    "adl_covered_usd", "adl_volume_usd", "socialized_loss_usd",
                    "perp_deficit_usd", "open_interest_usd", "perp_keeper_profit_usd_cum")


class StepRunner(Protocol):
    """What :func:`run_together` needs of a runner (``sim.cascade.CascadeRunner``)."""

    series: dict[str, list[float]]
    engine: Any

    def start(self) -> None:
        """Set up and record step 0."""

    def advance(self) -> None:
        """Advance the clock by a step."""

    def move_markets(self, i: int) -> None:
        """Move the (shared) venues to step ``i``'s external prices."""

    def act(self, i: int) -> None:
        """Oracles, scan, keepers and the record of step ``i``."""

    def summary(self) -> dict[str, Any]:
        """The run's figures."""


def protocol_rng(state: Mapping[str, Any], index: int) -> np.random.Generator:
    """The generator of further protocol ``index`` (1 for the first of ``[[protocols]]``):
    seeded by the run's generator's starting ``state`` (its ``bit_generator.state``) and
    the index, so it is the same in a run and its twin, differs between Monte Carlo runs,
    and draws nothing from the run's own stream."""
    digest = hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).digest()
    words = [int.from_bytes(digest[k:k + 4], "little") for k in range(0, 32, 4)]
    return np.random.default_rng(np.random.SeedSequence([*words, index]))


def chain_rng(state: Mapping[str, Any], chain: str) -> np.random.Generator:
    """The generator of further chain ``chain``'s gas (``[gas.chains.NAME]``): seeded by
    the run's generator's starting ``state`` and the chain's name, like
    :func:`protocol_rng` (the same in a run and its twin, different between Monte Carlo
    runs, nothing drawn from the run's own stream), so adding a chain or a protocol
    changes no other chain's gas. The name, not a position: reordering the chains'
    tables changes nothing either."""
    seed = json.dumps({"state": state, "chain": chain}, sort_keys=True, default=str)
    digest = hashlib.sha256(seed.encode()).digest()
    words = [int.from_bytes(digest[k:k + 4], "little") for k in range(0, 32, 4)]
    return np.random.default_rng(np.random.SeedSequence(words))


def run_together(runners: Sequence[StepRunner], steps: int,
                 on_step: Callable[[int], None] | None = None) -> None:
    """Run the protocols' runners step by step (see the module docstring); the first
    owns the venues. Each engine commits one batch per step."""
    for runner in runners:
        runner.start()
    for i in range(1, steps + 1):
        with ExitStack() as stack:
            for runner in runners:
                stack.enter_context(runner.engine.batch())
            for runner in runners:
                runner.advance()
            for runner in runners:
                runner.move_markets(i)  # a shared venue moves once, by its owner
            for runner in runners:
                runner.act(i)
        if on_step is not None:
            on_step(i)
    for runner in runners:
        runner.engine.close()


def combined_summary(names: Sequence[str], summaries: Sequence[dict[str, Any]]
                     ) -> dict[str, Any]:
    """The first protocol's summary with the additive figures summed over every protocol,
    ``time_to_liquidate_mean_steps`` the mean over every protocol's liquidations, and
    ``protocols``: name -> its own summary."""
    out = dict(summaries[0])
    for key in ADDITIVE:
        values = [s.get(key) for s in summaries]
        if all(isinstance(v, int | float) for v in values):
            out[key] = sum(values)
        elif key.startswith(("perp_", "bankrupt_", "adl_covered", "socialized",
                             "open_interest")):
            # A perp figure some protocols have (a perp venue) and others not.
            present = [v for v in values if isinstance(v, int | float)]
            if present:
                out[key] = sum(present)
    if all(isinstance(s.get("rejected_actions"), list) for s in summaries):
        # Each protocol's refused actions, a further protocol's named by it.
        out["rejected_actions"] = [*summaries[0]["rejected_actions"], *(
            f"{name}: {r}" for name, s in zip(names[1:], summaries[1:], strict=True)
            for r in s["rejected_actions"])]
    # The mean time to liquidate over every protocol's liquidations (each counted
    # liquidation records one time): weighted by the liquidation counts. It was the first
    # protocol's alone, e.g. 0 steps for families_cascade while Liquity's and Morpho's
    # liquidations took 1.4 and 2.3 steps on average.
    timed = [(s["time_to_liquidate_mean_steps"], s["liquidation_count"]) for s in summaries
             if isinstance(s.get("time_to_liquidate_mean_steps"), int | float)
             and isinstance(s.get("liquidation_count"), int) and s["liquidation_count"] > 0]
    if timed:
        out["time_to_liquidate_mean_steps"] = (sum(m * n for m, n in timed)
                                               / sum(n for _, n in timed))
    # Capital efficiency over every protocol's book: the USD figures add up and the two
    # ratios are taken of the sums (by the single run's rules, cascade.book_capacity). They
    # were the first protocol's alone, e.g. shared_collateral's borrowed_value 30M while
    # the two books lent 35M beside a combined bad debt.
    if all(isinstance(s.get(k), int | float) for s in summaries for k in CAPACITY):
        power, borrowed, demand = (float(sum(s[k] for s in summaries)) for k in CAPACITY)
        out.update(borrowing_power=power, borrowed_value=borrowed, borrow_demand=demand,
                   borrow_usage=borrowed / power if power > 0 else 0.0,
                   demand_served=min(1.0, borrowed / demand) if demand > 0 else 1.0)
    # The venues are shared, and each protocol reads them after its own keepers' sales:
    # the first protocol's low is the pool before the later protocols sold in the step.
    # The pool's low is the lowest any protocol read (shared_collateral: 1,075.43 after
    # lender2's sales, where aave's reading, the figure before, held 1,117.86).
    lows = [s["min_venue_price"] for s in summaries
            if isinstance(s.get("min_venue_price"), int | float)]
    if lows:
        out["min_venue_price"] = min(lows)
    if isinstance(out.get("asset_prices"), dict):
        out["asset_prices"] = {asset: {**figures, "min_venue_price": min(
            s["asset_prices"][asset]["min_venue_price"] for s in summaries
            if asset in s.get("asset_prices", {}))}
            for asset, figures in out["asset_prices"].items()}
    out["protocols"] = dict(zip(names, summaries, strict=True))
    return out


def combined_series(named: Sequence[tuple[str, dict[str, list[float]]]],
                    chains: Sequence[str] = ()) -> dict[str, list[float]]:
    """The series of several protocols (``named``: each protocol's name and series, the
    first's first): the first's columns with each of :data:`ADDITIVE_COLUMNS` summed over
    the protocols that have it (one a further protocol alone has, such as a perp venue's,
    follows the first's columns), then :data:`PROTOCOL_COLUMNS` (and
    :data:`PERP_PROTOCOL_COLUMNS` where present) of each protocol, the first included,
    then ``gas_gwei.<chain>`` for each chain besides the first protocol's that a protocol
    is on (``chains``: every protocol's chain, the first's first; none: all on one
    chain)."""
    first = named[0][1]
    out = dict(first)
    for column in ADDITIVE_COLUMNS:
        parts = [series[column] for _, series in named if column in series]
        if parts:
            # Every protocol records the same steps; a float sum of floats (USD display).
            out[column] = [sum(values) for values in zip(*parts, strict=True)]
    for name, series in named:
        for column in PROTOCOL_COLUMNS:
            out[f"{column}.{name}"] = series[column]
        for column in PERP_PROTOCOL_COLUMNS:
            if column in series:
                out[f"{column}.{name}"] = series[column]
    # A venue's mid price after the step is the last protocol's reading: each protocol
    # records after its keepers' sales on the shared venues, the last after everyone's.
    last = named[-1][1]
    for column in first:
        if column == "venue_price_usd" or column.startswith("venue_price_usd."):
            out[column] = last.get(column, first[column])
    others = named[1:]
    for chain, (_, series) in zip(chains[1:], others, strict=False):
        if chain != chains[0] and f"gas_gwei.{chain}" not in out and "gas_gwei" in series:
            out[f"gas_gwei.{chain}"] = series["gas_gwei"]
    return out


def chain_summary(chains: Sequence[str], names: Sequence[str],
                  gas: Sequence[Sequence[float]]) -> dict[str, dict[str, Any]]:
    """Per chain a protocol is on (``chains``, ``names`` and ``gas``: every protocol's
    chain, name and gas per step 0..n, the first's first): its ``protocols`` and its gas
    over steps 1..n (step 0 is the set-up, before any transaction), ``gas_gwei_mean`` and
    ``gas_gwei_max``."""
    out: dict[str, dict[str, Any]] = {}
    for chain, name, values in zip(chains, names, gas, strict=True):
        entry = out.get(chain)
        if entry is None:
            paid = [float(g) for g in values[1:]] or [float(values[0])]
            entry = out[chain] = {"protocols": [], "gas_gwei_mean": sum(paid) / len(paid),
                                  "gas_gwei_max": max(paid)}
        entry["protocols"].append(name)
    return out
