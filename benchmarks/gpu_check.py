"""Do a GPU and the CPU compute the same model?  Runs the same worlds on both and compares.

    python benchmarks/gpu_check.py                 # Alaska and synthetic 10^4 states
    python benchmarks/gpu_check.py --steps 8 104   # chosen horizons

Needs a machine where JAX sees a GPU (``pip install -e '.[cuda]'``).  Writes
``benchmarks/results/gpu_check.csv`` and ``gpu_check.md``: for each world,
horizon and state/dyad variable, the largest relative difference between the
GPU's and the CPU's world (``|gpu - cpu| / max(|cpu|, 1e-3)``).

What to expect: float32 sums over dyads run in another order on a GPU
(scatter-adds and tree reductions), so the two differ from the first step in
the last bits (relative 1e-6 .. 1e-5).  The model's conflict-tension feedback
amplifies such differences over time (the docking test measured about 3% per
step), so over long horizons compare ensemble statistics, not single runs;
integer fields (agreements, events) agree until a threshold is crossed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import jax
import numpy as np
from suite import arguments, whole_number, write_markdown

RESULTS = Path(__file__).parent / "results"
COLUMNS = ["date", "machine", "jax", "world", "steps", "variable", "max_rel_diff", "where"]


def worlds() -> dict:
    from diplosim.scenario import load_scenario_file, synthetic_scenario

    alaska = load_scenario_file(Path(__file__).parents[1] / "src/diplosim/conf/scenario/alaska_2025.yaml")
    return {"alaska_2025": alaska.world, "synthetic_10000": synthetic_scenario(10_000, n_envoys=10).world}


def final_world(world, steps: int, device):
    from diplosim.engine import RunSpec, simulate
    from diplosim.mechanisms.trade import calibrate_trade
    from diplosim.params import params_from

    params = params_from()
    with jax.default_device(device):
        placed = calibrate_trade(jax.device_put(world, device), jax.device_put(params, device))
        final, _ = simulate(placed, params, jax.random.key(0), steps, RunSpec(event_capacity=0), chunk_steps=steps)
    return jax.device_get(final)


def compare(cpu, gpu) -> list[tuple[str, float, int]]:
    rows = []
    for group in ("states", "dyads"):
        for name in cpu.__dict__[group].__dataclass_fields__:
            a = np.asarray(getattr(getattr(cpu, group), name), np.float64)
            b = np.asarray(getattr(getattr(gpu, group), name), np.float64)
            rel = np.abs(b - a) / np.maximum(np.abs(a), 1e-3)
            worst = int(np.argmax(rel)) if rel.size else 0
            rows.append((f"{group}.{name}", float(rel.max()) if rel.size else 0.0, worst))
    return rows


def main() -> None:
    import datetime

    parser = arguments(__doc__)
    parser.add_argument("--steps", type=whole_number(1), nargs="*", default=[1, 8, 52], help="run lengths compared, in steps")
    args = parser.parse_args()
    try:
        gpu = jax.devices("gpu")[0]
    except RuntimeError:
        raise SystemExit("gpu_check: JAX sees no GPU here; install the CUDA extra (pip install -e '.[cuda]') on a GPU machine") from None
    cpu = jax.devices("cpu")[0]
    common = {"date": datetime.date.today().isoformat(), "machine": gpu.device_kind, "jax": jax.__version__}
    out = []
    for label, world in worlds().items():
        for steps in args.steps:
            rows = [{**common, "world": label, "steps": steps, "variable": variable, "max_rel_diff": f"{diff:.2e}", "where": where}
                    for variable, diff, where in compare(final_world(world, steps, cpu), final_world(world, steps, gpu))]
            worst = max(rows, key=lambda r: float(r["max_rel_diff"]))
            print(f"{label} after {steps} steps: largest relative difference {worst['max_rel_diff']} ({worst['variable']})", flush=True)
            out += rows
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "gpu_check.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(out)
    write_markdown(RESULTS / "gpu_check.md",
                   ["# GPU against CPU", "", "Written by `benchmarks/gpu_check.py` (its docstring says what to expect).", ""],
                   COLUMNS, out)
    print(f"wrote {RESULTS / 'gpu_check.md'}")


if __name__ == "__main__":
    main()
