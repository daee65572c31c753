"""The batched launcher's template short cut gives Hydra's own config for every job, or steps aside."""

from __future__ import annotations

import pytest
from hydra import initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import OmegaConf

from diplosim.config import register_configs
from hydra_plugins.diplosim_batched._templates import TemplateConfigLoader

register_configs()
FIXED = ["scenario=synthetic", "scenario.n_states=30", "steps=3"]


def _jobs(n: int) -> list[list[str]]:
    return [[f"seed={i}", f"dynamics.trade_relax={0.1 * (i + 1):.1f}", *FIXED] for i in range(n)]


@pytest.fixture
def hydra_loader():
    with initialize_config_module(config_module="diplosim.conf", version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", overrides=["seed=range(4)", "hydra/launcher=batched", *FIXED],
                                           run_mode=RunMode.MULTIRUN)
        yield loader, master


def _same(a, b) -> bool:
    return OmegaConf.to_container(a, resolve=False) == OmegaConf.to_container(b, resolve=False)


def test_each_job_gets_hydras_config(hydra_loader):
    loader, master = hydra_loader
    fast = TemplateConfigLoader(loader)
    for job in _jobs(4):
        derived = fast.load_sweep_config(master, job)
        assert _same(derived, loader.load_sweep_config(master, job)), job
        assert list(derived.hydra.overrides.task) == job
    assert list(fast.checked.values()) == [True] and len(fast.templates) == 1
    other = ["seed=9", "dynamics.trade_relax=0.9", "scenario=alaska_2025", "steps=3"]  # another group choice
    assert _same(fast.load_sweep_config(master, other), loader.load_sweep_config(master, other))
    assert len(fast.templates) == 2


def test_a_short_cut_that_differs_from_hydra_is_dropped(hydra_loader, monkeypatch):
    loader, master = hydra_loader
    fast = TemplateConfigLoader(loader)
    wrong = TemplateConfigLoader._derive

    def off_by_one(template, parsed, values, master_config, memo):
        config = wrong(template, parsed, values, master_config, memo)
        config.steps = 4
        return config

    monkeypatch.setattr(TemplateConfigLoader, "_derive", staticmethod(off_by_one))
    for job in _jobs(3):
        assert _same(fast.load_sweep_config(master, job), loader.load_sweep_config(master, job)), job
    assert list(fast.checked.values()) == [False]
