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

An account holding a series whose expiry has passed with none of its series settled
(:func:`~marginengine.ledger.options.expired`, no ``OptionClearing.expiry_price``) is
always in doubt (:func:`expired_unsettled`: its error bound is infinite): the exact rule
values such a series at its settlement value, fixed under every shock
(:func:`~marginengine.margin.portfolio.portfolio_of`), while the kernels shock it as a
live option at zero time to expiry, which may lose less than the fixed value does where
it hedged a live series (a long expired call beside a short live one). The exact read is
the one rule for them; no kernel is changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Protocol

import numpy as np

from marginengine.config.derive_managers import Pmrm1MarginConfig, SrmMarginConfig
from marginengine.config.portfolio import PortfolioMarginConfig
from marginengine.engine import Engine
from marginengine.ledger.options import expired
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


def portfolio_screen(engine: Engine, accounts: Iterable[str]) -> ExpiredInDoubt:
    """The screen of the engine's portfolio rule over ``accounts``.

    Raises
    ------
    ValueError
        The engine has no options clearing (:func:`has_screen` is false).
    """
    cfg = engine.state.portfolio_config
    inner: PortfolioScreen
    if isinstance(cfg, Pmrm1MarginConfig):
        inner = EnginePmrm1Screen(engine, accounts)
    elif isinstance(cfg, SrmMarginConfig):
        inner = EngineSrmScreen(engine, accounts)
    else:
        inner = EnginePortfolioScreen(engine, accounts)
    return ExpiredInDoubt(engine, inner)


def expired_unsettled(engine: Engine, accounts: Iterable[str]) -> list[bool]:
    """Per account (in the given order), whether it holds a series whose expiry has
    passed at the engine's time with no series of that expiry settled yet: the screens'
    figures for it are not bounded against the exact rule's (see the module docstring).
    """
    clearing = engine.state.options
    now = engine.ledger.time
    if clearing is None:
        return [False for _ in accounts]
    out = []
    for a in accounts:
        book = clearing.positions.get(a, {})
        out.append(any(n and expired(s.expiry, now)
                       and clearing.expiry_price(s.underlying, s.expiry) is None
                       for s, n in book.items()))
    return out


class ExpiredInDoubt:
    """The rule's screen (``inner``), its accounts holding an expired, unsettled series
    in doubt (:func:`expired_unsettled`)."""

    def __init__(self, engine: Engine, inner: PortfolioScreen) -> None:
        self.engine = engine
        self.inner = inner
        self.accounts = inner.accounts

    def screen(self, *, prices: Mapping[str, int] | None = None,
               surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
               ) -> ScreenResult:
        """The inner screen's figures, the error infinite where :func:`expired_unsettled`
        (checked at the engine's time of this pass: an expiry passes between passes)."""
        result = self.inner.screen(prices=prices, surfaces=surfaces)
        doubt = np.array(expired_unsettled(self.engine, result.accounts), dtype=bool)
        if not doubt.any():
            return result
        return replace(result, error=np.where(doubt, np.inf, result.error))


__all__ = ["ExpiredInDoubt", "PortfolioScreen", "expired_unsettled", "has_screen",
           "portfolio_screen"]
