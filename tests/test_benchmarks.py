"""``benchmarks/profile.py`` reads JAX's profiler trace back, whose format changes between JAX versions:
it must still attribute the step's kernels to the mechanisms, for a single world and for
``simulate_batch`` (``--batch``), or a GPU visit comes back with an empty profile."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("mode, name", [(["--states", "300"], "profile_cpu.md"), (["--batch", "3"], "profile_cpu_batch.md")])
def test_profile_attributes_the_kernels_to_mechanisms(tmp_path, mode, name):
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks/profile.py"), *mode, "--steps", "2", "--top", "40",
                           "--results", str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    text = (tmp_path / name).read_text()
    timed = float(re.search(r"operations timed: ([\d.]+) ms per step \((\d+) distinct", text).group(1))
    assert timed > 0
    table = text.split("## By mechanism\n", 1)[1].split("##", 1)[0]
    mechanisms = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "---" not in line}
    assert {"tension", "trade", "decisions"} <= mechanisms, table
    if "--batch" in mode:
        assert "simulate_batch" in text.splitlines()[0] and "3 runs of the Alaska scenario" in text
