"""The one small interface every margin model implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from marginengine.fixedpoint import WAD, Rounding, wad_div
from marginengine.ledger import Ledger

#: Health reported for an account without debt (Aave returns ``type(uint256).max``).
NO_DEBT_HEALTH = 2**256 - 1


class MarginKind(Enum):
    """Which requirement: initial (to add risk) or maintenance (to avoid liquidation)."""

    INITIAL = "initial"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True)
class MarginState:
    """An account's risk-weighted value against its requirement, in base-currency units.

    Attributes
    ----------
    value
        Collateral value after the weights of ``kind`` (LTV or liquidation threshold).
    requirement
        What that value must cover (the debt value, for lending).
    health
        ``value / requirement`` as a wad, computed as the model's protocol does;
        :data:`NO_DEBT_HEALTH` when there is no requirement.
    """

    kind: MarginKind
    value: int
    requirement: int
    health: int

    @property
    def excess(self) -> int:
        """``value - requirement``; negative when the requirement is not met."""
        return self.value - self.requirement

    @property
    def is_met(self) -> bool:
        """Whether the requirement is met (health at least 1)."""
        return self.health >= WAD


@dataclass(frozen=True)
class MarginRisk:
    """An account's net collateral and both requirements in one unit, as dYdX v4's
    ``margin.Risk`` (protocol/lib/margin/risk.go) holds them: what
    :func:`~marginengine.margin.validation.dydx_undercollateralized_transition` compares.

    Attributes
    ----------
    nc
        Net collateral (signed).
    imr, mmr
        Initial and maintenance requirements.
    """

    nc: int
    imr: int
    mmr: int


@dataclass(frozen=True)
class FamilyMargin:
    """The margin of an account of a family with rules of its own (Euler, Mango, Drift),
    as its protocol decides it: both requirements and the protocol's liquidation test.

    Attributes
    ----------
    initial, maintenance
        The two :class:`MarginState`; their ``health`` is the protocol's own figure.
    liquidatable
        The protocol's own test (Euler: adjusted collateral at most the liability; Mango:
        maint health below zero; Drift: total collateral below the maintenance
        requirement), which need not be ``health < 1``.
    """

    initial: MarginState
    maintenance: MarginState
    liquidatable: bool

    def of(self, kind: MarginKind) -> MarginState:
        """The :class:`MarginState` of ``kind``."""
        return self.initial if kind is MarginKind.INITIAL else self.maintenance


def health_of(value: int, requirement: int, rounding: Rounding = Rounding.HALF_UP) -> int:
    """``value / requirement`` as a wad, or :data:`NO_DEBT_HEALTH` without requirement."""
    if requirement == 0:
        return NO_DEBT_HEALTH
    return wad_div(value, requirement, rounding)


class MarginModel(Protocol):
    """Values an account and states its requirement, initial or maintenance."""

    def margin(
        self, ledger: Ledger, prices: Mapping[str, int], account_id: str, kind: MarginKind
    ) -> MarginState:
        """Return the account's :class:`MarginState` for ``kind``."""
        ...


__all__ = ["NO_DEBT_HEALTH", "FamilyMargin", "MarginKind", "MarginModel", "MarginRisk",
           "MarginState", "health_of"]
