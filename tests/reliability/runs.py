"""Helpers of the reliability tests: the CLI as a subprocess, and what a command did."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# a small world that still writes all four tables; the reproducibility and quick crash tests share it
QUICK_RUN = ("scenario=synthetic", "scenario.n_states=300", "steps=40", "output.plot=false", "engine.progress=false")


@dataclass
class Outcome:
    """What one command did: exit status, stdout, the non-empty stderr lines, the working directory."""

    code: int | str | None
    out: str
    err_lines: list[str]
    err: str
    work: Path

    def left_files(self) -> list[Path]:
        return sorted(self.work.rglob("*"))


def subprocess_env(compile_cache: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["DIPLOSIM_COMPILE_CACHE"] = str(compile_cache) if compile_cache else ""
    env.setdefault("JAX_PLATFORMS", "cpu")
    return env


def run_diplosim(*argv: str, cwd: Path, compile_cache: Path | None = None, timeout: float = 300) -> Outcome:
    """``python -m diplosim ...`` in a subprocess, from ``cwd``."""
    done = subprocess.run(
        [sys.executable, "-m", "diplosim", *argv],
        cwd=cwd, env=subprocess_env(compile_cache), capture_output=True, text=True, timeout=timeout,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return Outcome(done.returncode, done.stdout, lines, done.stderr, cwd)
