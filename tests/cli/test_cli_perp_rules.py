"""Perp parameters that the protocols cannot represent are refused at the CLI: one line
naming the field, exit 2, nothing written (issue 9 item 7)."""

from pathlib import Path

import pytest

from marginengine.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "perp_crash.toml"


@pytest.mark.parametrize(("override", "message"), [
    ("protocol.perps.ETH-PERP.funding.cap=0.01",
     "protocol.perps.ETH-PERP.funding: cap: formula dydx-v4 has none"),
    ("protocol.perps.ETH-PERP.funding.interest=0.0000125",
     "protocol.perps.ETH-PERP.funding: interest must be a whole number of ppm"),
    ("protocol.perps.ETH-PERP.partial_above=0.0000001",
     "perps.ETH-PERP.partial_above must be a whole number of quote smallest units "
     "(1/1000000), got 0.0000001"),
])
def test_simulate_when_perp_value_not_representable_then_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, message: str
):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["simulate", str(EXAMPLE), "--quiet", "--out", str(out), "--set", override])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
