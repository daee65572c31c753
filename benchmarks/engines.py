"""The two engines side by side: step time of the JAX core and of the reference engine, and their ratio.

    .venv/bin/python benchmarks/engines.py                          # Alaska and synthetic 100, 1,000, 10,000 states
    .venv/bin/python benchmarks/engines.py --sizes 1000 --reference-steps 3

For each world (the Alaska scenario, then synthetic worlds of ``--sizes``
states with about 10 directed dyads per state, every mechanism on, default
coefficients), in one process and from the same calibrated world and keys:
- ``jax_step_ms``: the core as a run uses it, a compiled scan of ``--steps``
  steps (step and metrics, as ``diplosim.engine.simulate`` with nothing
  sampled), median over ``--repeats`` runs, per step;
- ``jax_call_ms``: one jitted ``engine.step`` per Python call (what
  ``DiplomacyModel.step()`` does), median over the reference's steps;
- ``reference_step_ms``: one ``ReferenceModel.step()`` of the reference
  engine (``diplosim.reference``: every state, relation, envoy and agreement
  a Mesa agent running its own phases; step and metrics), median over
  ``--reference-steps`` consecutive steps, after one untimed step (its first
  draws compile the ``jax.random`` calls);
- ``reference_build_s``: building that model (its Mesa agents) from the world, once;
- ``reference``: which reference engine was measured: "Mesa agents" (each
  agent's own phases, ``agents.do``), or "module loops" (the earlier
  reference engine, one Python loop over flat lists per mechanism: rows
  written before the column existed);
- ``ratio`` = reference_step_ms / jax_step_ms, ``ratio_call`` = reference_step_ms / jax_call_ms;
- ``docked``: whether the two engines' worlds agree after those steps
  (``diplosim.reference.docking.compare``), else the first disagreement;
- ``load``: the machine's 1-minute load average when the world was measured
  (other work on a shared machine slows both engines, not equally).
Rows are added to ``benchmarks/results/engines.csv`` and the whole table is
rewritten as ``benchmarks/results/engines.md``; each row names the machine,
the JAX version and backend, and the date (helpers shared with ``suite.py``).
The target of issue 4: the JAX engine at least 300 times faster than the
reference at 1,000 and 10,000 states.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import time
from pathlib import Path

from suite import RESULTS, SMALLEST_WORLD, _common, arguments, whole_number, write_markdown

COLUMNS = [
    "date", "machine", "jax", "backend", "reference", "world", "states", "dyads", "jax_steps", "reference_steps",
    "jax_step_ms", "jax_call_ms", "reference_step_ms", "reference_build_s", "ratio", "ratio_call", "docked", "load",
]
REFERENCE = "Mesa agents"
EARLIER = {"reference": "module loops"}  # the value of a column for rows written before it existed
DEFAULT_REFERENCE_STEPS = {100: 10, 1_000: 5, 10_000: 3}
TARGET = 300


def worlds(sizes: list[int]):
    """(name, calibrated world) for Alaska and each synthetic size, with default coefficients."""
    from diplosim.agents import CONF
    from diplosim.mechanisms.trade import calibrate_trade
    from diplosim.params import params_from
    from diplosim.scenario import load_scenario_file, synthetic_scenario

    params = params_from()
    yield "alaska_2025", calibrate_trade(load_scenario_file(CONF / "alaska_2025.yaml").world, params), params
    for n in sizes:
        yield f"synthetic_{n}", calibrate_trade(synthetic_scenario(n, n_envoys=max(4, n // 1000)).world, params), params


def jax_scan_ms(world, params, key, steps: int, repeats: int) -> float:
    """Per-step time of a compiled scan of ``steps`` steps (step + metrics), median over ``repeats``."""
    import jax

    from diplosim.engine import RunSpec, _run_chunk

    spec = RunSpec(every=steps, sample_states=False, sample_dyads=False, event_capacity=0)
    compiled = _run_chunk.lower(world, params, key, spec=spec, samples=1, every=steps).compile()
    jax.block_until_ready(compiled(world, params, key))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(compiled(world, params, key))
        times.append((time.perf_counter() - started) / steps)
    return statistics.median(times) * 1e3


def side_by_side(name: str, world, params, steps: int, repeats: int, reference_steps: int) -> dict:
    """One world through both engines, from the same world and keys."""
    import jax

    from diplosim.engine import step_jit
    from diplosim.params import Mechanisms
    from diplosim.reference import ReferenceModel
    from diplosim.reference.docking import compare

    load = os.getloadavg()[0]
    run_key = jax.random.key(0)
    jax_ms = jax_scan_ms(world, params, run_key, steps, repeats)
    keys = [jax.random.fold_in(run_key, t) for t in range(reference_steps + 1)]  # step t's key, as in a run
    core = world
    jax.block_until_ready(step_jit(core, params, keys[0], Mechanisms()))  # compile
    calls = []
    for key in keys:
        started = time.perf_counter()
        core, _ = jax.block_until_ready(step_jit(core, params, key, Mechanisms()))
        calls.append(time.perf_counter() - started)
    started = time.perf_counter()
    model = ReferenceModel(jax.device_get(world), params, key=run_key)
    build_s = time.perf_counter() - started
    own = []
    for _ in keys:  # model.step() draws with fold_in(run_key, t), as the core above
        started = time.perf_counter()
        model.step()
        own.append(time.perf_counter() - started)
    own, calls = own[1:], calls[1:]  # the first reference step compiles the jax.random draws: not timed
    ours = model.to_world()
    found = compare(core, ours, reference_steps + 1)
    reference_ms, call_ms = statistics.median(own) * 1e3, statistics.median(calls) * 1e3
    return {
        **_common(), "reference": REFERENCE, "world": name, "states": world.n_states, "dyads": world.n_dyads, "jax_steps": steps,
        "reference_steps": reference_steps, "jax_step_ms": round(jax_ms, 3), "jax_call_ms": round(call_ms, 3),
        "reference_step_ms": round(reference_ms, 2), "reference_build_s": round(build_s, 2), "ratio": round(reference_ms / jax_ms, 1),
        "ratio_call": round(reference_ms / call_ms, 1), "docked": "yes" if not found else str(found[0]),
        "load": round(max(load, os.getloadavg()[0]), 1),
    }


def write(rows: list[dict]) -> Path:
    """Add ``rows`` to engines.csv (rewritten with the current columns) and rewrite engines.md."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "engines.csv"
    table = []
    if path.exists():
        with path.open() as f:
            table = [{**EARLIER, **row} for row in csv.DictReader(f)]
    table += rows
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(table)
    write_markdown(RESULTS / "engines.md", [
        "# Engine benchmark: the JAX core against the reference engine", "",
        "Written by `benchmarks/engines.py` (see its docstring for each column). Both engines run the full "
        "model (every mechanism, default coefficients) from the same world and keys, in one process. "
        f"`ratio` = reference step time / JAX step time (target: at least {TARGET} at 1,000 and 10,000 states); "
        "`ratio_call` compares with one jitted step per Python call, as `DiplomacyModel.step()` makes it. "
        "`reference`: the reference engine measured, \"Mesa agents\" (the current one: every state, relation, "
        "envoy and agreement a Mesa agent running its own phases) or \"module loops\" (the earlier one: a loop "
        "over flat lists per mechanism). "
        "`load`: the 1-minute load average while the world was measured (the higher of before and after); "
        "on a shared machine other work slows both engines.", "",
    ], COLUMNS, table)
    return path


