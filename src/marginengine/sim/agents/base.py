"""What every agent is (:class:`Agent`) and what a run offers it (:class:`World`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from marginengine.config import ProtocolConfig
from marginengine.engine import Engine, Event, Outcome
from marginengine.sim.cascade_config import KeeperSpec

if TYPE_CHECKING:  # pragma: no cover - types only
    from marginengine.sim.agents.screen import LendingScreen
    from marginengine.sim.markets import AssetMarket


@dataclass
class KeeperState:
    """A keeper's state during a run: its spec, capital and tallies."""

    spec: KeeperSpec
    capital: float
    seen: dict[object, int] = field(default_factory=dict)
    profit: float = 0.0
    gas_spent: float = 0.0
    actions: int = 0

    def ready(self, key: object, step: int) -> bool:
        """Seen long enough (its reaction latency) to act on ``key``; the first call for a
        key records when it was first seen."""
        first = self.seen.setdefault(key, step)
        return step - first >= self.spec.latency


class World(Protocol):
    """What a run offers its agents (the cascade runner is one)."""

    @property
    def engine(self) -> Engine:
        """The run's engine."""

    @property
    def protocol(self) -> ProtocolConfig:
        """The run's protocol."""

    @property
    def markets(self) -> Mapping[str, AssetMarket]:
        """Every simulated asset's venue and oracle."""

    @property
    def keepers(self) -> Sequence[KeeperState]:
        """Every keeper's state."""

    @property
    def ltv_log(self) -> list[dict[str, Any]]:
        """Per liquidation: the account's debt over collateral before and after."""

    def apply(self, event: Event) -> Outcome:
        """Apply an event to the engine."""

    def gas_usd(self, action: str, step: int) -> float:
        """USD of gas one ``action`` costs at ``step``."""

    def gas_wei(self, action: str, step: int) -> tuple[int, int]:
        """The gas one ``action`` uses and the gas price at ``step`` in wei per gas."""

    def trades_on_venue(self, market: AssetMarket) -> bool:
        """Whether sales of the asset trade on its venue."""

    def sell(self, amount: int, step: int, asset: str | None = None) -> float:
        """Sell ``amount`` of a simulated asset; USD received."""

    def sale_value(self, amount: int, step: int, asset: str | None = None) -> float:
        """USD selling ``amount`` now would fetch (without selling)."""

    def seized_value(self, amount: int, asset: str, step: int) -> float:
        """USD a keeper would get for seized collateral."""

    def venue_mids(self) -> dict[str, int]:
        """The mid of every venue sales trade on, per asset (8 decimals)."""

    def sale_price_cap(self, asset: str, step: int) -> int:
        """No sale of ``asset`` now fetches more than this per whole token (8 decimals)."""

    def ltv(self, account: str) -> float:
        """Debt over collateral value at the engine's prices."""

    def count_liquidation(self, account: str, step: int, value: float, loss: int) -> None:
        """Count a liquidation (or an auction start) of ``value`` USD of debt."""

    def auction_settled(self) -> None:
        """Count the borrower loss of the auction that has just settled."""

    def deal(self, auction: int, step: int) -> None:
        """Settle a finished English auction; its winner sells the lot."""

    def lending_screen(self) -> LendingScreen:
        """The step's shared screen of liquidatable accounts (built once per step)."""


class Agent(Protocol):
    """One agent: the loop calls :meth:`act` once per step (a keeper when its gas lets
    its transactions through)."""

    def act(self, world: World, step: int, unsafe: Sequence[str]) -> None:
        """Act at ``step`` on what the step's scan found (``unsafe``: accounts below the
        threshold, sorted) through engine events."""


__all__ = ["Agent", "KeeperState", "World"]
