"""Crash safety: a run killed (SIGKILL) at any moment leaves nothing that reads as complete but is not,
and the same command run again completes it.

After each kill, every ``<table>.parquet`` present must open with pyarrow and equal the
uninterrupted run's table (rows and bytes); temporaries (``.<name>.<random>.tmp``) may remain
but are never read as data; ``diplosim.analysis.read_run`` either reads the whole run or says it
is incomplete.  The restarted run must write every table, byte-identical to the uninterrupted
run, and leave no temporaries.

The quick test (default suite) kills the small ``QUICK_RUN`` once, while it writes its tables.
The slow ones kill ``BIG_RUN`` at five moments: during start-up, two chosen at random (seeded)
and two at the table writes.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from diplosim.analysis import AnalysisError, read_run
from diplosim.io import TABLES
from reliability.runs import QUICK_RUN, run_diplosim, subprocess_env

BIG_RUN = ("scenario=synthetic", "scenario.n_states=2000", "steps=200", "output.plot=false", "engine.progress=false")
HYDRA_FILES = {".hydra", "cli.log"}


@dataclass
class Watched:
    """A run watched from outside: how it ended and when each name first appeared in its directory."""

    returncode: int
    seconds: float
    first_seen: dict[str, float]

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL

    def appeared(self, prefix: str) -> float:
        return min(t for name, t in self.first_seen.items() if name.startswith(prefix))


Trigger = Callable[[set[str], float], bool]  # (names in the run directory, seconds since start) -> kill now?


def watch(argv: tuple[str, ...], run_dir: Path, cwd: Path, compile_cache: Path, kill_when: Trigger | None = None,
          timeout: float = 300) -> Watched:
    """Run ``python -m diplosim`` and poll its directory every 2 ms; SIGKILL it as soon as ``kill_when`` says."""
    process = subprocess.Popen(
        [sys.executable, "-m", "diplosim", *argv, f"hydra.run.dir={run_dir}"],
        cwd=cwd, env=subprocess_env(compile_cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    first_seen: dict[str, float] = {}
    try:
        while process.poll() is None:
            now = time.monotonic() - started
            names = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else set()
            for name in names:
                first_seen.setdefault(name, now)
            if kill_when is not None and kill_when(names, now):
                process.send_signal(signal.SIGKILL)
                break
            if now > timeout:
                process.kill()
                pytest.fail(f"diplosim {' '.join(argv)} ran over {timeout} s")
            time.sleep(0.002)
    finally:
        process.wait()
    return Watched(process.returncode, time.monotonic() - started, first_seen)


def at_time(seconds: float) -> Trigger:
    return lambda names, now: now >= seconds


def when_present(prefix: str) -> Trigger:
    return lambda names, now: any(name.startswith(prefix) for name in names)


def assert_nothing_reads_as_complete_but_is_not(run_dir: Path, baseline: Path) -> tuple[list[str], set[str]]:
    """Check the directory a killed run left; returns the tables and the temporaries it holds."""
    names = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else set()
    tables = sorted(n for n in names if n.endswith(".parquet") and not n.startswith("."))
    temporaries = {n for n in names if n.startswith(".") and n.endswith(".tmp")}
    assert names - set(tables) - temporaries <= HYDRA_FILES, names
    for name in tables:
        table = pq.read_table(run_dir / name)  # opens: the footer is there
        assert table.num_rows == pq.read_metadata(baseline / name).num_rows, name
        assert (run_dir / name).read_bytes() == (baseline / name).read_bytes(), name
    if "events.parquet" in tables:  # written last: the run had finished writing
        run = read_run(run_dir)
        assert sorted(run) == sorted(TABLES)
    elif run_dir.is_dir():
        with pytest.raises(AnalysisError, match="incomplete run|no diplosim tables"):
            read_run(run_dir)
    return tables, temporaries


def assert_restart_completes(argv, run_dir: Path, baseline: Path, cwd: Path, compile_cache: Path) -> None:
    done = run_diplosim(*argv, f"hydra.run.dir={run_dir}", cwd=cwd, compile_cache=compile_cache)
    assert done.code == 0, done.err
    names = {p.name for p in run_dir.iterdir()}
    assert names == HYDRA_FILES | {f"{name}.parquet" for name in TABLES}, names  # no temporaries left
    for name in TABLES:
        assert (run_dir / f"{name}.parquet").read_bytes() == (baseline / f"{name}.parquet").read_bytes(), name
    assert sorted(read_run(run_dir)) == sorted(TABLES)


def test_run_killed_while_writing_its_tables_then_restarted(reference_run, compile_cache, tmp_path):
    """The quick version: one kill, as soon as the first table is in place and the others are not yet."""
    run_dir = tmp_path / "run"
    for _attempt in range(3):  # the write window is short; a run that beat the kill is tried again
        watched = watch(QUICK_RUN, run_dir, tmp_path, compile_cache, kill_when=when_present("metrics.parquet"))
        if watched.killed:
            break
    assert watched.killed, "the run finished before it could be killed"
    tables, _ = assert_nothing_reads_as_complete_but_is_not(run_dir, reference_run)
    assert "metrics.parquet" in tables
    assert_restart_completes(QUICK_RUN, run_dir, reference_run, tmp_path, compile_cache)


# --- slow: a bigger run killed at four moments ----------------------------------------------------


@pytest.fixture(scope="module")
def big_baseline(tmp_path_factory, compile_cache) -> tuple[Path, Watched]:
    """An uninterrupted ``BIG_RUN`` (it also fills the compile cache), watched for its timing."""
    base = tmp_path_factory.mktemp("big")
    run_dir = base / "run"
    watch(BIG_RUN, run_dir, base, compile_cache)  # compiles
    timed_dir = base / "timed"
    watched = watch(BIG_RUN, timed_dir, base, compile_cache)  # the timing of a run with a warm cache
    assert watched.returncode == 0
    return timed_dir, watched


RNG = random.Random(20250815)
RANDOM_FRACTIONS = (RNG.uniform(0.25, 0.95), RNG.uniform(0.05, 1.0))

KILLS = {
    # while starting up: Python, JAX and Hydra loading, the run directory not yet made
    "during_start_up": lambda w: at_time(0.5 * w.appeared(".hydra")),
    # while simulating: a random moment before the first table is written
    "random_during_simulation": lambda w: at_time(RANDOM_FRACTIONS[0] * w.appeared(".metrics.parquet")),
    # half-way through writing the largest table
    "while_writing_dyads": lambda w: when_present(".dyads.parquet"),
    # between two tables: states in place, dyads not yet
    "between_tables": lambda w: when_present("states.parquet"),
    # a random moment of the whole run
    "random_any_time": lambda w: at_time(RANDOM_FRACTIONS[1] * w.seconds),
}


@pytest.mark.slow
@pytest.mark.parametrize("moment", list(KILLS))
def test_big_run_killed_then_restarted(big_baseline, compile_cache, tmp_path, moment):
    baseline, timing = big_baseline
    run_dir = tmp_path / "run"
    watched = watch(BIG_RUN, run_dir, tmp_path, compile_cache, kill_when=KILLS[moment](timing))
    print(f"{moment}: killed={watched.killed} after {watched.seconds:.2f} s "
          f"(uninterrupted run: {timing.seconds:.2f} s, first table at {timing.appeared('.metrics.parquet'):.2f} s)")
    if moment != "random_any_time":  # the random moment may fall after the end
        assert watched.killed
    tables, temporaries = assert_nothing_reads_as_complete_but_is_not(run_dir, baseline)
    if moment == "while_writing_dyads":  # the half-written table is there, under a name no reader takes
        assert "dyads.parquet" not in tables and any(t.startswith(".dyads.parquet.") for t in temporaries)
    assert_restart_completes(BIG_RUN, run_dir, baseline, tmp_path, compile_cache)
