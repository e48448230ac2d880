"""Stop and resume from the cache; steward paths with the accounts each step exposes."""

from __future__ import annotations

from pathlib import Path

import pytest

import marginengine.optimize
from marginengine.margin.crowding import BookAccount
from marginengine.optimize.cache import CacheError, EvaluationCache
from marginengine.optimize.evaluate import ShockEvaluator
from marginengine.optimize.stewardpath import Book, steward_path
from tests.optimize.conftest import LTV, SHOCK

ARGS = dict(params=[f"{LTV}=0.60:0.94:0.0001"], objectives=["borrowing_power"],
            constraints=["es99_bad_debt<=50000"], runs=500, budget=30, seed=2)


def test_api_when_stopped_and_resumed_then_same_frontier_as_uninterrupted(tmp_path: Path):
    whole = marginengine.optimize(SHOCK, evaluator=ShockEvaluator(), **ARGS)
    cache = tmp_path / "cache.jsonl"
    calls = []

    def stop_after_two_batches(done: int, total: int, best: object) -> None:
        calls.append(done)
        if len(calls) == 3:  # the baseline, then two batches of the search
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        marginengine.optimize(SHOCK, evaluator=ShockEvaluator(), cache=cache,
                              on_progress=stop_after_two_batches, **ARGS)
    held = EvaluationCache()
    assert held.load(cache) == 500 * calls[-1]  # every candidate evaluated so far
    runs = []
    resumed = marginengine.optimize(SHOCK, evaluator=ShockEvaluator(), cache=cache,
                                    on_progress=lambda d, t, b: runs.append(d), **ARGS)
    assert resumed.equals(whole)
    # A torn last line (a killed run) is skipped, not fatal.
    with cache.open("a") as f:
        f.write('{"key": "x", "se')
    assert EvaluationCache().load(cache) > 0


def test_cache_when_file_not_ours_then_refused(tmp_path: Path):
    other = tmp_path / "notes.jsonl"
    other.write_text('{"hello": 1}\n')
    with pytest.raises(CacheError, match="not a marginengine optimize cache"):
        EvaluationCache().load(other)
    store = EvaluationCache(other)
    with pytest.raises(CacheError):
        store.put("k", 0, 0, {"bad_debt": 0.0})
    assert other.read_text() == '{"hello": 1}\n'


def test_cache_when_its_folder_is_missing_then_created_and_resumable(tmp_path: Path):
    # docs/optimize.md's call names cache="runs/opt-cache.jsonl"; in a fresh checkout
    # there is no runs/ yet (it raised FileNotFoundError after the first candidate).
    cache = tmp_path / "runs" / "opt-cache.jsonl"
    store = EvaluationCache(cache)
    store.put("k", 7, 0, {"bad_debt": 12.5})
    store.close()
    held = EvaluationCache()
    assert held.load(cache) == 1 and held.get("k", 7, 0) == {"bad_debt": 12.5}


def test_cache_when_its_folder_is_a_file_then_one_error_naming_it(tmp_path: Path):
    (tmp_path / "runs").write_text("mine\n")
    store = EvaluationCache(tmp_path / "runs" / "opt-cache.jsonl")
    with pytest.raises(CacheError, match=r"^cache: cannot write .*opt-cache.jsonl: "):
        store.put("k", 0, 0, {"bad_debt": 0.0})
    assert (tmp_path / "runs").read_text() == "mine\n"


