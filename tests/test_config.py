"""The Hydra configuration: composition, overrides, and errors at start-up."""

import dataclasses
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_module
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError, ValidationError

from diplosim.config import register_configs
from diplosim.params import Mechanisms, Params

register_configs()


def _compose(*overrides):
    with initialize_config_module(config_module="diplosim.conf", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_default_config_is_the_alaska_scenario():
    cfg = _compose()
    assert cfg.scenario.name == "alaska_2025" and cfg.scenario.kind == "file"
    assert cfg.steps == 104 and cfg.seed == 0
    assert set(cfg.dynamics) == {f.name for f in dataclasses.fields(Params)}
    assert cfg.dynamics.trade_relax == Params.__dataclass_fields__["trade_relax"].default
    assert set(cfg.engine.mechanisms) == {f.name for f in dataclasses.fields(Mechanisms)}
    assert set(cfg) == {"scenario", "dynamics", "engine", "output", "seed", "steps"}


def test_synthetic_scenario_and_overrides():
    cfg = _compose("scenario=synthetic", "scenario.n_states=500", "dynamics.trade_relax=0.3", "engine.mechanisms.trade=false", "seed=3")
    assert cfg.scenario.kind == "synthetic" and cfg.scenario.n_states == 500
    assert cfg.dynamics.trade_relax == 0.3 and cfg.engine.mechanisms.trade is False and cfg.seed == 3


@pytest.mark.parametrize("override", ["steps=abc", "dynamics.trade_relax=fast", "scenario.n_states=many", "output.plot=perhaps"])
def test_wrong_types_fail_at_composition(override):
    with pytest.raises((ConfigCompositionException, ValidationError)):
        _compose(override)


@pytest.mark.parametrize("override", ["dynamics.no_such_coefficient=1", "engine.turbo=true", "output.colour=red"])
def test_unknown_keys_fail_at_composition(override):
    with pytest.raises((ConfigCompositionException, ConfigKeyError)):
        _compose(override)


def test_cli_reports_a_bad_override_in_one_message_without_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "diplosim", "steps=abc", f"hydra.run.dir={tmp_path}"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "steps" in done.stderr and "Traceback" not in done.stderr
