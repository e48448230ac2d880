"""Risk-Steward bounds: worked decisions, bad input, and the property that no sequence of
proposals ever moves a parameter beyond its bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.config.loading import steward_bounds_from_dict
from marginengine.config.stewards import (
    PARAM_NAMES,
    THREE_DAYS,
    ParamBound,
    StewardBounds,
)
from marginengine.errors import ConfigError, FieldError
from marginengine.margin.crowding import BookAccount
from marginengine.margin.stewards import (
    ProposedUpdate,
    allowed_change,
    clamp_updates,
    newly_liquidatable,
)

DAY = 86_400
WETH = {("WETH", "ltv"): 8_000, ("WETH", "liquidation_threshold"): 8_250,
        ("WETH", "liquidation_bonus"): 500, ("WETH", "supply_cap"): 1_000_000,
        ("WETH", "borrow_cap"): 800_000}


def test_allowed_change_when_absolute_or_relative_then_as_aave_steward() -> None:
    # RiskSteward README: LTV 70% with maxPercentChange 10_00 -> 63..77%; supply cap
    # 1,000,000 with 50_00 -> 500,000..1,500,000.
    assert allowed_change(7_000, 1_000, relative=False) == 1_000
    assert allowed_change(1_000_000, 5_000, relative=True) == 500_000
    assert allowed_change(333, 3_000, relative=True) == 99  # 99.9 rounded down


def test_defaults_when_automated_stewards_then_half_point_30_percent_3_days() -> None:
    b = StewardBounds()
    assert (b.ltv.max_change_bps, b.ltv.relative, b.ltv.min_delay_seconds) == (50, False,
                                                                                THREE_DAYS)
    assert (b.supply_cap.max_change_bps, b.supply_cap.relative) == (3_000, True)


def test_clamp_when_sequence_then_accept_clamp_debounce_and_reject() -> None:
    t0 = 10 * DAY
    proposals = [
        ProposedUpdate("WETH", "ltv", 7_970, t0),  # -0.30 pp: accepted
        ProposedUpdate("WETH", "liquidation_threshold", 8_000, t0),  # -2.5 pp: clamped to 82.00
        ProposedUpdate("WETH", "supply_cap", 2_000_000, t0),  # +100%: clamped to +30%
        ProposedUpdate("WETH", "borrow_cap", 0, t0),  # zero: rejected
        ProposedUpdate("WETH", "liquidation_bonus", 500, t0),  # same value: rejected
        ProposedUpdate("WETH", "ltv", 7_900, t0 + DAY),  # 1 day later: debounce
        ProposedUpdate("WETH", "ltv", 7_900, t0 + 3 * DAY),  # 3 days: clamped to 79.20
    ]
    decisions, values, times = clamp_updates(WETH, proposals, StewardBounds())
    assert [(d.status, d.value, d.code) for d in decisions] == [
        ("accepted", 7_970, "ok"),
        ("clamped", 8_200, "clamped_to_max_change"),
        ("clamped", 1_300_000, "clamped_to_max_change"),
        ("rejected", 800_000, "update_to_zero"),
        ("rejected", 500, "same_value"),
        ("rejected", 7_970, "debounce_not_respected"),
        ("clamped", 7_920, "clamped_to_max_change"),
    ]
    assert values[("WETH", "ltv")] == 7_920
    assert times[("WETH", "ltv")] == t0 + 3 * DAY
    assert ("WETH", "borrow_cap") not in times
    assert WETH[("WETH", "ltv")] == 8_000  # inputs untouched


def test_clamp_when_ltv_would_pass_threshold_then_rejected() -> None:
    current = {("X", "ltv"): 8_000, ("X", "liquidation_threshold"): 8_020,
               ("X", "liquidation_bonus"): 1_000}
    decisions, _, _ = clamp_updates(current, [ProposedUpdate("X", "ltv", 8_050, 0)],
                                    StewardBounds())
    assert decisions[0].code == "ltv_above_threshold"
    # 90.95% x 1.10 = 100.045% > 100%: a threshold raise the bonus does not allow.
    current = {("X", "liquidation_threshold"): 9_060, ("X", "liquidation_bonus"): 1_000}
    decisions, _, _ = clamp_updates(
        current, [ProposedUpdate("X", "liquidation_threshold", 9_095, 0)], StewardBounds())
    assert decisions[0].code == "threshold_times_bonus_above_one"
    # 90.91% x 1.10 = 100.001% exactly, but the configurator the steward's update goes
    # through checks percentMul(9091, 11000) = (100,001,000 + 5,000) // 10,000 = 10,000
    # (half up): allowed on chain, so allowed here (was refused).
    decisions, after, _ = clamp_updates(
        current, [ProposedUpdate("X", "liquidation_threshold", 9_091, 0)], StewardBounds())
    assert decisions[0].status == "accepted"
    assert after[("X", "liquidation_threshold")] == 9_091


@pytest.mark.parametrize(
    ("proposal", "field"),
    [
        (ProposedUpdate("WETH", "ltv", -1, 0), "proposals.0.value"),
        (ProposedUpdate("WETH", "ltv", 1, -5), "proposals.0.time"),
        (ProposedUpdate("WETH", "gamma", 1, 0), "proposals.0.param"),  # type: ignore[arg-type]
        (ProposedUpdate("", "ltv", 1, 0), "proposals.0.asset"),
        (ProposedUpdate("DAI", "ltv", 1, 0), "proposals.0.param"),
    ],
)
def test_clamp_when_bad_proposal_then_field_error(proposal: ProposedUpdate, field: str) -> None:
    with pytest.raises(FieldError) as err:
        clamp_updates(WETH, [proposal], StewardBounds())
    assert err.value.field == field


def test_clamp_when_time_runs_backwards_then_field_error() -> None:
    with pytest.raises(FieldError) as err:
        clamp_updates(WETH, [ProposedUpdate("WETH", "ltv", 7_990, 10),
                             ProposedUpdate("WETH", "ltv", 7_980, 9)], StewardBounds())
    assert err.value.field == "proposals.1.time"


def test_impact_when_threshold_lowered_then_lists_accounts_and_debt() -> None:
    eth, usd = 10**18, 10**8
    book = [BookAccount(10 * eth, 16_000 * usd, 8_000), BookAccount(20 * eth, 25_600 * usd, 8_000),
            BookAccount(1 * eth, 5_000 * usd, 8_000), BookAccount(3 * eth, 0, 8_000)]
    # At 2,100 USD: A's 10 x 2,100 x 80% = 16,800 covers 16,000; at 76%, 15,960 does not;
    # at 76.2%, 16,002 still does. B (31,500 at 75%) stays safe; C is liquidatable already;
    # D owes nothing.
    impact = newly_liquidatable(book, 2_100 * usd, eth, 7_600)
    assert (impact.accounts, impact.debt_values, impact.total_debt) == (
        (0,), (16_000 * usd,), 16_000 * usd)
    assert newly_liquidatable(book, 2_100 * usd, eth, 7_620).accounts == ()
    with pytest.raises(FieldError) as err:
        newly_liquidatable(book, 0, eth, 7_600)
    assert err.value.field == "price"


def test_bounds_when_config_bad_then_config_error_names_field() -> None:
    with pytest.raises(ConfigError, match=r"stewards\.ltv\.max_change_bps"):
        steward_bounds_from_dict({"ltv": {"max_change_bps": -1}})
    with pytest.raises(ConfigError, match=r"stewards\.caps: unknown field"):
        steward_bounds_from_dict({"caps": {}})
    got = steward_bounds_from_dict({"ltv": {"max_change_bps": 25, "min_delay_seconds": 60}})
    assert got.ltv == ParamBound(max_change_bps=25, min_delay_seconds=60)


bound_strategy = st.builds(ParamBound, max_change_bps=st.integers(0, 4_000),
                           relative=st.booleans(), min_delay_seconds=st.integers(0, 5 * DAY))
bounds_strategy = st.builds(StewardBounds, ltv=bound_strategy,
                            liquidation_threshold=bound_strategy,
                            liquidation_bonus=bound_strategy, supply_cap=bound_strategy,
                            borrow_cap=bound_strategy, maintenance_fraction=bound_strategy,
                            initial_fraction=bound_strategy)
proposal_strategy = st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(PARAM_NAMES),
                              st.integers(0, 2_000_000), st.integers(0, 2 * DAY))


@settings(max_examples=300, deadline=None)
@given(bounds_strategy, st.lists(proposal_strategy, max_size=40))
def test_property_when_any_sequence_then_bounds_never_exceeded(
    bounds: StewardBounds, raw: list[tuple[str, str, int, int]]
) -> None:
    start = {}
    for asset in ("A", "B"):
        start.update({(asset, "ltv"): 7_000, (asset, "liquidation_threshold"): 7_500,
                      (asset, "liquidation_bonus"): 700, (asset, "supply_cap"): 1_000_000,
                      (asset, "borrow_cap"): 500_000,
                      # a perp market's first tier: 3% maintenance, 5% initial (bps)
                      (asset, "maintenance_fraction"): 300, (asset, "initial_fraction"): 500})
    t = 0
    proposals = []
    for asset, param, value, gap in raw:
        t += gap
        proposals.append(ProposedUpdate(asset, param, value, t))  # type: ignore[arg-type]
    decisions, values, _ = clamp_updates(start, proposals, bounds)
    assert len(decisions) == len(proposals)
    replay = dict(start)
    last: dict[tuple[str, str], int] = {}
    for d in decisions:
        key = (d.proposal.asset, d.proposal.param)
        bound = bounds.bound(d.proposal.param)
        assert d.previous == replay[key]
        if not d.applied:
            assert d.value == d.previous
            continue
        limit = (bound.max_change_bps * d.previous // 10_000 if bound.relative
                 else bound.max_change_bps)
        assert 0 < abs(d.value - d.previous) <= limit
        assert d.value > 0
        if key in last:
            assert d.proposal.time - last[key] >= bound.min_delay_seconds
        # A clamp goes toward the proposal and stops at the bound.
        if d.status == "clamped":
            assert abs(d.value - d.previous) == limit
            assert (d.value - d.previous) * (d.proposal.value - d.previous) > 0
        last[key] = d.proposal.time
        replay[key] = d.value
        assert replay[(key[0], "ltv")] <= replay[(key[0], "liquidation_threshold")]
        assert replay[(key[0], "maintenance_fraction")] <= replay[(key[0], "initial_fraction")] \
            <= 10_000
    assert values == replay
