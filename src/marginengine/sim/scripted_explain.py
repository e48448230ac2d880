"""Why a scripted run's bad debt arose: :mod:`marginengine.sim.explain` for a scenario
with explicit prices and actions.

There is one explanation. :class:`ScriptedWorld` presents a scripted run
(:class:`~marginengine.sim.scripted.ScenarioRunner` driven by the pipeline) as
:func:`marginengine.sim.explain.explain` reads a cascade runner, with what a scripted run
is:

- one keeper, the scenario's ``[liquidator]`` (none when ``enabled = false``): it acts
  every step without latency, gas, capital limit or minimum profit (a keeper spec with
  ``flash_loan = true`` and the defaults otherwise), so ``end_reason`` asks its ladder with
  no gas;
- no venue: seized collateral is valued at the oracle price, as the scripted keeper's
  records value it, and no sale is capped below it;
- no gas (every step 0 gwei) and no auctions of the lending kind; a portfolio auction's
  bidders (``[options]``) are tallied from the engine's outcomes like keepers;
- the series the pipeline records after each step (``steps.parquet``'s columns);
- the accounts liquidatable at the end read exactly from the engine (the book is small);
  the risk book and the keepers' shared screen are built only when a close-factor
  account is still liquidatable at the end (``end_reason``).

The pipeline attaches the :class:`~marginengine.sim.explain.RunObserver` before set-up
and reports each step's liquidatable accounts to it (before the keeper acts, as a
cascade's scan does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from marginengine.fixedpoint import PRICE_UNIT
from marginengine.sim.agents import KeeperState, LendingScreen
from marginengine.sim.cascade_config import KeeperSpec
from marginengine.sim.explain import RunObserver
from marginengine.sim.markets import AssetMarket

if TYPE_CHECKING:
    from marginengine.engine import Engine
    from marginengine.sim.scripted import ScenarioRunner


class _Liquidatable:
    """The accounts liquidatable now, exactly (what a scan's below set is to a cascade)."""

    def __init__(self, runner: ScenarioRunner) -> None:
        self._runner = runner

    def below_accounts(self) -> list[str]:
        engine, keeper = self._runner.engine, self._runner.keeper.id
        return [a for a in sorted(engine.ledger.accounts)
                if a != keeper and engine.is_liquidatable(a)]


class ScriptedWorld:
    """A scripted run as :func:`marginengine.sim.explain.explain` reads a runner.

    Parameters
    ----------
    runner
        The scripted run (its engine, keeper and records).
    series
        The per-step series the pipeline records (step 0 on; filled as the run goes).

    Attach the observer before the run; call :meth:`finish` after it, before
    :func:`~marginengine.sim.explain.explain`.
    """

    def __init__(self, runner: ScenarioRunner, series: dict[str, list[float]]) -> None:
        self.runner = runner
        self.engine: Engine = runner.engine
        self.series = series
        self.gas = np.zeros(0)
        self.observer: RunObserver | None = None
        self.book = _Liquidatable(runner)
        self._bad_debt = (0.0, 0.0)
        self._screen: LendingScreen | None = None
        self._keepers: list[KeeperState] = []

    def finish(self, realized_usd: float, underwater_usd: float) -> None:
        """The run is over: its bad debt as the summary has it (realized, underwater;
        USD), gas per step (none) and the keeper's tallies from its records."""
        self._bad_debt = (realized_usd, underwater_usd)
        self.gas = np.zeros(len(self.series["step"]))
        spec = self.runner.keeper
        self._keepers = []
        if spec.enabled:
            # The scripted keeper's own terms: any size the rules allow, no gas, no
            # capital limit, no minimum profit.
            state = KeeperState(KeeperSpec(id=spec.id, flash_loan=True), capital=0.0)
            result = self.runner.result
            state.profit = sum(r.liquidator_value - r.debt_value for r in result.liquidations
                               if r.kind == "liquidation") / PRICE_UNIT
            state.actions = len(result.liquidations) + len(result.perp_liquidations)
            self._keepers.append(state)

    @property
    def keepers(self) -> Sequence[KeeperState]:
        """The scenario's ``[liquidator]``, unless disabled."""
        return self._keepers

    @property
    def markets(self) -> Mapping[str, AssetMarket]:
        """No simulated venue: sales fill at the explicit price."""
        return {}

    def bad_debt_parts(self) -> tuple[float, float, float]:
        """``(realized, in auctions, underwater)`` USD: the summary's, no auctions."""
        return self._bad_debt[0], 0.0, self._bad_debt[1]

    def lending_screen(self) -> LendingScreen:
        """The keepers' shared screen over a risk book of the end state (built once, on
        the first call: only an account still liquidatable at the end asks)."""
        if self._screen is None:
            from marginengine.scan import RiskBook

            book = RiskBook.from_engine(self.engine, subscribe=False)
            book.full_scan()
            self._screen = LendingScreen(self.engine, book)
            # No scan sequence: every account is confirmed by the engine's own rule.
            self._screen.begin(len(self.series["step"]) - 1, {}, None)
        return self._screen

    def trades_on_venue(self, market: AssetMarket) -> bool:
        """Never: a scripted run has no venue."""
        return False

    def seized_value(self, amount: int, asset: str, i: int) -> float:
        """USD of seized collateral at the oracle price (the scripted keeper's)."""
        return float(amount / self.engine.config.markets[asset].unit
                     * self.engine.prices[asset] / PRICE_UNIT)

    def sale_price_cap(self, asset: str, i: int) -> int:
        """The oracle price: no venue to walk down."""
        return int(self.engine.prices[asset])

    def gas_usd(self, action: str, i: int) -> float:
        """No gas in a scripted run."""
        return 0.0


__all__ = ["ScriptedWorld"]
