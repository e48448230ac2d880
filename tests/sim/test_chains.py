"""Gas per chain (``[gas.chains.NAME]``, ``[[protocols]] chain``): each protocol's keepers
pay the gas of the chain it is on; one chain's scenarios are as they were."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim.cascade import run_cascade, scenario_spec
from marginengine.sim.cascade_config import cascade_warnings
from marginengine.sim.protocols import chain_rng
from tests.cli.test_cli import EXAMPLES

CHAINS = EXAMPLES / "gas_chains.toml"
SHARED = EXAMPLES / "shared_collateral.toml"


def run(data: dict[str, Any], **kw: Any) -> Any:
    return run_cascade(data, source=str(CHAINS), amplification=False, **kw)


def figures(summary: dict[str, Any]) -> dict[str, tuple[int, float]]:
    return {name: (s["liquidation_count"], round(s["bad_debt"], 2))
            for name, s in summary["protocols"].items()}


def test_run_when_on_a_dear_chain_then_fewer_liquidations_than_on_a_cheap_one() -> None:
    # Arrange: the same protocol and book parameters twice, on one path and one deep pool;
    # "cheap" on the default chain (l2, 0.5 gwei), "dear" on mainnet (gas from 60 gwei,
    # rising with the crash to 477).
    data = read_toml(CHAINS)
    # Act
    result = run(data)
    # Assert: a 300k-gas liquidation costs 300,000 * 375 gwei * 1e-9 * ~1,750 USD, about
    # 200 USD on mainnet against 0.26 USD on l2: most small accounts' bonus does not cover it.
    s = result.summary
    assert figures(s) == {"cheap": (364, 1.11), "dear": (65, 4662.81)}
    assert round(s["protocols"]["cheap"]["keeper_gas_spent"], 2) == 94.89
    assert round(s["protocols"]["dear"]["keeper_gas_spent"], 2) == 11669.13
    chains = s["chains"]
    assert chains["l2"] == {"protocols": ["cheap"], "gas_gwei_mean": 0.5, "gas_gwei_max": 0.5}
    assert chains["mainnet"]["protocols"] == ["dear"]
    assert round(chains["mainnet"]["gas_gwei_mean"], 2) == 375.48
    assert round(chains["mainnet"]["gas_gwei_max"], 2) == 476.70
    # Per-chain gas in the steps: the first protocol's chain as gas_gwei, the other's after.
    series = result.series
    assert set(series["gas_gwei"]) == {0.5}
    assert max(series["gas_gwei.mainnet"]) == chains["mainnet"]["gas_gwei_max"]
    assert len(series["gas_gwei.mainnet"]) == data["steps"] + 1


def test_run_when_the_chains_are_swapped_then_the_dear_chain_still_liquidates_fewer() -> None:
    # The same scenario with mainnet as the default chain ([protocol] "cheap" on it) and l2
    # a further chain ("dear" on it): the gas, not the protocol's place, decides.
    data = read_toml(CHAINS)
    mainnet = data["gas"]["chains"]["mainnet"]
    data["gas"] = {**mainnet, "chain": "mainnet", "chains": {"l2": {"gwei": 0.5}}}
    data["protocols"][0]["chain"] = "l2"
    s = run(data).summary
    assert figures(s) == {"cheap": (56, 4528.92), "dear": (361, 6.08)}
    assert s["chains"]["l2"]["protocols"] == ["dear"]


def test_run_when_both_protocols_are_on_one_chain_then_their_liquidations_are_alike() -> None:
    # The control: without "dear"'s chain both pay l2's gas and liquidate alike (their books
    # are drawn apart, so 364 and 361, not the same number).
    data = read_toml(CHAINS)
    del data["protocols"][0]["chain"]
    result = run(data)
    assert figures(result.summary) == {"cheap": (364, 1.11), "dear": (361, 6.08)}
    assert result.summary["chains"] == {"l2": {"protocols": ["cheap", "dear"],
                                               "gas_gwei_mean": 0.5, "gas_gwei_max": 0.5}}
    assert "gas_gwei.mainnet" not in result.series


def test_run_when_a_chain_is_added_then_no_other_chain_and_no_protocol_changes() -> None:
    data = read_toml(CHAINS)
    before = run(data)
    data["gas"]["chains"]["spare"] = {"kind": "process", "gwei": 5}
    after = run(data)
    assert after.series == before.series
    assert figures(after.summary) == figures(before.summary)
    assert "spare" not in after.summary["chains"]  # no protocol is on it


def test_chain_gas_when_drawn_then_its_own_generator_per_run_and_chain() -> None:
    data = read_toml(CHAINS)
    one = run(data, rng=np.random.default_rng(5))
    again = run(data, rng=np.random.default_rng(5))
    other = run(data, rng=np.random.default_rng(6))
    assert one.series["gas_gwei.mainnet"] == again.series["gas_gwei.mainnet"]
    assert one.series["gas_gwei.mainnet"] != other.series["gas_gwei.mainnet"]
    state = np.random.default_rng(5).bit_generator.state
    draw = chain_rng(state, "mainnet").standard_normal(3)
    assert np.array_equal(draw, chain_rng(state, "mainnet").standard_normal(3))
    assert not np.array_equal(draw, chain_rng(state, "l2").standard_normal(3))


@pytest.mark.parametrize("change", [
    lambda d: d["protocols"][0].update(chain="default"),       # the default chain's name
    lambda d: d.setdefault("gas", {}).update(chains={"spare": {"gwei": 900}}),
    lambda d: d["protocols"][0].update(chain="eth")
    or d.setdefault("gas", {}).update(chain="eth"),          # the default chain, renamed
], ids=["explicit-default", "unused-chain", "renamed-default"])
def test_run_when_every_protocol_is_on_the_default_chain_then_unchanged(change: Any) -> None:
    # One chain: the figures and steps of the file as it is, and no chain figures.
    data = read_toml(SHARED)
    plain = run_cascade(copy.deepcopy(data), amplification=False)
    assert "chains" not in plain.summary
    assert not [c for c in plain.series if c.startswith("gas_gwei.")]
    change(data)
    same = run_cascade(data, amplification=False)
    assert same.series == plain.series
    assert {k: v for k, v in same.summary.items() if k != "chains"} == plain.summary
    # The figures main had before chains existed: aave 33 liquidations, lender2 156.
    assert plain.summary["liquidation_count"] == 189
    assert plain.summary["protocols"]["lender2"]["liquidation_count"] == 156


def test_warnings_when_a_chain_no_protocol_is_on_then_named() -> None:
    # Allowed (a spare chain changes nothing), but most likely a misspelt name: the
    # protocol meant for it pays the default chain's gas.
    data = read_toml(SHARED)
    data.setdefault("gas", {}).update(chains={"spare": {"gwei": 900}})
    assert cascade_warnings(scenario_spec(data)[0]) == [
        "gas.chains.spare: no protocol is on this chain (set chain = 'spare' in a "
        "[[protocols]] entry, or remove the table)"]
    assert cascade_warnings(scenario_spec(read_toml(CHAINS), str(CHAINS))[0]) == []


def problems(change: Any) -> list[str]:
    data = read_toml(CHAINS)
    change(data)
    with pytest.raises(ConfigError) as err:
        scenario_spec(data, str(CHAINS))
    return err.value.problems


def test_scenario_when_a_protocol_names_an_unknown_chain_then_the_field_and_the_chains() -> None:
    assert problems(lambda d: d["protocols"][0].update(chain="mainet")) == [
        "protocols.0.chain: unknown chain 'mainet' (chains: l2, mainnet; add it as "
        "[gas.chains.mainet] or name one of these)"]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["gas"]["chains"]["mainnet"].update(gwie=3),
     "gas.chains.mainnet.gwie: unknown field (check the spelling)"),
    (lambda d: d["gas"]["chains"]["mainnet"].update(gwei=-3),
     "gas.chains.mainnet.gwei: must be at least 0 (got -3)"),
    (lambda d: d["gas"]["chains"]["mainnet"].update(chains={}),
     "gas.chains.mainnet.chains: unknown field (check the spelling)"),
    (lambda d: d["gas"]["chains"].update(spare=3),
     "gas.chains.spare: must be a table (a JSON object) "
     "(got 3)"),
    (lambda d: d["gas"]["chains"].update(l2={"gwei": 1}),
     "gas.chains.l2: 'l2' is the default chain's name ([gas] chain); the default chain's "
     "gas is [gas] itself"),
    (lambda d: d["gas"]["chains"].update({"9x": {"gwei": 1}}),
     "gas.chains.9x: a chain's name is a letter, then up to 31 letters, digits, '_' or '-'"),
    (lambda d: d["protocols"][0].update(chain=5),
     "protocols.0.chain: must be a string (got 5)"),
], ids=["unknown-field", "negative-gwei", "nested-chains", "not-a-table", "default-name",
        "bad-name", "chain-not-a-string"])
def test_scenario_when_a_chain_table_is_bad_then_its_path_and_reason(
        change: Any, expected: str) -> None:
    assert problems(change) == [expected]


def test_scenario_when_a_chains_replay_file_is_missing_then_named_once_at_its_table() -> None:
    found = problems(lambda d: d["gas"]["chains"]["mainnet"].update(kind="replay",
                                                                    file="nope.csv"))
    assert found == [f"gas.chains.mainnet.file: no such file "
                     f"'{(CHAINS.parent / 'nope.csv').resolve()}'"]
