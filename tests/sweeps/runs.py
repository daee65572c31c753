"""Helpers of the sweep tests: a tiny sweep run, killed part-way and run again, as a user would."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from reliability.runs import Outcome, run_diplosim, subprocess_env

TABLES = ("metrics", "states", "dyads", "events")
# 6 jobs of a small world, a few steps: the sweep every test here runs (with one launcher or another)
SWEEP = (
    "seed=0,1", "dynamics.trade_relax=0.1,0.5",
    "scenario=synthetic", "scenario.n_states=40", "steps=6", "output.every=2", "output.plot=false", "engine.progress=false",
)
N_JOBS = 4


@dataclass
class Resumed:
    """A sweep killed (SIGKILL) part-way, then run again with the same command line."""

    work: Path  # the working directory both commands ran in
    sweep_dir: Path
    killed_code: int
    complete_before: dict[str, dict[str, int]]  # job -> table -> st_mtime_ns, of the jobs complete at the kill
    again: Outcome
    seen_after_kill: list[int] = field(default_factory=list)  # the jobs load_sweep read after the kill


def sweep_dirs(work: Path) -> list[Path]:
    root = work / "outputs" / "sweeps"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def complete_jobs(sweep_dir: Path) -> dict[str, dict[str, int]]:
    """The jobs whose tables read as one whole run, with each table's modification time."""
    from diplosim.analysis import AnalysisError, read_run

    done = {}
    for job in sorted(p for p in sweep_dir.iterdir() if p.name.isdigit()):
        try:
            read_run(job, tables=())
        except AnalysisError:
            continue
        done[job.name] = {t: (job / f"{t}.parquet").stat().st_mtime_ns for t in TABLES if (job / f"{t}.parquet").exists()}
    return done


def kill_and_resume(work: Path, argv: tuple[str, ...], kill_after_job: int, compile_cache: Path, timeout: float = 240) -> Resumed:
    """Run ``diplosim -m *argv`` from ``work`` (default sweep directory), SIGKILL it as soon as job
    ``kill_after_job`` has written its last table, then run the same command again to the end."""
    from diplosim.analysis import load_sweep

    command = ("-m", *argv)
    work.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "diplosim", *command], cwd=work, env=subprocess_env(compile_cache),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    try:
        while process.poll() is None:
            found = sweep_dirs(work)
            if found and (found[0] / str(kill_after_job) / "events.parquet").exists():
                process.send_signal(signal.SIGKILL)
                break
            if time.monotonic() - started > timeout:
                process.kill()
                raise AssertionError(f"diplosim {' '.join(command)} ran over {timeout} s")
            time.sleep(0.005)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, f"the sweep ended before it was killed: {process.stderr.read()[-2000:]}"
    (sweep_dir,) = sweep_dirs(work)
    complete = complete_jobs(sweep_dir)
    seen = sorted(set(load_sweep(sweep_dir, columns=["job"]).column("job").to_pylist()))
    again = run_diplosim(*command, cwd=work, compile_cache=compile_cache, timeout=timeout)
    return Resumed(work, sweep_dir, process.returncode, complete, again, seen)
