"""The experiments of ``experiments/``: their configs compose, their scenario variants change only
what they say, and every analysis script runs end to end on a tiny sweep.

The tiny sweeps (2 seeds, 4 weeks, the settings of each experiment's sweep) are written the way
the batched launcher writes them: each job's configuration composed by Hydra from the
experiment's config, its columns from ``diplosim.sweep.job_overrides``, the runs simulated in
``simulate_batch`` calls and each job's tables written by ``diplosim.app.run``.  All calls have 8
runs and 4 weeks, as the sensitivity script's tiny mode, so the test compiles one program.  The
slow test runs an experiment's documented command itself.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from diplosim.app import Simulated, prepare, run, simulated, use_compile_cache
from diplosim.config import register_configs
from diplosim.engine import simulate_batch
from diplosim.mechanisms.trade import calibrate_trade
from diplosim.sweep import job_overrides

register_configs()

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
SWEPT = ("allies", "envoys", "secondary_sanctions", "reliability")
STEPS = 4
SEEDS = (0, 1)
# runs per simulate_batch call: every tiny sweep in one call, and the sensitivity script's tiny mode
# (--n 8 over its 10 factors: 8 * (10 + 2) points) in one call of the same program
BATCH = 96
# the settings of each tiny sweep: every setting of the experiment's sweep, or (the larger ones) a subset
TINY = {
    "secondary_sanctions": {"scenario.events.3.magnitude": "0.0,1.0", "dynamics.secondary_tension": "0.8,1.0",
                            "dynamics.agreement_gap": "0.1,0.0"},
    "reliability": {"scenario.states.1.reliability": "0.1,0.4,1.0"},
}


def load_script(path: Path):
    """An experiment's script as a module (its folder name and file name make the module's name)."""
    spec = importlib.util.spec_from_file_location(f"experiment_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@functools.cache
def composed(name: str, overrides: tuple[str, ...] = ()):
    """``experiments/<name>/experiment.yaml`` composed as ``diplosim --config-dir experiments/<name>
    --config-name experiment`` composes it (the package's configs on the search path)."""
    with initialize_config_dir(config_dir=str(EXPERIMENTS / name), version_base="1.3"):
        return compose(config_name="experiment", overrides=["hydra.searchpath=[pkg://diplosim.conf]", *overrides],
                       return_hydra_config=True)


def task_of(cfg) -> dict:
    """The job's config without Hydra's, resolved, as the launcher gives it to ``prepare``."""
    return {k: (OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]) for k in cfg if k != "hydra"}


def sweep_params(name: str) -> dict[str, list[str]]:
    """The experiment's ``hydra.sweeper.params`` (but seed), each as its list of values."""
    params = composed(name).hydra.sweeper.params
    return {k: str(v).split(",") for k, v in params.items() if k != "seed"}


def is_group(key: str) -> bool:
    return key == "scenario"


def settings(name: str, params: dict[str, list[str]]) -> list[tuple[str, ...]]:
    """Every combination of the values, as override strings."""
    keys = list(params)
    return [tuple(f"{k}={v}" for k, v in zip(keys, values)) for values in itertools.product(*params.values())]


@functools.cache
def _plain(name: str, groups: tuple[str, ...]) -> str:
    return json.dumps(task_of(composed(name, groups)))


def job_config(name: str, setting: tuple[str, ...], seed: int) -> dict:
    """The job's config (resolved, without Hydra's): group choices composed by Hydra, each value
    override set where Hydra's override sets it (a list index is a path element too)."""
    groups = tuple(o for o in setting if is_group(o.split("=")[0]))
    task = json.loads(_plain(name, groups))  # a fresh copy
    for override in (*(o for o in setting if not is_group(o.split("=")[0])), f"seed={seed}", f"steps={STEPS}"):
        key, value = override.split("=", 1)
        *path, last = key.split(".")
        node = task
        for part in path:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = float(value) if "." in value else int(value)
    return task


# --- the configs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SWEPT)
def test_experiment_config_is_a_batched_sweep_under_outputs(name):
    cfg = composed(name)
    assert cfg.hydra.launcher._target_.endswith("BatchedLauncher")
    assert str(cfg.hydra.sweeper.params.seed) == "range(64)"
    assert str(cfg.hydra.sweep.dir).startswith(f"outputs/experiments/{name}/alaska_2025-")
    assert cfg.output.every == 4 and cfg.output.plot is False and cfg.steps == 104


@pytest.mark.parametrize("name", SWEPT)
def test_every_setting_of_the_sweep_is_a_valid_run(name):
    """Each value of each swept parameter composes and passes the run's checks (prepare)."""
    for key, values in sweep_params(name).items():
        for value in values:
            task = job_config(name, (f"{key}={value}",), seed=0)
            job = prepare(task)
            if is_group(key):
                assert job.scenario.name == value
            else:
                assert OmegaConf.select(OmegaConf.create(task), key) == float(value)


