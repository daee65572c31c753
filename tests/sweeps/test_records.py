"""The batched launcher's cheap job configs and records: the same text as Hydra's, sections shared
with the template only where nothing can tell."""

from __future__ import annotations

import enum

import pytest
from hydra import initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import OmegaConf

from diplosim.config import register_configs
from hydra_plugins.diplosim_batched._records import to_yaml
from hydra_plugins.diplosim_batched._templates import TemplateConfigLoader, shared_sections

register_configs()


@pytest.fixture(scope="module")
def alaska():
    """Hydra's loader and the master config of an Alaska sweep (the scenario's 1,500 nodes inline)."""
    with initialize_config_module(config_module="diplosim.conf", version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", overrides=["seed=range(4)", "hydra/launcher=batched"],
                                           run_mode=RunMode.MULTIRUN)
        yield loader, master


class Colour(enum.Enum):
    RED = 1


@pytest.mark.parametrize("data", [
    {"a": "yes", "b": "1", "c": "1.5e3", "d": "off", "e": "Ünïcode — text", "f": None, "g": [1, "2", [True, "true"]]},
    {"nested": {"empty": {}, "list": [], "value": "${interpolation}"}, "colour": Colour.RED, "x": 1e-7},
    {"long": "a fairly long string " * 10, "multi": "line one\nline two"},
    {"astral": {"emoji": "😀 beyond the Basic Multilingual Plane"}, "nel": "a\x85b", "plain": "text"},
])
def test_to_yaml_is_omegaconfs_text(data):
    cfg = OmegaConf.create({k: v for k, v in data.items() if k != "colour"})
    if "colour" in data:
        cfg.colour = data["colour"]
    assert to_yaml(cfg) == OmegaConf.to_yaml(cfg)


def test_to_yaml_of_composed_and_derived_configs(alaska):
    from hydra.core.hydra_config import HydraConfig

    from hydra_plugins.diplosim_batched._templates import set_hydra_config

    loader, master = alaska
    saved = HydraConfig.instance().cfg
    fast = TemplateConfigLoader(loader)
    for seed in range(4):  # job 0: the template; 1: checked against Hydra; 2, 3: derived, sections shared
        config = fast.load_sweep_config(master, [f"seed={seed}", "dynamics.trade_relax=0.3"])
        assert to_yaml(config) == OmegaConf.to_yaml(config)
        task = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
        assert to_yaml(task) == to_yaml(task) == OmegaConf.to_yaml(task)  # the second from the kept section text
        set_hydra_config(config)  # hydra.yaml: Hydra's config of the job, its shared sections' text kept
        view = HydraConfig.instance().cfg
        assert to_yaml(view) == to_yaml(view) == OmegaConf.to_yaml(view)
    assert to_yaml(config.hydra.overrides.task) == OmegaConf.to_yaml(config.hydra.overrides.task) == (
        "- seed=3\n- dynamics.trade_relax=0.3\n")
    HydraConfig.instance().cfg = saved


def test_to_yaml_of_a_section_keeps_its_indentation():
    """libyaml wraps long strings by column: a section's text is kept as it stands at its depth."""
    long = "a help text that is long enough to be wrapped by the emitter at eighty columns " * 2
    cfg = OmegaConf.create({"hydra": {"help": {"template": long}, "empty": {}, "verbose": False}, "top": {"template": long}})
    assert to_yaml(cfg) == OmegaConf.to_yaml(cfg)


def test_to_yaml_of_a_section_holding_shared_and_own_entries():
    """A job's section with one overridden value, beside sections it shares with its template:
    OmegaConf's text, a key that reads as a boolean quoted."""
    import copy

    template = OmegaConf.create({"on": {"a": 1, "sub": {"x": [1, 2], "yes": "no", "deep": {"k": 1}}, "b": 2},
                                 "plain": {"c": 3}, "e": {}, "i": "${plain}"})
    for value in (5, 6):
        job = copy.deepcopy(template, shared_sections(template, ["on.a", "on.sub.deep.k"]))
        job.on.a, job.on.sub.deep.k = value, value
        assert job.on._get_node("b")._get_parent() is template.on  # shared with the template
        assert to_yaml(job) == OmegaConf.to_yaml(job)
        assert f"'on':\n  a: {value}\n" in to_yaml(job)
    assert to_yaml(template) == OmegaConf.to_yaml(template)


@pytest.mark.parametrize("items", [[], ["seed=1", "dynamics.x=0.5"], ["a='quoted: text'", "b=yes", "c=1", "Ünïcode=—", None, [1, "2"]],
                                   ["emoji=😀", "nel=a\x85b", "x=\u2028\ufeff\x7f"]])
def test_to_yaml_of_a_list_is_omegaconfs_text(items):  # overrides.yaml
    cfg = OmegaConf.create(items)
    assert to_yaml(cfg) == OmegaConf.to_yaml(cfg)


