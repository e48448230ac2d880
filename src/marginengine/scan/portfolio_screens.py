"""The float screen of an engine's portfolio rule, one per manager, chosen by the rule's
configuration type (the preset was resolved into it once, by the config layer):

- the scenario grid (PMRM_2, ``derive-pm2`` and the other grid presets):
  :class:`~marginengine.scan.portfolio_screen.EnginePortfolioScreen`, the portfolio
  risk book in float;
- PMRM v1 (``derive-pm1``): :class:`~marginengine.scan.pmrm1_screen.EnginePmrm1Screen`;
- the SRM (``derive-srm``): :class:`~marginengine.scan.srm_screen.EngineSrmScreen`.

Each returns a :class:`~marginengine.scan.portfolio_screen.ScreenResult`: every
account's float maintenance value and requirement (base-currency units) and a bound on
their distance from the exact rule's figures, argued in its module. A screen decides
nothing: its caller (the service's :class:`~marginengine.service.core.PortfolioWatch`)
takes a decision from it only where the bound leaves no doubt, and reads the exact rule
everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from marginengine.config.derive_managers import Pmrm1MarginConfig, SrmMarginConfig
from marginengine.config.portfolio import PortfolioMarginConfig
from marginengine.engine import Engine
from marginengine.scan.pmrm1_screen import EnginePmrm1Screen
from marginengine.scan.portfolio_screen import EnginePortfolioScreen, ScreenResult
from marginengine.scan.srm_screen import EngineSrmScreen


class PortfolioScreen(Protocol):
    """What every portfolio rule's screen offers: its accounts (sorted) and one pass."""

    accounts: list[str]

    def screen(self, *, prices: Mapping[str, int] | None = None,
               surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
               ) -> ScreenResult:
        """Every account's float maintenance figures now (or at ``prices`` and
        ``surfaces``, a what-if), with their error bound."""
        ...


def has_screen(engine: Engine) -> bool:
    """Whether the engine's portfolio rule has a float screen (every manager's has; an
    engine without ``[protocol.options]`` has none)."""
    cfg = engine.state.portfolio_config
    return engine.state.options is not None and isinstance(
        cfg, PortfolioMarginConfig | Pmrm1MarginConfig | SrmMarginConfig)


def portfolio_screen(engine: Engine, accounts: Iterable[str]) -> PortfolioScreen:
    """The screen of the engine's portfolio rule over ``accounts``.

    Raises
    ------
    ValueError
        The engine has no options clearing (:func:`has_screen` is false).
    """
    cfg = engine.state.portfolio_config
    if isinstance(cfg, Pmrm1MarginConfig):
        return EnginePmrm1Screen(engine, accounts)
    if isinstance(cfg, SrmMarginConfig):
        return EngineSrmScreen(engine, accounts)
    return EnginePortfolioScreen(engine, accounts)


__all__ = ["PortfolioScreen", "has_screen", "portfolio_screen"]