def test_steward_path_when_threshold_lowered_then_steps_and_newly_liquidatable():
    # Three accounts of 1 WETH each at 2,000 USD (price 8 decimals), debts 1,500, 1,580 and
    # 1,700 USD; threshold 83% -> 1,660 USD of liquidation value each. Lowering it to 78%
    # in 50 bp steps: at 80.0% (1,600) the 1,580 account is still safe, at 79.0% (1,580) it
    # is exactly at the edge (not below), at 78.5% (1,570) it becomes liquidatable.
    unit, price = 10**18, 2_000 * 10**8
    debts = [1_500 * 10**8, 1_580 * 10**8, 1_700 * 10**8]
    book = Book("WETH", ("a", "b", "c"), tuple(BookAccount(unit, d, 8_300) for d in debts),
                price, unit)
    context = {("WETH", "ltv"): 7_500, ("WETH", "liquidation_threshold"): 8_300,
               ("WETH", "liquidation_bonus"): 500}
    current = {"protocol.markets.WETH.liquidation_threshold": 0.83,
               "protocol.markets.WETH.ltv": 0.75}
    target = {"protocol.markets.WETH.liquidation_threshold": 0.78,
              "protocol.markets.WETH.ltv": 0.73}
    path = steward_path(current, target, context, book)
    assert path["arrived"] and path["note"] == ""
    lt = "protocol.markets.WETH.liquidation_threshold"
    assert [s["changes"][lt] for s in path["steps"]] == [
        [0.83, 0.825], [0.825, 0.82], [0.82, 0.815], [0.815, 0.81], [0.81, 0.805],
        [0.805, 0.80], [0.80, 0.795], [0.795, 0.79], [0.79, 0.785], [0.785, 0.78]]
    # The LTV moves down first in each step while it has to (0.75 -> 0.73: 4 steps).
    assert [s["changes"].get("protocol.markets.WETH.ltv") for s in path["steps"][:5]] == [
        [0.75, 0.745], [0.745, 0.74], [0.74, 0.735], [0.735, 0.73], None]
    # Within a step going down, the LTV moves before the threshold (LTV <= threshold).
    assert list(path["steps"][0]["changes"]) == ["protocol.markets.WETH.ltv", lt]
    newly = [s["newly_liquidatable"] for s in path["steps"]]
    # "c" (1,700 USD) is liquidatable at 83% already: never listed.
    assert newly[:8] == [[]] * 8
    assert newly[8] == ["b"] and path["steps"][8]["debt_usd"] == 1_580
    assert newly[9] == []
    assert path["days"] == 27.0


def test_nsga2_when_no_constraint_then_tiers_span_the_frontier_and_report_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from marginengine.optimize.api import run, summary, write_outputs
    from marginengine.report.frontier import write_optimize_report

    report = run(SHOCK, [f"{LTV}=0.60:0.94:0.0025"], runs=300, budget=24, seed=3,
                 evaluator=ShockEvaluator())
    frontier = report.frontier()
    assert len(frontier) >= 3
    # Along the frontier efficiency and tail risk rise together (it is a trade-off).
    assert frontier["borrowing_power"].is_monotonic_increasing
    assert frontier["es99_bad_debt"].is_monotonic_increasing
    tiers = {r["tier"]: r for r in report.recommendations}
    assert tiers["aggressive"]["values"][LTV] == frontier[LTV].iloc[-1]
    assert tiers["conservative"]["values"][LTV] == frontier[LTV].iloc[0]
    low, high = frontier[LTV].iloc[0], frontier[LTV].iloc[-1]
    assert low <= tiers["moderate"]["values"][LTV] <= high
    written = write_outputs(tmp_path, report)
    assert [p.name for p in written] == ["frontier.parquet", "evaluations.parquet",
                                         "optimize.json"]
    page = write_optimize_report(tmp_path, summary(report), frontier, report.evaluations())
    assert page is not None and "NSGA-II" in page.read_text()
    # The progress bar (rich) shows the best feasible point so far.
    marginengine.optimize(SHOCK, params=[f"{LTV}=0.60:0.94:0.0025"], runs=50, budget=6,
                          evaluator=ShockEvaluator(), progress=True)