def test_derived_jobs_share_untouched_sections_and_own_the_rest(alaska):
    loader, master = alaska
    fast = TemplateConfigLoader(loader)
    jobs = [fast.load_sweep_config(master, [f"seed={s}", "scenario.states.1.reliability=0.9"]) for s in range(3)]
    assert jobs[2].scenario.states[1].reliability == 0.9  # the overridden section is the job's own copy
    assert jobs[2]._get_node("scenario") is not jobs[1]._get_node("scenario")
    for s, job in enumerate(jobs):
        assert job.seed == s
        assert OmegaConf.to_container(job, resolve=False) == OmegaConf.to_container(
            loader.load_sweep_config(master, [f"seed={s}", "scenario.states.1.reliability=0.9"]), resolve=False)
    plain = [fast.load_sweep_config(master, [f"seed={s}"]) for s in range(4)]
    assert plain[2]._get_node("scenario") is plain[3]._get_node("scenario")  # shared with the template
    assert plain[3].scenario.states[1].reliability == 0.4  # Alaska's Russia, as composed


def test_nodes_with_interpolations_or_overridden_are_not_shared():
    cfg = OmegaConf.create({"a": {"x": 1, "z": 2}, "b": {"y": "${a.x}", "w": {"v": 1}}, "c": [1, {"d": 2}], "seed": 0})
    memo = shared_sections(cfg, ["seed"])
    node = lambda *path: _node(cfg, path)  # noqa: E731
    assert set(memo) == {id(node("a")), id(node("c")), id(node("b", "w"))}  # b.y interpolates: b is copied, b.w shared
    assert set(shared_sections(cfg, ["a.x"])) == {id(node("a", "z")), id(node("c")), id(node("b", "w"))}
    assert set(shared_sections(cfg, ["a"])) == {id(node("c")), id(node("b", "w"))}  # nothing below an overridden key
    assert set(shared_sections(cfg, ["c.1.d"])) == {id(node("a")), id(node("c", "0")), id(node("b", "w"))}


def _node(cfg, path):
    for key in path:
        cfg = cfg._get_node(int(key) if key.isdigit() else key)
    return cfg


def test_hydra_sections_written_per_job_or_interpolating_are_not_shared():
    cfg = OmegaConf.create({"seed": 0, "hydra": {
        "job": {"id": 0, "config": {"kv_sep": "="}}, "runtime": {"output_dir": "x", "choices": {"scenario": "alaska"}},
        "overrides": {"task": []}, "help": {"text": "t"},
        "job_logging": {"file": "${hydra.runtime.output_dir}/log", "format": {"simple": "%(message)s"}},
        "launcher": {"n_jobs": 2}, "verbose": False}})
    shared = lambda *keys: {n._get_full_key(None) for n in shared_sections(cfg, list(keys)).values()}  # noqa: E731
    # per job: the job's id, its output directory, its overrides (set in place): only what lies below them unwritten
    assert shared("seed") == {"hydra.job.config", "hydra.runtime.choices", "hydra.help", "hydra.job_logging.format",
                              "hydra.launcher", "hydra.verbose"}
    assert shared("seed", "hydra.launcher.n_jobs") == shared("seed") - {"hydra.launcher"}


def test_a_derived_job_owns_its_overridden_values_and_leaves_the_template_alone(alaska):
    loader, master = alaska
    fast = TemplateConfigLoader(loader)
    jobs = [fast.load_sweep_config(master, [f"seed={s}", f"dynamics.trade_relax=0.{s + 1}"]) for s in range(4)]
    (template,) = fast.templates.values()
    assert [job.dynamics.trade_relax for job in jobs] == [0.1, 0.2, 0.3, 0.4]
    assert template.dynamics.trade_relax == 0.1 and template.seed == 0
    # the other coefficients are the template's own nodes, shared; the overridden one is the job's
    assert jobs[3].dynamics._get_node("violation_rate") is template.dynamics._get_node("violation_rate")
    assert jobs[3].dynamics._get_node("trade_relax") is not template.dynamics._get_node("trade_relax")
    for s, job in enumerate(jobs):
        assert OmegaConf.to_container(job, resolve=False) == OmegaConf.to_container(
            loader.load_sweep_config(master, [f"seed={s}", f"dynamics.trade_relax=0.{s + 1}"]), resolve=False)


def test_hydra_config_of_a_job_is_its_own_section_not_a_copy():
    from hydra.core.hydra_config import HydraConfig

    from hydra_plugins.diplosim_batched._templates import set_hydra_config

    cfg = OmegaConf.create({"seed": 3, "out": "${hydra:runtime.output_dir}/t", "hydra": {"runtime": {"output_dir": "/o"}}})
    saved = HydraConfig.instance().cfg
    try:
        set_hydra_config(cfg)
        assert HydraConfig.get() is cfg._get_node("hydra") and cfg._get_node("hydra")._get_parent() is cfg
        assert cfg.out == "/o/t"  # the hydra resolver reads the job's section
        assert OmegaConf.is_readonly(cfg.hydra)
    finally:
        HydraConfig.instance().cfg = saved


def test_the_launcher_gets_the_config_the_sweepers_check_derived(alaska):
    loader, master = alaska
    fast = TemplateConfigLoader(loader)
    for s in range(3):
        fast.load_sweep_config(master, [f"seed={s}"])
    checked = fast.load_sweep_config(master, ["seed=3"])
    assert fast.job_config(master, ["seed=3"]) is checked
    again = fast.job_config(master, ["seed=3"])  # taken once: composed again after that
    assert again is not checked and again.seed == 3