def main() -> None:
    from diplosim.process import use_huge_pages

    use_huge_pages()  # as the diplosim command does (diplosim.process)
    parser = arguments(__doc__)
    parser.add_argument("--sizes", type=whole_number(SMALLEST_WORLD), nargs="*", default=[100, 1_000, 10_000], help="synthetic world sizes, in states (Alaska always runs)")
    parser.add_argument("--steps", type=whole_number(1), default=100, help="steps of the JAX scan (long enough for a stable median at 1,000 states)")
    parser.add_argument("--repeats", type=whole_number(1), default=9, help="runs of the JAX scan")
    parser.add_argument("--reference-steps", type=whole_number(0), default=0,
                        help="reference steps per world; 0: 20 for Alaska, 10 / 5 / 3 for 100 / 1,000 / 10,000 states")
    args = parser.parse_args()
    rows = []
    for name, world, params in worlds(args.sizes):
        reference_steps = args.reference_steps or DEFAULT_REFERENCE_STEPS.get(world.n_states, 20 if world.n_states < 100 else 3)
        rows.append(side_by_side(name, world, params, args.steps, args.repeats, reference_steps))
        print(json.dumps(rows[-1]), flush=True)
    print(f"wrote {write(rows)}")


if __name__ == "__main__":
    main()
