"""Mango v4 ``token_liq_with_token`` in the engine: the MangoLiqTokenWithToken event, the
being-liquidated state, refusals with Mango's (and Anchor's) error names, the log and
replay.

Figures: the "no perps2" and "no perps1, limited"-style cases of ``mod tests`` in
blockworks-foundation/mango-v4 at 1303a4a16228eb1e8e8d4f0eef724eaf63310c86,
``programs/mango-v4/src/instructions/token_liq_with_token.rs`` (init weights 0.8 / 1.2:
from 10 asset and -9 liability the liqee ends at 3 and -2, since 3 x 0.8 - 2 x 1.2 = 0),
here in tokens of 6 decimals (so a Mango whole native is 10^6 native units here) at a price
of 1 USD, reached by a price drop from 2. Mango's tolerance is 0.01 (``assert_eq_f!``):
10_000 native units here; the exact figures are pinned besides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    Engine,
    Event,
    MangoDeposit,
    MangoLiqTokenWithToken,
    MangoWithdraw,
    SetPrice,
)
from marginengine.engine.family_state import MangoBook
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT

M = 10**6  # one token


def bank(init: float, maint: float, **extra: Any) -> dict[str, Any]:
    return {"init_asset_weight": str(1 - init), "init_liab_weight": str(1 + init),
            "maint_asset_weight": str(1 - maint), "maint_liab_weight": str(1 + maint), **extra}


def config(asset_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"preset": "mango-v4",
            "markets": {n: {"decimals": 6, "collateral": False, "borrowable": False}
                        for n in ("USDC", "A", "L")},
            "mango": {"quote": "USDC", "tokens": {
                "USDC": bank(0, 0), "A": bank(0.2, 0.1, **(asset_extra or {})),
                "L": bank(0.2, 0.1)}}}


def engine_of(asset_extra: dict[str, Any] | None = None, path: Path | None = None) -> Engine:
    cfg = protocol_from_dict(config(asset_extra))
    engine = Engine.with_log(cfg, path) if path else Engine(cfg)
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("A", 2 * PRICE_UNIT),
            SetPrice("L", PRICE_UNIT), MangoDeposit("k", "L", 1000 * M),
            MangoDeposit("a", "A", 10 * M), MangoWithdraw("a", "L", 9 * M),
            # maint health 10 x 0.9 - 9 x 1.1 = -0.9 < 0: liquidatable
            SetPrice("A", PRICE_UNIT))
    return engine


def applied(engine: Engine, *events: Event) -> list[dict[str, Any]]:
    details = []
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
        details.append(dict(out.details or {}))
    return details


def book(engine: Engine) -> MangoBook:
    b = engine.state.family
    assert isinstance(b, MangoBook)
    return b


def tokens(engine: Engine, account: str) -> dict[str, int]:
    return dict(book(engine).account(account).tokens)


def test_no_perps2_ends_at_mangos_3_and_minus_2() -> None:
    engine = engine_of()
    [d] = applied(engine, MangoLiqTokenWithToken("k", "a", "A", "L"))
    a = tokens(engine, "a")
    assert a["A"] == pytest.approx(3 * M, abs=10_000)
    assert a["L"] == pytest.approx(-2 * M, abs=10_000)
    # pinned: Mango's x = 2.8 / 0.4 = 7 in I80F48 with 0.8 and 1.2 as its f32 (0.80000001
    # and 1.20000005): 2.80000031 / 0.40000004 = 7.00000015 tokens, floored to units
    # (6_999_999 with the weights from f64, a little under 7)
    assert (d["liab_transfer"], d["asset_transfer"]) == (7_000_000, 7_000_000)
    assert a == {"A": 3_000_000, "L": -2_000_000}
    assert tokens(engine, "k") == {"L": 993_000_000, "A": 7_000_000}
    assert d["liquidatable"] == "Liquidatable" and d["being_liquidated"] is False
    assert book(engine).account("a").being_liquidated is False


def test_a_limited_liquidation_leaves_the_account_being_liquidated_until_it_recovers() -> None:
    engine = engine_of()
    [d] = applied(engine, MangoLiqTokenWithToken("k", "a", "A", "L", 2 * M))
    assert tokens(engine, "a") == {"A": 8 * M, "L": -7 * M}
    assert d["being_liquidated"] is True
    # Maint health back above zero (8 x 1.1 x 0.9 - 7 x 1.1 = 0.22) but liquidation-end
    # health 8 x 1.1 x 0.8 - 7 x 1.2 = -1.36 is below -1 native: still liquidatable.
    applied(engine, SetPrice("A", 110 * PRICE_UNIT // 100))
    # ...and a being-liquidated account cannot liquidate: Mango's BeingLiquidated.
    out = engine.apply(MangoLiqTokenWithToken("a", "k", "A", "L"))
    assert (out.accepted, out.code) == (False, Code.MANGO_BEING_LIQUIDATED)
    [d] = applied(engine, MangoLiqTokenWithToken("k", "a", "A", "L"))
    assert d["liquidatable"] == "Liquidatable" and d["being_liquidated"] is False
    # 1.36 / (1.2 - 0.8) = 3.4 liability for 3.4 / 1.1 asset
    assert d["liab_transfer"] == pytest.approx(3.4 * M, abs=10_000)
    assert d["asset_transfer"] == pytest.approx(3.4 / 1.1 * M, abs=10_000)


def test_a_healthy_account_is_not_liquidated_as_mango_returns_ok() -> None:
    engine = engine_of()
    applied(engine, SetPrice("A", 2 * PRICE_UNIT))
    before = tokens(engine, "a")
    [d] = applied(engine, MangoLiqTokenWithToken("k", "a", "A", "L"))
    assert d["liquidatable"] == "NotLiquidatable" and d["liab_transfer"] == 0
    assert tokens(engine, "a") == before


def test_fees_pay_the_liquidator_and_the_bank_and_conserve_the_asset() -> None:
    # fee_factor_liqor = 1.02 (asset fee), fee_factor_total = 1.03 (with the platform's)
    engine = engine_of({"liquidation_fee": "0.02", "platform_liquidation_fee": "0.01"})
    [d] = applied(engine, MangoLiqTokenWithToken("k", "a", "A", "L"))
    # x = 2.8 / (1.2 - 1.03 x 0.8) = 2.8 / 0.376
    assert d["liab_transfer"] == pytest.approx(2.8 / 0.376 * M, abs=10)
    assert d["asset_transfer"] == pytest.approx(2.8 / 0.376 * 1.03 * M, abs=10)
    assert d["asset_to_liquidator"] == pytest.approx(2.8 / 0.376 * 1.02 * M, abs=10)
    a, k = tokens(engine, "a"), tokens(engine, "k")
    assert 10 * M - a["A"] == k["A"] + book(engine).fees["A"]
    assert book(engine).fees["A"] == d["asset_liquidation_fee"] > 0
    assert -9 * M + d["liab_transfer"] == a["L"]


def test_refusals_carry_mangos_error_names_and_change_nothing() -> None:
    engine = engine_of()
    before = engine.state.family
    cases: list[tuple[Event, Code]] = [
        (MangoLiqTokenWithToken("a", "a", "A", "L"), Code.MANGO_REQUIRE_KEYS_NEQ_VIOLATED),
        (MangoLiqTokenWithToken("k", "a", "A", "A"), Code.MANGO_SOME_ERROR),
        # the liqee has no USDC asset: require_gt!(liqee_asset_native, 0)
        (MangoLiqTokenWithToken("k", "a", "USDC", "L"), Code.MANGO_REQUIRE_GT_VIOLATED),
        (MangoLiqTokenWithToken("k", "a", "X", "L"), Code.UNKNOWN_ASSET),
        (MangoLiqTokenWithToken("k", "a", "A", "L", 0), Code.INVALID_AMOUNT),
        # a liquidator without funds borrows L: its init health would be negative
        (MangoLiqTokenWithToken("poor", "a", "A", "L"), Code.MANGO_HEALTH_MUST_BE_POSITIVE),
    ]
    for event, code in cases:
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, code), (event, out.reason)
        assert engine.state.family is before
    out = engine.apply(MangoLiqTokenWithToken("k", "a", "X", "L"))
    assert "asset_token" in (out.reason or "")


def test_config_fee_is_checked_and_events_replay_to_the_same_hash(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="liquidation_fee"):
        protocol_from_dict(config({"liquidation_fee": "-0.1"}))
    path = tmp_path / "events.sqlite"
    engine = engine_of(path=path)
    applied(engine, MangoLiqTokenWithToken("k", "a", "A", "L", 2 * M),
            SetPrice("A", 110 * PRICE_UNIT // 100), MangoLiqTokenWithToken("k", "a", "A", "L"))
    expected = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()