def test_steward_path_when_book_has_several_assets_then_engine_rule_lists_accounts():
    # Aave v3 (health = sum(C_i x LT_i) / debt): WETH 2,000 USD at LT 83%, wstETH at
    # LT 81%. "a" holds 1 WETH + 1 wstETH and borrowed 3,440 USDC with wstETH at 2,340
    # (borrowing power 1,610 + 1,836.9); wstETH then fell to 2,250. Lowering wstETH's
    # threshold in 50 bp steps, a's liquidation value is 1,660 + 2,250 x LT:
    # 81.0% 3,482.5, 80.5% 3,471.25, 80.0% 3,460, 79.5% 3,448.75, 79.0% 3,437.5 < 3,440:
    # listed at the fourth step, with its debt. "b" (WETH only) is never touched; "c"
    # (1 wstETH, 1,830 borrowed: 2,250 x 81% = 1,822.5) is liquidatable already.
    from marginengine.config import protocol_from_dict
    from marginengine.engine import Borrow, Deposit, Engine, SetPrice
    from marginengine.optimize.stewardpath import LedgerBook

    config = protocol_from_dict({"preset": "aave-v3", "markets": {
        "WETH": {}, "USDC": {"decimals": 6},
        "wstETH": {"ltv": "0.785", "liquidation_threshold": "0.81",
                   "liquidation_bonus": "0.05"}}})
    engine = Engine(config)
    for asset, price in (("WETH", 2_000), ("wstETH", 2_340), ("USDC", 1)):
        engine.apply(SetPrice(asset, price * 10**8))
    engine.apply(Deposit("lp", "USDC", 10_000_000 * 10**6))
    for account, weth, wst, debt in (("a", 1, 1, 3_440), ("b", 1, 0, 1_600),
                                     ("c", 0, 1, 1_830)):
        for asset, amount in (("WETH", weth), ("wstETH", wst)):
            if amount:
                assert engine.apply(Deposit(account, asset, amount * 10**18)).accepted
        assert engine.apply(Borrow(account, "USDC", debt * 10**6)).accepted
    engine.apply(SetPrice("wstETH", 2_250 * 10**8))
    book = LedgerBook(engine.config, engine.ledger, dict(engine.prices), ("a", "b", "c"))
    context = {("wstETH", "ltv"): 7_850, ("wstETH", "liquidation_threshold"): 8_100,
               ("wstETH", "liquidation_bonus"): 500}
    lt = "protocol.markets.wstETH.liquidation_threshold"
    path = steward_path({lt: 0.81}, {lt: 0.79}, context, book)
    assert path["arrived"]
    assert [s["changes"][lt] for s in path["steps"]] == [
        [0.81, 0.805], [0.805, 0.80], [0.80, 0.795], [0.795, 0.79]]
    assert [s["newly_liquidatable"] for s in path["steps"]] == [[], [], [], ["a"]]
    assert path["steps"][3]["debt_usd"] == 3_440
    # Raising the threshold back never lists anyone.
    up = steward_path({lt: 0.79}, {lt: 0.81}, {**context, ("wstETH", "liquidation_threshold"):
                                               7_900}, book)
    assert all(s["newly_liquidatable"] == [] for s in up["steps"])


def test_recommendation_row_when_bounded_variable_already_at_target_then_none_needed():
    from marginengine.report.frontier import recommendation_rows

    lt = "protocol.markets.WETH.liquidation_threshold"
    context = {("WETH", "ltv"): 7_500, ("WETH", "liquidation_threshold"): 8_300,
               ("WETH", "liquidation_bonus"): 500}
    same = steward_path({lt: 0.83}, {lt: 0.83}, context, None)
    assert same["bounded"] == [lt] and same["steps"] == [] and same["arrived"]
    down = steward_path({lt: 0.83}, {lt: 0.82}, context, None)
    assert len(down["steps"]) == 2 and down["days"] == 3.0
    metric = {"value": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    summary = {"params": [{"path": lt}], "frontier_axes": {"efficiency": "borrowing_power",
                                                           "tail": "es99_bad_debt"},
               "constraints": [], "metrics": {}, "current": None,
               "recommendations": [
                   {"tier": "conservative", "key": "a", "values": {lt: 0.83},
                    "metrics": {"borrowing_power": metric}, "path": same},
                   {"tier": "moderate", "key": "b", "values": {lt: 0.82},
                    "metrics": {"borrowing_power": metric}, "path": down},
                   {"tier": "aggressive", "key": None, "why": "no feasible point"}]}
    rows = recommendation_rows(summary)
    assert rows[0][-2:] == ["steward steps (days)", "newly liquidatable"]
    # Already there: said so, not "0 (0)"; two 50 bp steps 3 days apart: "2 (3)".
    assert rows[1][-2:] == ["none needed", "-"]
    assert rows[2][-2:] == ["2 (3)", "0"]
    assert rows[3][-2:] == ["no feasible point", "-"]
    assert all(len(row) == len(rows[0]) for row in rows)
