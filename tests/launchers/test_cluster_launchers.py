"""The cluster launcher presets in src/diplosim/conf/hydra/launcher/, through their local modes.

``local_jobs`` (submitit's local executor) runs each job of a small sweep in its own process; its
tables must equal those of Hydra's basic launcher for the same jobs.  ``ray_jobs`` does the same
on a Ray started on this machine (slow; skipped where hydra-ray-launcher is not installed, as in
the ``test`` extra).  ``slurm`` and ``slurm_gpu`` are checked by composition only: no SLURM here.

Every sweep runs ``python -m diplosim`` in a subprocess, from an empty working directory, with one
compile cache for the module, so only the basic launcher's sweep compiles the model.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from hydra import compose, initialize_config_module

from diplosim.config import register_configs

# two jobs of a small world; the same overrides for every launcher, so the same jobs (same run ids)
SWEEP = ("scenario=synthetic", "scenario.n_states=40", "steps=5", "seed=0,1", "output.plot=false", "engine.progress=false")
JOBS = ("0", "1")
TABLES = ("metrics", "states", "dyads", "events")
HAS_RAY = importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None


def sweep(sweep_dir: Path, *extra: str, cache: Path, timeout: float = 400) -> subprocess.CompletedProcess:
    """``diplosim -m <SWEEP> <extra>`` into ``sweep_dir``, in a subprocess on the CPU."""
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "RAY_ADDRESS")}
    env.update(DIPLOSIM_COMPILE_CACHE=str(cache), JAX_PLATFORMS="cpu")
    work = sweep_dir.parent / f"{sweep_dir.name}_cwd"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "diplosim", "-m", *SWEEP, *extra, f"hydra.sweep.dir={sweep_dir}"],
        cwd=work, env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("xla_cache")


@pytest.fixture(scope="module")
def basic_sweep(tmp_path_factory, cache) -> Path:
    """The sweep under Hydra's basic launcher: the reference every other launcher must match."""
    sweep_dir = tmp_path_factory.mktemp("basic") / "sweep"
    sweep(sweep_dir, cache=cache)
    return sweep_dir


def assert_same_jobs(sweep_dir: Path, reference: Path) -> None:
    """Each job's tables exist and equal the reference's (values, schema and metadata: config, run id)."""
    for job in JOBS:
        for table in TABLES:
            path = sweep_dir / job / f"{table}.parquet"
            assert path.is_file(), f"{path} is missing"
            got, want = pq.read_table(path), pq.read_table(reference / job / f"{table}.parquet")
            assert got.num_rows > 0 or table == "events"
            assert got.equals(want, check_metadata=True), f"job {job}: {table} differs from the basic launcher's"
        overrides = yaml.safe_load((sweep_dir / job / ".hydra" / "overrides.yaml").read_text())
        assert overrides == yaml.safe_load((reference / job / ".hydra" / "overrides.yaml").read_text())


def launcher_target(sweep_dir: Path, job: str) -> str:
    return yaml.safe_load((sweep_dir / job / ".hydra" / "hydra.yaml").read_text())["hydra"]["launcher"]["_target_"]


def test_local_jobs_sweep_equals_the_basic_launcher(tmp_path, basic_sweep, cache):
    sweep_dir = tmp_path / "sweep"
    sweep(sweep_dir, "hydra/launcher=local_jobs", cache=cache)
    assert_same_jobs(sweep_dir, basic_sweep)
    assert launcher_target(sweep_dir, "0").endswith("submitit_launcher.LocalLauncher")
    # each job ran in a process of its own, which submitit recorded under the sweep directory
    results = sorted((sweep_dir / ".submitit").glob("*/*_0_result.pkl"))
    assert len(results) == len(JOBS)
    assert len({p.parent.name for p in results}) == len(JOBS)  # two submitit jobs, two process ids
    for result in results:
        log = result.with_name(result.name.replace("_result.pkl", "_log.out")).read_text()
        assert "diplosim run " in log and "scenario synthetic, 40 states, 5 steps" in log


@pytest.mark.slow
@pytest.mark.skipif(not HAS_RAY, reason="hydra-ray-launcher is not installed (pip install -e '.[ray]')")
def test_ray_jobs_sweep_on_loopback_equals_the_basic_launcher(tmp_path, basic_sweep, cache):
    """A Ray cluster started for the sweep on 127.0.0.1 only; torn down when the sweep ends."""
    ray_temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's socket paths must stay short
    sweep_dir = tmp_path / "sweep"
    try:
        sweep(
            sweep_dir, "hydra/launcher=ray_jobs",
            "++hydra.launcher.ray.init._node_ip_address=127.0.0.1", f"++hydra.launcher.ray.init._temp_dir={ray_temp}",
            "++hydra.launcher.ray.init.num_cpus=2", cache=cache,
        )
    finally:
        shutil.rmtree(ray_temp, ignore_errors=True)
    assert_same_jobs(sweep_dir, basic_sweep)
    assert launcher_target(sweep_dir, "0").endswith("ray_launcher.RayLauncher")


def _launcher(name: str, *overrides: str):
    register_configs()
    with initialize_config_module(config_module="diplosim.conf", version_base="1.3"):
        return compose("config", overrides=[f"hydra/launcher={name}", *overrides], return_hydra_config=True).hydra


def test_slurm_presets_extend_the_plugin_config():
    hydra = _launcher("slurm", "hydra.launcher.partition=short")
    slurm = hydra.launcher
    assert slurm._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (slurm.partition, slurm.cpus_per_task, slurm.mem_gb, slurm.gpus_per_node) == ("short", 4, 16, None)
    assert slurm.array_parallelism == 64 and slurm.submitit_folder == f"{hydra.sweep.dir}/.submitit/%j"
    gpu = _launcher("slurm_gpu").launcher
    assert gpu._target_ == slurm._target_
    assert (gpu.gpus_per_node, gpu.mem_gb, gpu.array_parallelism) == (1, 32, 64)  # the rest from slurm
    local = _launcher("local_jobs").launcher
    assert local._target_.endswith("submitit_launcher.LocalLauncher") and local.timeout_min == 60


@pytest.mark.skipif(not HAS_RAY, reason="hydra-ray-launcher is not installed (pip install -e '.[ray]')")
def test_ray_preset_extends_the_plugin_config():
    ray = _launcher("ray_jobs", "hydra.launcher.ray.remote.num_gpus=1").launcher
    assert ray._target_.endswith("ray_launcher.RayLauncher")
    assert ray.ray.init.address is None and dict(ray.ray.remote) == {"num_cpus": 1, "num_gpus": 1, "max_calls": 1}