def test_a_different_sweep_definition_gets_its_own_directory():
    dirs = {str(composed(name).hydra.sweep.dir).rsplit("-", 1)[1] for name in SWEPT}
    assert len(dirs) == len(SWEPT)


def _differences(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{path}.{k}".lstrip("."))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}.{i}")]
    return [] if a == b else [path]


@pytest.mark.parametrize("name, allowed", [
    ("allies", r"events\.2\.(participants|excluded)"),
    ("envoys", r"envoys\.\d\.channel"),
])
def test_scenario_variants_change_only_their_lever(name, allowed):
    """A variant copies alaska_2025's lists: it must still equal alaska_2025 but for its lever."""
    import re

    base = task_of(composed(name, ("scenario=alaska_2025",)))["scenario"]
    variants = [v for v in sweep_params(name)["scenario"] if v != "alaska_2025"]
    assert variants
    for variant in variants:
        scenario = task_of(composed(name, (f"scenario={variant}",)))["scenario"]
        changed = _differences(base, scenario)
        assert "name" in changed
        lever = [d for d in changed if re.fullmatch(allowed, d)]
        assert lever, f"{variant} changes nothing of its lever"
        assert set(changed) - set(lever) <= {"name", "description"}, f"{variant} also changes {set(changed) - set(lever)}"


def test_index_overrides_name_the_right_entities():
    secondary = task_of(composed("secondary_sanctions"))["scenario"]
    assert secondary["events"][3]["name"] == "india_oil_tariff" and secondary["events"][3]["kind"] == "secondary_sanction"
    reliability = task_of(composed("reliability"))["scenario"]
    assert reliability["states"][1]["name"] == "Russia"


def test_sensitivity_factors_are_coefficients_inside_their_declared_ranges():
    run_script = load_script(EXPERIMENTS / "sensitivity" / "run.py")
    factors = run_script.load_factors()
    assert 6 <= len(factors) <= 10
    problem = run_script.problem_of(factors)
    assert problem["num_vars"] == len(factors) and all(lo < hi for lo, hi in problem["bounds"])


# --- the tiny sweeps and the analysis scripts --------------------------------------------------------


def _simulate(jobs: list) -> list:
    """Each job's history, from ``simulate_batch`` calls of exactly BATCH runs (the last padded)."""
    from diplosim.app import _one_run

    use_compile_cache(jobs[0].config["engine"]["compile_cache"])
    histories = []
    for start in range(0, len(jobs), BATCH):
        chunk = jobs[start:start + BATCH]
        padded = chunk + [chunk[-1]] * (BATCH - len(chunk))
        worlds = [calibrate_trade(j.scenario.world, j.params) for j in padded]
        # placed on the device as the sensitivity script's worlds are, so both calls share one compiled program
        world = jax.device_put(jax.tree.map(lambda *xs: jnp.stack(xs), *worlds), padded[0].device)
        params = jax.tree.map(lambda *xs: jnp.stack(xs), *(j.params for j in padded))
        keys = jnp.stack([jax.random.key(j.config["seed"]) for j in padded])
        _, batch = simulate_batch(world, params, keys, STEPS, padded[0].spec, world_batched=True)
        histories += [_one_run(batch, r) for r in range(len(chunk))]
    return histories


def tiny_jobs(name: str) -> list[tuple[dict, object, dict]]:
    """The jobs of the experiment's tiny sweep: (config, prepared job, columns), as the batched
    launcher plans them (``diplosim.app.prepare``, ``diplosim.sweep.job_overrides``)."""
    params = {k: v.split(",") for k, v in TINY[name].items()} if name in TINY else sweep_params(name)
    jobs, scenarios = [], {}
    for setting in settings(name, params):
        for seed in SEEDS:
            task = job_config(name, setting, seed)
            choices = {o.split("=")[0]: o.split("=")[1] for o in setting if is_group(o.split("=")[0])}
            hydra_cfg = OmegaConf.create({"overrides": {"task": [*setting, f"seed={seed}", f"steps={STEPS}"]},
                                          "runtime": {"choices": choices}})
            key = json.dumps(task["scenario"], sort_keys=True)
            job = prepare(task, scenario=scenarios.get(key))
            scenarios[key] = job.scenario
            jobs.append((task, job, job_overrides(OmegaConf.create(task), hydra_cfg)))
    return jobs


