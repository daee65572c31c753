"""Shared fixtures of the reliability tests: the CLI in-process and as a subprocess, and real runs.

Real runs go through ``python -m diplosim`` in a subprocess with one compile cache for the
whole session, so only the first run of a shape compiles.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from diplosim import cli
from reliability.runs import QUICK_RUN, Outcome, run_diplosim


@pytest.fixture
def diplosim_cli(monkeypatch, capsys, tmp_path):
    """Call ``diplosim.cli.main`` in-process with the given arguments, from an empty working directory.

    Hydra reads ``sys.argv`` and sets up logging on each call; the root logger's handlers are put
    back afterwards so that no handler keeps writing into a finished capture.
    """
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def call(*argv: str) -> Outcome:
        monkeypatch.setattr(sys, "argv", ["diplosim", *argv])
        try:
            cli.main()
            code = 0
        except SystemExit as done:
            code = done.code
        captured = capsys.readouterr()
        lines = [line for line in captured.err.splitlines() if line.strip()]
        return Outcome(code, captured.out, lines, captured.err, work)

    yield call
    for handler in root.handlers[:]:
        if handler not in saved[0]:
            root.removeHandler(handler)
            handler.close()
    for handler in saved[0]:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(saved[1])


@pytest.fixture(scope="session")
def compile_cache(tmp_path_factory) -> Path:
    """One XLA compile cache for every subprocess run of the session."""
    return tmp_path_factory.mktemp("xla_cache")


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory, compile_cache) -> Path:
    """An uninterrupted run of ``QUICK_RUN`` (seed 0): the directory holding its tables."""
    base = tmp_path_factory.mktemp("reference")
    run_dir = base / "run"
    done = run_diplosim(*QUICK_RUN, f"hydra.run.dir={run_dir}", cwd=base, compile_cache=compile_cache)
    assert done.code == 0, done.err
    return run_dir
