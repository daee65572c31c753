"""Per-step time of the full model (every mechanism on) for the Alaska scenario and synthetic worlds.

    .venv/bin/python benchmarks/step_time.py [--sizes 1000 100000] [--steps 20] [--repeats 5]

For each world: compile time of one chunk of ``steps`` steps, then the
median over ``repeats`` of the time to run it again (per step), with the
states snapshot sampled every step and the endogenous event log on, as in a
default run.  Appends rows to benchmarks/results/step_time.csv and rewrites
benchmarks/results/step_time.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import platform
import statistics
import time
from pathlib import Path

import jax

from diplosim.engine import RunSpec, _run_chunk
from diplosim.mechanisms.trade import calibrate_trade
from diplosim.params import params_from
from diplosim.scenario import load_scenario_file, synthetic_scenario

RESULTS = Path(__file__).parent / "results"
COLUMNS = ["date", "machine", "cpu_count", "jax", "backend", "world", "states", "dyads", "steps",
           "compile_s", "step_ms_median", "step_ms_min", "step_ms_max"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return cpu


def measure(name: str, scenario, steps: int, repeats: int) -> dict:
    params = params_from()
    world = calibrate_trade(scenario.world, params)
    key = jax.random.key(0)
    spec = RunSpec(every=1, sample_states=True, sample_dyads=False, event_capacity=64)
    started = time.perf_counter()
    compiled = _run_chunk.lower(world, params, key, spec=spec, samples=steps, every=1).compile()
    compile_s = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(compiled(world, params, key))
        times.append((time.perf_counter() - started) / steps * 1e3)
    return {
        "date": datetime.date.today().isoformat(), "machine": machine(), "cpu_count": jax.local_device_count() if jax.default_backend() != "cpu" else __import__("os").cpu_count(),
        "jax": jax.__version__, "backend": jax.default_backend(), "world": name,
        "states": world.n_states, "dyads": world.n_dyads, "steps": steps, "compile_s": round(compile_s, 2),
        "step_ms_median": round(statistics.median(times), 3), "step_ms_min": round(min(times), 3), "step_ms_max": round(max(times), 3),
    }


def write(rows: list[dict]) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "step_time.csv"
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(rows)
    with path.open() as f:
        table = list(csv.DictReader(f))
    lines = ["# Per-step time of the full model", "", "Written by `benchmarks/step_time.py`; medians over repeats of a compiled chunk.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in table]
    (RESULTS / "step_time.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 100_000], help="synthetic world sizes (states)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = [measure("alaska_2025", load_scenario_file("conf/scenario/alaska_2025.yaml"), args.steps, args.repeats)]
    print(rows[-1])
    for n in args.sizes:
        rows.append(measure(f"synthetic_{n}", synthetic_scenario(n, n_envoys=max(4, n // 1000)), args.steps, args.repeats))
        print(rows[-1])
    write(rows)


if __name__ == "__main__":
    main()