@pytest.fixture(scope="module")
def tiny_sweeps(tmp_path_factory) -> dict[str, tuple[Path, int]]:
    """Every experiment's tiny sweep, simulated in one call and written job by job as ``run`` writes it."""
    root = tmp_path_factory.mktemp("experiments")
    planned = {name: tiny_jobs(name) for name in SWEPT}
    every = [job for jobs in planned.values() for _, job, _ in jobs]
    histories = iter(_simulate(every))
    for name, jobs in planned.items():
        for i, (task, job, columns) in enumerate(jobs):
            with simulated({job.run_id: Simulated(job, next(histories), 0.0)}):
                run(task, root / name / str(i), overrides=columns)
    return {name: (root / name, len(jobs)) for name, jobs in planned.items()}


@pytest.mark.parametrize("name", SWEPT)
def test_analysis_script_writes_plots_and_table(name, tiny_sweeps, tmp_path, capsys):
    sweep_dir, n_jobs = tiny_sweeps[name]
    script = load_script(EXPERIMENTS / name / "analyse.py")
    out = tmp_path / "results"
    assert script.main([str(sweep_dir), "--out", str(out)]) == 0
    for png in ("outcomes.png", "series.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "table.md").read_text()
    assert f"({n_jobs} runs, weeks 0-{STEPS})" in table and "95% CI" in table
    assert table in capsys.readouterr().out
    rows = list(csv.DictReader(open(out / "table.csv")))
    assert len(rows) == len(script.OUTCOMES) * n_jobs // len(SEEDS)  # one row per setting and outcome
    assert {int(r["n"]) for r in rows} == {len(SEEDS)}
    for r in rows:  # the CI holds the mean; the reference setting has no difference
        assert float(r["ci_low"]) <= float(r["mean"]) + 1e-9 and float(r["mean"]) <= float(r["ci_high"]) + 1e-9


def test_allies_analysis_reads_what_the_variants_did(tiny_sweeps, tmp_path):
    """A check of the numbers, not only the files: with the allies at the table nobody is excluded,
    so the summit of week 2 costs the European allies no trust in the United States."""
    sweep_dir, _ = tiny_sweeps["allies"]
    common = load_script(EXPERIMENTS / "common.py")
    ensemble = common.load_ensemble(sweep_dir)
    trust = ensemble.runs["allies_trust_in_us"]
    variant = ensemble.runs["scenario"]
    assert np.all(trust[variant == "alaska_2025_allies_included"].min() > trust[variant == "alaska_2025"].max())
    rows = common.compare(ensemble, "scenario", ["alaska_2025", "alaska_2025_allies_included"], ["allies_trust_in_us"])
    assert np.isnan(rows[0]["diff"]) and rows[1]["diff"] > 0


def test_sensitivity_tiny_mode_runs_and_analyses(tiny_sweeps, tmp_path, capsys):
    pytest.importorskip("SALib", reason="the sensitivity experiment needs SALib (pip install SALib)")
    run_script = load_script(EXPERIMENTS / "sensitivity" / "run.py")
    analyse = load_script(EXPERIMENTS / "sensitivity" / "analyse.py")
    samples = tmp_path / "sensitivity"
    args = ["--n", "8", "--steps", str(STEPS), "--batch", str(BATCH), "--replicates", "1", "--out", str(samples), "--no-progress"]
    assert run_script.main(args) == 0
    factors = run_script.load_factors()
    design, columns = analyse.read_samples(samples)
    assert len(columns["point"]) == 8 * (len(factors) + 2) and design["runs"] == len(columns["point"])
    out = tmp_path / "results"
    assert analyse.main([str(samples), "--out", str(out)]) == 0
    assert (out / "sobol.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(open(out / "table.csv")))
    assert len(rows) == len(factors) * len(run_script.OUTCOMES)
    table = (out / "table.md").read_text()
    assert all(f["name"] in table for f in factors)
    # over 4 weeks the exclusion at the summit is what moves NATO cohesion: its total index is the largest
    cohesion = {r["factor"]: float(r["ST"]) for r in rows if r["outcome"] == "cohesion_nato_eu"}
    assert max(cohesion, key=cohesion.get) == "exclusion_alliance"


@pytest.mark.slow
def test_documented_command_runs_the_experiment(tmp_path):
    """``diplosim -m --config-dir experiments/allies --config-name experiment`` (2 seeds, 4 weeks),
    from another directory, lands under outputs/experiments/allies/ and analyses."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "diplosim", "-m", "--config-dir", str(EXPERIMENTS / "allies"), "--config-name", "experiment",
               "seed=0,1", f"steps={STEPS}", "engine.progress=false"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (sweep_dir,) = (tmp_path / "outputs" / "experiments" / "allies").iterdir()
    script = load_script(EXPERIMENTS / "allies" / "analyse.py")
    assert script.main([str(tmp_path / "outputs" / "experiments" / "allies"), "--out", str(tmp_path / "results")]) == 0
    assert len(list(csv.DictReader(open(tmp_path / "results" / "table.csv")))) == 3 * len(script.OUTCOMES)
    assert sweep_dir.name.startswith("alaska_2025-")
