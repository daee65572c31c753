"""Scenario validation: every mistake is one ScenarioError line naming the file and the field."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from diplosim.config import ScenarioConfig
from diplosim.scenario import ScenarioError, load_scenario, load_scenario_file
from diplosim.scenario.schema import ScenarioSpec, SyntheticSpec, listing

BAD = Path(__file__).parent / "bad"
CONF = Path(__file__).parents[2] / "src" / "diplosim" / "conf" / "scenario"

# bad fixture -> text its message must contain (the offending field)
EXPECTED = {
    "unknown_state_in_tie": "alliances[0].b: unknown state 'Atlantis'",
    "negative_gdp": "states[1].gdp",
    "probability_above_one": "states[0].approval",
    "duplicate_state_names": "states[1].name: duplicate state name 'Aland'",
    "event_unknown_actor": "events[0].actor: unknown state 'Syldavia'",
    "envoy_unknown_principal": "envoys[0].principal: unknown state 'Syldavia'",
    "empty_states": "states: at least one state",
    "wrong_type": "states[0].gdp",
    "unknown_key": "states[0].gpd: unknown key (did you mean 'gdp'?)",
    "nan_value": "tension[0].value",
    "malformed": "malformed YAML at line 7",
    "participants_not_summit": "events[0].participants",
    "self_tie": "sanctions[0].to: self-tie",
    "unknown_kind": "kind: unknown scenario kind 'scripted'; allowed: file, synthetic",
    "unknown_bloc": "states[0].bloc: unknown bloc 'north'",
    "unknown_issue_in_position": "states[0].position: unknown issue 'fishing'",
    "unknown_event_kind": "events[0].kind: unknown event kind 'invasion'",
    "infinite_energy_price": "energy_price",
    "duplicate_alliance_pair": "alliances[1]",
    "summit_without_issue": "events[0].issue",
    "negative_step": "events[0].step",
    "unknown_channel": "envoys[0].channel: unknown channel 'backdoor'; allowed: official, proxy",
    "unknown_watch_state": "watch[0].to: unknown state 'Syldavia'",
    "missing_field": "states[0].reliability: required field is missing",
    "excluded_unknown_state": "events[0].excluded[0]: unknown state 'Syldavia'",
    "not_a_mapping": "expected a mapping",
    "synthetic_too_dense": "dyads_per_state",
    "synthetic_with_states": "states",
    "synthetic_negative_seed": "generator_seed",
}


def test_every_bad_fixture_is_checked():
    assert {p.stem for p in BAD.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_fixture_is_one_line_naming_file_and_field(name):
    path = BAD / f"{name}.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario_file(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"scenario {path}: ")
    assert EXPECTED[name] in message


@pytest.mark.parametrize("name", ["negative_gdp", "unknown_state_in_tie", "malformed"])
def test_bad_file_through_config_path(name):
    path = BAD / f"{name}.yaml"
    cfg = OmegaConf.merge(OmegaConf.structured(ScenarioConfig), {"path": str(path)})
    with pytest.raises(ScenarioError, match=f"{name}.yaml"):
        load_scenario(cfg)


def test_missing_file_names_the_file(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ScenarioError, match="nowhere.yaml: cannot read"):
        load_scenario({"path": str(missing)})


def test_value_shown_for_range_errors():
    message = _error_of(BAD / "negative_gdp.yaml")
    assert message.endswith("states[1].gdp: Input should be greater than 0 (got -50)")


def test_several_errors_are_counted(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(
        "name: two\nblocs: [b]\nstates:\n"
        "  - {name: A, bloc: b, gdp: -1, military_share: 2, approval: 0.5, reliability: 0.5}\n"
    )
    assert _error_of(path).endswith("(and 1 more error)")


def test_config_without_path_is_named_by_scenario_name():
    cfg = {"kind": "file", "name": "mine", "blocs": ["b"], "states": [{"name": "A", "bloc": "b"}]}
    with pytest.raises(ScenarioError, match=r"^scenario mine: states\[0\]\.gdp: required field is missing"):
        load_scenario(cfg)


def test_hydra_defaults_of_synthetic_keys_are_ignored_for_file_kind():
    cfg = OmegaConf.merge(
        OmegaConf.structured(ScenarioConfig),
        {"name": "mine", "blocs": ["b"], "states": [_state("A"), _state("B")]},
    )
    scenario = load_scenario(cfg)
    assert scenario.states == ("A", "B") and scenario.source == "config:mine"


def test_long_name_lists_are_cut():
    assert listing([f"S{i}" for i in range(20)]) == "S0, S1, S2, S3, S4, S5, S6, S7, ... (12 more)"


def test_synthetic_spec_ranges():
    assert SyntheticSpec(n_states=2, dyads_per_state=1).n_states == 2
    for bad in (
        {"n_states": 1, "dyads_per_state": 1},
        {"n_states": 50_000_001},
        {"n_blocs": 0},
        {"n_issues": 0},
        {"n_envoys": -1},
        {"n_states": 50_000_000, "dyads_per_state": 50},
    ):
        with pytest.raises(ValueError):
            SyntheticSpec(**bad)


def test_unquoted_start_date_is_kept_as_text():
    spec = ScenarioSpec.model_validate(
        {"name": "d", "start": datetime.date(2025, 8, 1), "blocs": ["b"], "states": [_state("A")]}
    )
    assert spec.start == "2025-08-01"


def test_shipped_synthetic_config_loads():
    cfg = OmegaConf.merge(OmegaConf.structured(ScenarioConfig), OmegaConf.load(CONF / "synthetic.yaml"))
    scenario = load_scenario(cfg, agreement_slots=8)
    assert scenario.name == "synthetic" and scenario.world.n_states == 1000
    assert scenario.world.agreements.status.shape == (8,)
    assert len(scenario.envoys) == 4


@pytest.mark.skipif(not (CONF / "alaska_2025.yaml").exists(), reason="alaska_2025 not written yet")
def test_alaska_loads_through_hydra_schema_and_as_a_file():
    cfg = OmegaConf.merge(OmegaConf.structured(ScenarioConfig), OmegaConf.load(CONF / "alaska_2025.yaml"))
    from_config = load_scenario(cfg)
    from_file = load_scenario_file(CONF / "alaska_2025.yaml")
    assert from_config.states == from_file.states
    assert "United States" in from_file.states and "Russia" in from_file.states
    assert from_file.world.n_dyads == len(from_file.states) * (len(from_file.states) - 1)


def _state(name: str) -> dict:
    return {"name": name, "bloc": "b", "gdp": 10.0, "military_share": 0.02, "approval": 0.5, "reliability": 0.5}


def _error_of(path) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_file(path)
    return str(caught.value)
