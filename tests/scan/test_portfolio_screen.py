"""The engine's portfolio accounts in the portfolio risk book (``scan.portfolio_screen``):
the float figures within their error bound of the engine's exact margin interface.

The book is ``examples/serve_options.toml`` (``mm`` long 10 WETH puts, strike 1,800,
from each of ``s1``, ``s2``, ``s3``; WETH at 2,000 USD, 60% ATM vol, 30 days).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from marginengine.engine import Engine, SetPrice
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin.base import MarginKind
from marginengine.scan.portfolio_screen import EnginePortfolioScreen, screenable
from marginengine.service.startup import read_config, start_engine

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "serve_options.toml"


def _engine(tmp_path: Path, preset: str = "derive-pm2") -> Engine:
    path = tmp_path / "options.toml"
    path.write_text(EXAMPLE.read_text().replace('portfolio_preset = "derive-pm2"',
                                                f'portfolio_preset = "{preset}"'))
    cfg = read_config(path)
    return start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source,
                        cfg.options).engine


@pytest.mark.parametrize("weth", [2_000, 1_700, 1_450, 2_600])
def test_screen_when_engine_book_then_within_bound_of_exact(tmp_path: Path,
                                                           weth: int) -> None:
    engine = _engine(tmp_path)
    engine.apply(SetPrice("WETH", weth * PRICE_UNIT))
    result = EnginePortfolioScreen(engine, ["mm", "s1", "s2", "s3"]).screen()
    assert result.accounts == ["mm", "s1", "s2", "s3"]
    valuation = engine.valuation()
    states = [engine.margin_model.margin(engine.ledger, valuation, a, MarginKind.MAINTENANCE)
              for a in result.accounts]
    value = np.array([s.value for s in states], dtype=np.float64)
    requirement = np.array([s.requirement for s in states], dtype=np.float64)
    # Base units (1e-8 USD): a few units apart at most, the bound 5,000 and more.
    assert np.all(np.abs(result.value - value) <= result.error)
    assert np.all(np.abs(result.requirement - requirement) <= result.error)
    assert np.all(np.abs(result.value - value) < 4)
    assert np.all(np.abs(result.requirement - requirement) < 4)
    assert np.all(result.error > 5_000) and np.all(result.error < 100_000)


def test_screenable_when_rule_not_the_grid_then_false(tmp_path: Path) -> None:
    # PMRM v1 and the SRM are not the book's to screen (scan.portfolio_screens picks
    # their own screens: tests/scan/test_portfolio_screens.py).
    assert screenable(_engine(tmp_path))
    for preset in ("derive-pm1", "derive-srm"):
        assert not screenable(_engine(tmp_path, preset))
