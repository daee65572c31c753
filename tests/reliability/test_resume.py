"""A sweep killed part-way and started again into the same sweep directory completes the missing jobs only.

Here the sweep directory is given (``hydra.sweep.dir``) and the damage is made by hand; the sweeps
killed with SIGKILL and resumed with the same command line, in the default directory, with the
basic and the batched launcher, are in tests/sweeps/test_resume_sweeps.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability.runs import QUICK_RUN, run_diplosim

TABLES = ("metrics.parquet", "states.parquet", "dyads.parquet", "events.parquet")


def _tables(job: Path) -> dict[str, bytes]:
    return {name: (job / name).read_bytes() for name in TABLES}


@pytest.mark.slow  # (the default suite resumes killed sweeps in tests/sweeps/test_resume_sweeps.py)
def test_a_restarted_sweep_redoes_only_the_unfinished_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    command = ("-m", "seed=0,1,2", *QUICK_RUN, f"hydra.sweep.dir={sweep}")
    first = run_diplosim(*command, cwd=tmp_path, compile_cache=tmp_path / "xla")
    assert first.code == 0, first.err
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == ["0", "1", "2"]
    complete = {job.name: _tables(job) for job in jobs}
    stamps = {job.name: (job / "metrics.parquet").stat().st_mtime_ns for job in jobs}

    # job 1 died while writing its last table; job 2 before writing any
    (jobs[1] / "events.parquet").unlink()
    for name in TABLES:
        (jobs[2] / name).unlink()
    again = run_diplosim(*command, cwd=tmp_path, compile_cache=tmp_path / "xla")
    assert again.code == 0, again.err
    assert again.out.count("already complete") == 1  # job 0
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1", "2", "dataset"]  # nothing duplicated
    assert (jobs[0] / "metrics.parquet").stat().st_mtime_ns == stamps["0"]  # not rewritten
    for job in jobs:
        assert _tables(job) == complete[job.name], job.name  # nothing lost, the same bytes as before
        for name in TABLES:  # the sweep dataset holds every job's tables, once
            assert (sweep / "dataset" / name.removesuffix(".parquet") / f"job={job.name}" / "part-0.parquet").read_bytes() == complete[job.name][name]
