"""A sweep killed part-way (SIGKILL) and started again with the same command line completes the
missing jobs only, with the basic and with the batched launcher: none lost, none duplicated,
nothing complete recomputed, no half-written file read as data."""

from __future__ import annotations

import pytest

from sweeps.runs import N_JOBS, TABLES, Resumed, complete_jobs, sweep_dirs


@pytest.fixture(params=["basic_sweep", "batched_sweep"])
def resumed(request) -> Resumed:
    return request.getfixturevalue(request.param)


def test_the_same_command_goes_on_in_the_same_directory(resumed):
    assert resumed.again.code == 0, resumed.again.err
    assert sweep_dirs(resumed.work) == [resumed.sweep_dir]  # no second sweep directory
    assert resumed.sweep_dir.name.startswith("synthetic-")


def test_every_job_exists_exactly_once_and_is_complete(resumed):
    jobs = sorted(p.name for p in resumed.sweep_dir.iterdir() if p.is_dir() and p.name.isdigit())
    assert jobs == [str(i) for i in range(N_JOBS)]
    assert sorted(complete_jobs(resumed.sweep_dir)) == jobs
    assert not list(resumed.sweep_dir.rglob("*.tmp"))  # no temporaries left behind


def test_jobs_complete_at_the_kill_are_not_recomputed(resumed):
    assert resumed.complete_before, "the kill came before any job was complete"
    assert len(resumed.complete_before) < N_JOBS, "the kill came after every job was complete"
    after = complete_jobs(resumed.sweep_dir)
    for job, stamps in resumed.complete_before.items():
        assert after[job] == stamps, f"job {job} was written again"
    assert resumed.again.out.count("already complete") == len(resumed.complete_before)


def test_after_the_kill_only_complete_jobs_read_as_data(resumed):
    assert resumed.seen_after_kill == sorted(int(j) for j in resumed.complete_before)


def test_the_dataset_holds_every_job_once(resumed):
    from diplosim.analysis import load_sweep

    metrics = load_sweep(resumed.sweep_dir)
    jobs = metrics.column("job").to_pylist()
    assert sorted(set(jobs)) == list(range(N_JOBS))
    assert all(jobs.count(j) == 7 for j in range(N_JOBS))  # steps 0..6, once each
    assert len(set(metrics.column("run_id").to_pylist())) == N_JOBS
    for table in TABLES:
        parts = sorted((resumed.sweep_dir / "dataset" / table).glob("job=*/*.parquet"))
        assert [p.parent.name for p in parts] == sorted(f"job={j}" for j in range(N_JOBS))
