"""The batched launcher writes what the basic launcher writes, for the same jobs; the joblib launcher too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from reliability.runs import run_diplosim
from sweeps.runs import N_JOBS, SWEEP, TABLES, sweep_dirs


def assert_tables_equal(mine: pa.Table, theirs: pa.Table, where: str) -> None:
    """Same schema, same rows; floats within 1e-6 relative (vmapping may reorder a sum), the rest exactly."""
    assert mine.schema.equals(theirs.schema), where
    assert mine.num_rows == theirs.num_rows, where
    for name in mine.column_names:
        a, b = mine.column(name), theirs.column(name)
        if pa.types.is_floating(a.type):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-6, atol=1e-6, err_msg=f"{where}: {name}")
        else:
            assert a.equals(b), f"{where}: {name}"


def _files(job: Path) -> list[str]:
    return sorted(str(p.relative_to(job)) for p in job.rglob("*") if p.is_file())


def test_batched_launcher_writes_the_basic_launchers_tables(basic_sweep, batched_sweep):
    for i in range(N_JOBS):
        basic, batched = basic_sweep.sweep_dir / str(i), batched_sweep.sweep_dir / str(i)
        assert _files(batched) == _files(basic)
        for table in TABLES:
            mine, theirs = pq.read_table(batched / f"{table}.parquet"), pq.read_table(basic / f"{table}.parquet")
            assert_tables_equal(mine, theirs, f"job {i} {table}")
            assert mine.schema.metadata == theirs.schema.metadata  # the same run record: config, run id, overrides


def test_batched_launcher_writes_the_basic_launchers_hydra_records(basic_sweep, batched_sweep):
    for i in range(N_JOBS):
        basic, batched = basic_sweep.sweep_dir / str(i) / ".hydra", batched_sweep.sweep_dir / str(i) / ".hydra"
        for name in ("config.yaml", "overrides.yaml"):
            assert (batched / name).read_text() == (basic / name).read_text(), f"job {i} {name}"
        mine, theirs = (yaml.safe_load((d / "hydra.yaml").read_text())["hydra"] for d in (batched, basic))
        assert mine["launcher"]["_target_"].endswith("BatchedLauncher")
        assert mine["job"] == theirs["job"] and mine["job"]["num"] == i
        assert mine["overrides"]["task"] == theirs["overrides"]["task"]
        assert Path(mine["runtime"]["output_dir"]).relative_to(batched_sweep.work) == Path(
            theirs["runtime"]["output_dir"]).relative_to(basic_sweep.work)


def test_batched_launcher_groups_by_shape(batched_sweep):
    log = batched_sweep.again.out  # Hydra logs to stdout
    assert f"Batched launcher: {N_JOBS} jobs, " in log and "in 1 group(s)" in log


def test_joblib_launcher_writes_the_same_tables_and_the_dataset(tmp_path, sweep_cache, basic_sweep):
    done = run_diplosim("-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *SWEEP, cwd=tmp_path, compile_cache=sweep_cache)
    assert done.code == 0, done.err
    (sweep_dir,) = sweep_dirs(tmp_path)
    assert sweep_dir.name == basic_sweep.sweep_dir.name  # Hydra's own overrides do not rename the sweep
    for i in range(N_JOBS):
        for table in TABLES:
            assert pq.read_table(sweep_dir / str(i) / f"{table}.parquet").equals(
                pq.read_table(basic_sweep.sweep_dir / str(i) / f"{table}.parquet")), f"job {i} {table}"
    parts = sorted(p.parent.name for p in (sweep_dir / "dataset" / "metrics").glob("job=*/part-0.parquet"))
    assert parts == sorted(f"job={i}" for i in range(N_JOBS))


def _job(*overrides: str):
    from hydra import compose, initialize_config_module

    from diplosim.app import prepare
    from diplosim.config import register_configs

    register_configs()
    with initialize_config_module(config_module="diplosim.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=["scenario=synthetic", "scenario.n_states=30", *overrides])
    return prepare(cfg)


def test_jobs_group_on_everything_but_seed_dynamics_and_where_output_goes():
    base = _job().batch_key
    for same in ("seed=7", "dynamics.trade_relax=0.9", "output.plot=false", "output.dir=/tmp/x", "engine.progress=false"):
        assert _job(same).batch_key == base, same
    for other in ("steps=50", "scenario.n_states=31", "scenario.generator_seed=1", "engine.mechanisms.trade=false",
                  "output.every=2", "output.dyads=false", "engine.event_log_capacity=8", "engine.guard=flag"):
        assert _job(other).batch_key != base, other


@pytest.mark.slow
def test_batched_launcher_splits_groups_by_steps_and_matches_the_basic_launcher(tmp_path, sweep_cache):
    sweep = ("seed=0,1", "steps=3,4", "scenario=synthetic", "scenario.n_states=40", "output.plot=false", "engine.progress=false")
    runs = {}
    for launcher in ("basic", "batched"):
        (tmp_path / launcher).mkdir()
        done = run_diplosim("-m", f"hydra/launcher={launcher}", *sweep, cwd=tmp_path / launcher, compile_cache=sweep_cache)
        assert done.code == 0, done.err
        (runs[launcher],) = sweep_dirs(tmp_path / launcher)
        if launcher == "batched":
            assert "4 to simulate in 2 group(s)" in done.out
    for i in range(4):
        for table in TABLES:
            assert_tables_equal(pq.read_table(runs["batched"] / str(i) / f"{table}.parquet"),
                                pq.read_table(runs["basic"] / str(i) / f"{table}.parquet"), f"job {i} {table}")


def test_calls_are_made_up_to_a_power_of_two_runs():
    from hydra_plugins.diplosim_batched._core import padded

    assert padded(["a", "b", "c"], 4096) == ["a", "b", "c", "c"]
    assert padded(["a", "b", "c"], 3) == ["a", "b", "c"]  # never beyond batch_size
    assert len(padded(list(range(33)), 4096)) == 64 and len(padded([0], 8)) == 1


def test_jobs_are_taken_a_window_at_a_time(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from hydra_plugins.diplosim_batched import _core

    windows = []
    monkeypatch.setattr(_core, "WINDOW", 2)
    monkeypatch.setattr(_core, "_launch_window", lambda launcher, jobs, scenarios: windows.append(jobs) or [i for i, _ in jobs])
    config = OmegaConf.create({"hydra": {"hydra_logging": None, "verbose": False, "sweep": {"dir": str(tmp_path)}}})
    launcher = SimpleNamespace(config=config, batch_size=0)
    assert _core.launch(launcher, [["seed=0"], ["seed=1"], ["seed=2"]], initial_job_idx=10) == [10, 11, 12]
    assert windows == [[(10, ["seed=0"]), (11, ["seed=1"])], [(12, ["seed=2"])]]
    launcher.batch_size = 3  # a larger batch_size widens the window
    windows.clear()
    _core.launch(launcher, [["seed=0"], ["seed=1"], ["seed=2"]], initial_job_idx=0)
    assert len(windows) == 1


@pytest.mark.parametrize(("settings", "message"), [
    ({"batch_size": -1}, "hydra.launcher.batch_size = -1: must be >= 0 (0: automatic)"),
    ({"memory_fraction": 1.5}, "hydra.launcher.memory_fraction = 1.5: must be in (0, 1]"),
    ({"writers": -2}, "hydra.launcher.writers = -2: must be >= 0 (0: one per core)"),
])
def test_launcher_settings_are_checked_in_one_line(settings, message):
    from types import SimpleNamespace

    from hydra_plugins.diplosim_batched.batched_launcher import BatchedLauncher

    with pytest.raises(ValueError) as caught:
        BatchedLauncher(**settings).setup(hydra_context=SimpleNamespace(config_loader=None), task_function=None, config=None)
    assert str(caught.value) == message


def test_batched_launcher_writes_as_run_job_with_chdir_and_env_set(tmp_path, sweep_cache):
    """The batched launcher writes its simulated jobs with run_job's steps (``_records``): with
    ``hydra.job.chdir=true`` and an ``env_set`` the files, records and job logs are the basic
    launcher's, and the process comes back to where it started.  Jobs 1 and 2 are written by a
    forked writer process (``hydra.launcher.writers=2``), plots included."""
    sweep = ("seed=0,1,2", "scenario=synthetic", "scenario.n_states=30", "steps=3", "output.plot=true",
             "engine.progress=false", "hydra.job.chdir=true", "+hydra.job.env_set.DIPLOSIM_TEST_ENV=set")
    logs = {}
    for launcher in ("basic", "batched"):
        work = tmp_path / launcher
        work.mkdir()
        settings = ("hydra.launcher.writers=2",) if launcher == "batched" else ()
        done = run_diplosim("-m", f"hydra/launcher={launcher}", *settings, "hydra.sweep.dir=sweep", *sweep, cwd=work,
                            compile_cache=sweep_cache)
        assert done.code == 0, done.err
        assert sorted(p.name for p in work.iterdir()) == ["sweep"]  # nothing written where it started
        logs[launcher] = work / "sweep"
    for i in range(3):
        basic, batched = logs["basic"] / str(i), logs["batched"] / str(i)
        assert _files(batched) == _files(basic)
        for name in (".hydra/config.yaml", ".hydra/overrides.yaml"):
            assert (batched / name).read_text() == (basic / name).read_text(), f"job {i} {name}"
        mine, theirs = (yaml.safe_load((d / ".hydra/hydra.yaml").read_text())["hydra"]["job"] for d in (batched, basic))
        assert mine == theirs and mine["env_set"] == {"DIPLOSIM_TEST_ENV": "set"} and mine["chdir"] is True
        strip = lambda text: [line.split("]", 2)[-1] for line in text.splitlines()]  # noqa: E731  (timestamps)
        (log_a,), (log_b,) = batched.glob("*.log"), basic.glob("*.log")
        assert strip(log_a.read_text()) == strip(log_b.read_text()), f"job {i} log"
