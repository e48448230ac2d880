"""``serve`` on a protocol family whose accounts live outside the ledger (Morpho Blue,
Liquity, Euler v2, Mango v4, Drift v2): refused at start, naming the preset.

It started, with 0 accounts, and then refused every account event over HTTP (a first
``DriftDeposit`` was ``events.0.account: unknown account 'a'``, and an account the engine
held was unknown too: the service reads the ledger and the options clearing only), so a
user could watch prices but never open, read or alert on a position."""

from __future__ import annotations

from pathlib import Path

import pytest

from marginengine.errors import ConfigError
from marginengine.service.startup import read_config

ROOT = Path(__file__).resolve().parents[2]


def serve_config(tmp_path: Path, example: str) -> Path:
    """The example's [protocol] tables and starting prices as a serve config."""
    lines, keep = [], False
    for line in (ROOT / "examples" / example).read_text().splitlines():
        if line.startswith("["):
            keep = line.startswith("[protocol")
        if keep:
            lines.append(line)
    path = tmp_path / "serve.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(("example", "preset"), [
    ("drift_perp_cascade.toml", "drift-v2"), ("mango_cascade.toml", "mango-v4"),
    ("morpho_cascade.toml", "morpho-blue"), ("euler_cascade.toml", "euler-v2"),
    ("liquity_cascade.toml", "liquity-v1")])
def test_serve_when_family_keeps_accounts_outside_the_ledger_then_refused(
        tmp_path: Path, example: str, preset: str) -> None:
    with pytest.raises(ConfigError) as info:
        read_config(serve_config(tmp_path, example))
    message = str(info.value)
    assert f"protocol.preset: the service does not serve {preset}" in message, message
