"""Sweeps run once per session and shared by the sweep tests: the basic and the batched launcher,
each killed part-way and started again with the same command (so each is also a resume test)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sweeps.runs import SWEEP, Resumed, kill_and_resume


@pytest.fixture(scope="session")
def sweep_cache() -> Path:
    """The XLA compile cache of the sweep subprocesses: the user's (as ``engine.compile_cache``
    defaults to), so a second test session skips compiling the sweep's two programs."""
    return Path(os.environ.get("DIPLOSIM_COMPILE_CACHE") or Path.home() / ".cache" / "diplosim" / "xla")


@pytest.fixture(scope="session")
def basic_sweep(tmp_path_factory, sweep_cache) -> Resumed:
    """``SWEEP`` with Hydra's basic launcher, killed after job 1, run again."""
    return kill_and_resume(tmp_path_factory.mktemp("basic"), SWEEP, kill_after_job=1, compile_cache=sweep_cache)


@pytest.fixture(scope="session")
def batched_sweep(tmp_path_factory, sweep_cache) -> Resumed:
    """``SWEEP`` with the batched launcher (2 runs per call, each call's 2 jobs written by this
    process and a forked writer), killed after job 0, run again."""
    argv = ("hydra/launcher=batched", "hydra.launcher.batch_size=2", "hydra.launcher.writers=2", *SWEEP)
    return kill_and_resume(tmp_path_factory.mktemp("batched"), argv, kill_after_job=0, compile_cache=sweep_cache)
