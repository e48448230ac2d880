"""The service's options face beyond test_options.py: the ``--replay`` file's vol
columns, snapshot option books seeding the log, and the heatmap of portfolio accounts.

The options book is ``examples/serve_options.toml`` (WETH at 2,000 USD, one 30-day
expiry at 60% ATM vol, skew -0.1; ``mm`` buys 10 puts of strike 1,800 from each of
``s1``, ``s2`` and ``s3``), as in test_options.py.
"""

from __future__ import annotations

from pathlib import Path
import pytest

from marginengine.engine import SetPrice, SetVolSurface
from marginengine.errors import ConfigError
from marginengine.fixedpoint import WAD
from marginengine.service import Service
from marginengine.service.requests import read_replay_file
from marginengine.service.startup import read_config, start_engine
from tests.service.test_cli_serve import run

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = ROOT / "examples" / "serve_options.toml"
LENDING = ROOT / "examples" / "serve.toml"
EXPIRY = 30 * 86_400


def _service(config: Path, log: str | None = None) -> Service:
    cfg = read_config(config)
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, log, cfg.source, cfg.options)
    return Service(started.engine, cfg.settings())


# ---------------------------------------------------------------------- --replay vols
def test_replay_file_when_vol_column_then_vol_ticks_keep_the_skew(tmp_path: Path) -> None:
    path = tmp_path / "path.csv"
    # Tick 1: price only; tick 2: vol only (150%); tick 3: both.
    path.write_text("WETH,vol.WETH\n1900,\n,1.5\n1700,0.9\n")
    service = _service(OPTIONS)
    state = service.engine.state
    ticks = read_replay_file(path, service.config).ticks(state.vols, state.svi)
    assert ticks == [
        [SetPrice("WETH", 1_900 * 10**8)],
        [SetVolSurface("WETH", EXPIRY, 1_500_000, -100_000)],
        [SetPrice("WETH", 1_700 * 10**8), SetVolSurface("WETH", EXPIRY, 900_000, -100_000)],
    ]
    # Played as the service plays them (each tick one request, as POST /ticks): at
    # 1,900 USD and 150% ATM vol s3 is liquidatable and s2 below 1.10 (level 2 of the
    # thresholds 1.25, 1.10, 1), each by the engine's exact health.
    assert service.apply(ticks[0]).alert["crossed_count"] == 0
    alert = service.apply(ticks[1]).alert
    assert alert["liquidatable"]["new"] == ["s3"]
    assert {c["account"]: c["to_level"] for c in alert["crossed"]} == {"s3": 3, "s2": 2}
    health = service.engine.health_factor
    assert health("s3") < WAD <= health("s2") < 11 * WAD // 10 <= health("s1")
    assert service.engine.state.vols[("WETH", EXPIRY)] == (1_500_000, -100_000)


@pytest.mark.parametrize(("config", "csv", "problem"), [
    (OPTIONS, "WETH,vol.WETH\n1900,0\n", "line 2, column vol.WETH: must be in 0.01..10 (got 0)"),
    (OPTIONS, "WETH,vol.WETH\n1900,abc\n", "line 2, column vol.WETH: must be a number (got 'abc')"),
    (OPTIONS, "vol.WETH\n11\n", "line 2, column vol.WETH: must be in 0.01..10 (got 11)"),
    (OPTIONS, "vol.DOGE\n0.5\n", "line 1, column vol.DOGE: unknown asset 'DOGE'"),
    (LENDING, "WETH,vol.WETH\n2900,0.8\n",
     "line 1, column vol.WETH: the protocol has no options (add [protocol.options]"),
    (OPTIONS, "advance_seconds,WETH\nx,1\n",
     "line 2, column advance_seconds: must be a positive integer (got 'x')"),
])
def test_replay_file_when_bad_vol_then_file_line_and_column_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], config: Path, csv: str,
        problem: str) -> None:
    path = tmp_path / "path.csv"
    path.write_text(csv)
    with pytest.raises(ConfigError) as caught:
        read_replay_file(path, read_config(config).protocol)
    assert str(caught.value).startswith(f"{path}: {problem}")
    # At the CLI: one line, exit 2, no log written.
    log = tmp_path / "events.sqlite"
    code, _, err = run(["serve", str(config), "--replay", str(path), "--log",
                        f"sqlite:{log}"], capsys)
    assert code == 2 and problem in err and len(err.strip().splitlines()) == 1
    assert not log.exists()


def test_replay_file_when_underlying_has_no_surface_then_refused_before_the_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # USDC is a priced market of the options protocol, but no expiry of it has a
    # surface at startup: known only from the started state, refused before any write.
    path = tmp_path / "path.csv"
    path.write_text("WETH,vol.USDC\n1900,0.5\n")
    log = tmp_path / "events.sqlite"
    code, _, err = run(["serve", str(OPTIONS), "--replay", str(path), "--log",
                        f"sqlite:{log}"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert (f"{path}: line 1, column vol.USDC: no vol surface on USDC when the service "
            "starts") in err
    assert not log.exists()


def test_replay_file_when_no_vol_column_then_as_before(tmp_path: Path) -> None:
    path = tmp_path / "path.csv"
    path.write_text("advance_seconds,WETH\n60,2900\n")
    ticks = read_replay_file(path, read_config(LENDING).protocol).ticks({})
    assert [e.name for e in ticks[0]] == ["AdvanceTime", "SetPrice"]
