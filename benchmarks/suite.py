"""The benchmark suite: per-step time, peak memory, compile time, batch throughput and the roofline.

    .venv/bin/python benchmarks/suite.py                      # everything (10^3 .. 10^6 states)
    .venv/bin/python benchmarks/suite.py --sizes 1000 100000  # chosen world sizes
    .venv/bin/python benchmarks/suite.py --batches 1 10 100   # chosen simulate_batch sizes
    .venv/bin/python benchmarks/suite.py --sizes 100000 1000000 --rounds 5 --batches   # linearity, side by side

Runs unchanged on a GPU machine (JAX picks the GPU).  Every world size runs in
its own process, so its peak memory is its own.  Rows are appended to
``benchmarks/results/suite.csv`` and the whole table is rewritten as
``benchmarks/results/suite.md``; each row names the machine, the JAX version
and backend, and the date.

What is measured, for the full model (every mechanism on, states sampled
every step, the endogenous event log on, as in a default run):
- ``compile_s``: compiling one chunk of ``--steps`` steps;
- ``step_ms``: median over ``--repeats`` runs of that chunk, per step, run as ``simulate`` runs
  it (``step_program``: a large world's position distance computed before the chunk and carried
  through it; rows before 2026-11-28, tenth session, computed it at each chunk's start), but for
  the world, which ``simulate`` hands from chunk to chunk and the benchmark's calls copy;
- ``peak_mb``: the process's peak resident memory (CPU) or the device's peak
  bytes in use (GPU);
- ``floor_ms`` and ``over_floor``: the memory-bandwidth floor of a step (each
  world array read once and written once, at the bandwidth measured in the
  same process by a pass over a 512 MB array written in place, ``probe``) and
  measured time over that floor; rows without ``probe`` timed a pass into a
  fresh array, which on a CPU measures the kernel mapping pages (6 GB/s where
  the memory gives 50: their floors are 8 times too high);
- ``gops``, ``ops_rate_gs``, ``compute_floor_ms`` and ``over_compute_floor``: the other side of
  the roofline.  ``gops`` is the operations of one step, in 10^9, as XLA counts them (its cost
  analysis of the step compiled alone: every element of every arithmetic, comparison, select,
  conversion and bitwise operation one, transcendentals included; a loop's body once, so a lower
  bound where the step keeps loops, as on a CPU); ``ops_rate_gs`` the rate, in 10^9 a second, at
  which XLA runs operations it counts alike in its best case, measured in the same process
  (``arithmetic_pass``: independent chains of float multiply-adds and of the 32-bit adds, shifts
  and xors the draws' hash is made of, over an array written in place: 4 MB, in cache, on a CPU;
  2^26 values on a GPU); ``compute_floor_ms`` the first over the second, and ``over_compute_floor``
  the step's time over it.  ``over_floor``, the issue's target, stays the bandwidth floor's;
- ``huge_pages``: whether the process asked glibc for huge pages
  (``diplosim.process``, as the ``diplosim`` command does; ``DIPLOSIM_HUGE_PAGES=0``
  turns it off);
- ``results/scaling.md``: from the step rows of one run, each size against the next smaller: the
  ratio of their step times (linear cost: the ratio of their dyads), with ``--rounds`` rounds of the
  sizes in turns, so that the machine's drift falls on both;
- ``batch`` rows: ``simulate_batch`` throughput on the Alaska scenario, in
  scenario-steps per second: 52 steps sampled once at the end (``every`` = 52), chunked as a
  user's call is.  On a CPU that is one chunk; on a GPU, since 2026-11-27 (fourth session), 13
  chunks of 4 steps, so that one chunk's history is copied to the host while the next computes
  (``engine.chunk_plan``'s ``split_periods``).  Earlier GPU rows ran the 52 steps as one chunk.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import functools
import json
import os
import pickle
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

RESULTS = Path(__file__).parent / "results"
SMALLEST_WORLD = 11  # states: the synthetic world's 10 dyads per state need more states than that
COLUMNS = [
    "date", "machine", "jax", "backend", "kind", "world", "states", "dyads", "batch", "steps",
    "compile_s", "step_ms", "peak_mb", "bandwidth_gbs", "floor_ms", "over_floor", "throughput_steps_s", "probe",
    "huge_pages", "gops", "ops_rate_gs", "compute_floor_ms", "over_compute_floor",
]
PROBE = "in place"  # the bandwidth probe of bandwidth_gbs; rows without it used a pass into a fresh array


def machine() -> str:
    import jax

    device = jax.devices()[0]
    if device.platform != "cpu":
        return f"{device.device_kind} ({os.cpu_count()} CPU cores)"
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def peak_mb() -> float:
    import jax

    device = jax.devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_place_pass():
    """The bandwidth probe's pass: every element of a float32 array read and written once, into the
    same memory (its input donated to its output; values stay 1.0)."""
    import jax

    return jax.jit(lambda v: v * 0.5 + 0.5, donate_argnums=0)


def bandwidth_gbs(megabytes: int = 512, repeats: int = 5) -> float:
    """Memory bandwidth XLA gets streaming a large array (GB/s): read and written once, in place.

    The pass writes into the memory it reads, as the step's loop writes into buffers it allocated
    once.  A pass into a fresh array measures the kernel handing out new pages more than the memory:
    on the 2-core CPU of 2026-11-27 it read 6 to 7 GB/s where this one reads about 50
    (benchmarks/ROOFLINE.md, "The floor"); rows of ``results/suite.md`` without ``probe`` came from it.
    """
    import jax.numpy as jnp

    x = jnp.ones(megabytes * 2**20 // 4, jnp.float32)
    return 2 * x.nbytes / _median_in_place_s(in_place_pass(), x, repeats) / 1e9


def _median_in_place_s(pass_, x, repeats: int) -> float:
    """Median seconds of ``pass_`` (a jitted pass that donates its input) over ``repeats`` calls, each
    on the last one's output, after one call that compiles it and maps the pages."""
    import jax

    x = jax.block_until_ready(pass_(x))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        x = jax.block_until_ready(pass_(x))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def arithmetic_pass(chains: int = 4, rounds: int = 16):
    """The arithmetic probe's pass over a float32 array, written in place (its input donated):
    ``chains`` independent chains of float multiply-adds and as many of the 32-bit add, rotate and
    xor of a hash round (threefry's, which the draws of every step are made of), ``rounds`` each
    per element, so that the vector units always have independent work."""
    import jax
    import jax.numpy as jnp

    def pass_(v):
        floats = [v + k for k in range(chains)]
        words = [jax.lax.bitcast_convert_type(v, jnp.uint32) + jnp.uint32(k) for k in range(chains)]
        for _ in range(rounds):
            floats = [f * 0.999 + 0.001 for f in floats]
            words = [(w + jnp.uint32(0x9E3779B9)) ^ ((w << 13) | (w >> 19)) for w in words]
        mixed = functools.reduce(jnp.bitwise_xor, words) & jnp.uint32(1)  # 0 or 1, so values stay near 1
        return sum(floats) / chains + mixed.astype(jnp.float32) * 1e-7

    return jax.jit(pass_, donate_argnums=0)


def operations(compiled) -> float:
    """The operations of a compiled program as XLA counts them (``flops`` and ``transcendentals`` of
    its cost analysis); a loop's body counts once, whatever its trip count."""
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, list) else analysis  # a list of one in older JAX
    return float(analysis.get("flops", 0.0)) + float(analysis.get("transcendentals", 0.0))


def ops_rate_gs(elements: int | None = None, repeats: int = 7) -> float:
    """Operations a second (10^9) XLA runs at its best here: ``arithmetic_pass`` over ``elements``
    float32 values, median of ``repeats``, counted by XLA's own cost analysis as the step's
    operations are.  By default 2^20 values on a CPU (4 MB: in cache, so that memory does not bound
    it) and 2^26 on a GPU (enough threads to fill it; 448 operations an element keep it busier with
    arithmetic than with memory)."""
    import jax
    import jax.numpy as jnp

    if elements is None:
        elements = 2**20 if jax.default_backend() == "cpu" else 2**26
    pass_ = arithmetic_pass()
    x = jnp.ones(elements, jnp.float32)
    count = operations(pass_.lower(x).compile())
    return count / _median_in_place_s(pass_, x, repeats) / 1e9


def step_operations(world, params, spec) -> float:
    """The operations of one step (10^9): the scan's body, ``engine._one_step``, compiled alone and
    counted by XLA (``operations``), sampling and event detection included; with the carried
    position distance where the engine carries it (``engine.keeps_distance``)."""
    import jax

    from diplosim.engine import _distance_of, _one_step, keeps_distance

    one = jax.jit(functools.partial(_one_step, spec))
    distance = _distance_of(world) if keeps_distance(world, spec) else None
    return operations(one.lower(params, jax.random.key(0), (world, distance), None).compile()) / 1e9


def world_bytes(world) -> int:
    import jax

    return sum(leaf.nbytes for leaf in jax.tree.leaves(world))


def whole_number(lowest: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number of at least ``lowest``.  A value out of range ends the
    script with argparse's one line (``argument --sizes: 0: must be a whole number >= 11``), before
    anything is measured (``--sizes 0`` once started the whole default suite)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < lowest:
            raise argparse.ArgumentTypeError(f"{text}: must be a whole number >= {lowest}")
        return value

    return parse


class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's help ends with its default, where it has one (not ``None``, not a flag's ``False``)."""

    def _get_help_string(self, action):
        return action.help if action.default is None or action.default is False else super()._get_help_string(action)


def arguments(doc: str) -> argparse.ArgumentParser:
    """The command line of a benchmark script: its docstring's first line, and each option's default in its help."""
    return argparse.ArgumentParser(description=doc.splitlines()[0], formatter_class=_Defaults)


def _common() -> dict:
    import jax

    from diplosim.process import active

    return {"date": datetime.date.today().isoformat(), "machine": machine(), "jax": jax.__version__,
            "backend": jax.default_backend(), "huge_pages": "yes" if active() else "no"}


def step_world(n_states: int):
    """The step rows' world, params and spec, which ``profile.py`` and ``program.py`` use too: a
    synthetic world of ``n_states`` states (about 10 dyads each), calibrated, with every mechanism
    on, states sampled every step and the endogenous event log on, as in a default run.  The params
    are put on the device once, as ``simulate`` does (numpy arguments would be copied to the device
    at every call of the timed program).

    With ``DIPLOSIM_BENCH_WORLDS`` set to a folder, a world is built once and kept there, and later
    processes (the suite's children, ``variants.py``, ``profile.py``) read it back: building the
    10^7-state world takes minutes on a lent GPU machine's host, whose time is counted.  The world
    is the same either way (the synthetic scenario's seed is fixed); on a CPU, a row's ``peak_mb``
    then counts the reading instead of the building."""
    import jax

    from diplosim.engine import RunSpec
    from diplosim.mechanisms.trade import calibrate_trade
    from diplosim.params import params_from
    from diplosim.scenario import synthetic_scenario

    params = jax.device_put(params_from())
    kept = os.environ.get("DIPLOSIM_BENCH_WORLDS")  # a folder where worlds built once are kept for the next process
    path = Path(kept) / f"synthetic_{n_states}.pickle" if kept else None
    if path is not None and path.exists():
        with path.open("rb") as file:
            world = jax.device_put(pickle.load(file))
    else:
        world = calibrate_trade(synthetic_scenario(n_states, n_envoys=max(4, n_states // 1000)).world, params)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.with_suffix(".partial").open("wb") as file:
                pickle.dump(jax.device_get(world), file, protocol=pickle.HIGHEST_PROTOCOL)
            path.with_suffix(".partial").replace(path)  # whole or not at all
    return world, params, RunSpec(every=1, sample_states=True, sample_dyads=False, event_capacity=64)


class StepProgram(NamedTuple):
    """The compiled chunk of the step rows and what it is called with: ``compiled(*args)``."""

    compiled: Any
    args: tuple
    carried: bool  # the position distance computed before the chunk and carried through it

    def outputs(self, out: tuple) -> tuple:
        """The chunk's (world, per-step rows, snapshots), either way (without the carried distance)."""
        return (out[0], *out[-2:])


def step_program(world, params, key, spec, steps: int) -> StepProgram:
    """``steps`` steps of ``world`` as ``simulate`` runs them, compiled: where the engine carries the
    position distance (``engine.keeps_distance``: 65,536 dyads or more), computed once before the chunk
    (``engine._distance_of``, as ``simulate`` does once a run) and carried through it
    (``engine._run_chunk_carrying``); else ``engine._run_chunk``.  Timing ``_run_chunk`` alone would
    count the distance's full computation once a call, which a run pays once (benchmarks/ROOFLINE.md,
    change 29).  Unlike ``simulate``'s chunks (change 31), this one does not take over the world it is
    given, being called again on the same world: it copies the world into its loop each call (some
    600 MB at 10^6 states, a few milliseconds a step in calls of 10 steps)."""
    import jax

    from diplosim.engine import _distance_of, _run_chunk, _run_chunk_carrying, keeps_distance

    if keeps_distance(world, spec):
        args = (world, jax.block_until_ready(_distance_of(world)), params, key)
        return StepProgram(_run_chunk_carrying.lower(*args, spec=spec, samples=steps, every=1).compile(), args, True)
    args = (world, params, key)
    return StepProgram(_run_chunk.lower(*args, spec=spec, samples=steps, every=1).compile(), args, False)


def measure_world(n_states: int, steps: int, repeats: int) -> dict:
    """One synthetic world, in this process (called in a child process per size)."""
    import jax

    world, params, spec = step_world(n_states)
    key = jax.random.key(0)
    started = time.perf_counter()
    program = step_program(world, params, key, spec, steps)
    compile_s = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(program.compiled(*program.args))
        times.append((time.perf_counter() - started) / steps)
    step_s = statistics.median(times)
    peak = peak_mb()  # before the bandwidth probe allocates its own arrays
    bandwidth = bandwidth_gbs()
    floor_s = 2 * world_bytes(world) / (bandwidth * 1e9)  # every array read once and written once
    gops, rate = step_operations(world, params, spec), ops_rate_gs()
    compute_floor_s = gops / rate
    return {
        **_common(), "kind": "step", "world": f"synthetic_{n_states}", "states": world.n_states, "dyads": world.n_dyads,
        "batch": 1, "steps": steps, "compile_s": round(compile_s, 2), "step_ms": round(step_s * 1e3, 3),
        "peak_mb": round(peak, 1), "bandwidth_gbs": round(bandwidth, 2), "floor_ms": round(floor_s * 1e3, 3),
        "over_floor": round(step_s / floor_s, 2), "throughput_steps_s": round(1 / step_s, 2), "probe": PROBE,
        "gops": round(gops, 3), "ops_rate_gs": round(rate, 2), "compute_floor_ms": round(compute_floor_s * 1e3, 3),
        "over_compute_floor": round(step_s / compute_floor_s, 2),
    }


def measure_batches(batches: list[int], steps: int, repeats: int) -> Iterator[dict]:
    """simulate_batch throughput on the Alaska scenario (scenario-steps per second), a row per batch size."""
    import jax

    from diplosim.engine import RunSpec, simulate_batch
    from diplosim.mechanisms.trade import calibrate_trade
    from diplosim.params import params_from, stack_params
    from diplosim.scenario import load_scenario_file

    params = params_from()
    world = calibrate_trade(load_scenario_file(Path(__file__).parents[1] / "conf/scenario/alaska_2025.yaml").world, params)
    spec = RunSpec(every=steps, sample_states=False, event_capacity=0)
    for batch in batches:
        many = stack_params([params] * batch)
        keys = jax.random.split(jax.random.key(0), batch)
        started = time.perf_counter()
        simulate_batch(world, many, keys, steps, spec)
        compile_s = time.perf_counter() - started  # first call: compile + one run
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            simulate_batch(world, many, keys, steps, spec)
            times.append(time.perf_counter() - started)
        run_s = statistics.median(times)
        row = {
            **_common(), "kind": "batch", "world": "alaska_2025", "states": world.n_states, "dyads": world.n_dyads,
            "batch": batch, "steps": steps, "compile_s": round(compile_s - run_s, 2), "step_ms": round(run_s / steps * 1e3, 3),
            "peak_mb": round(peak_mb(), 1), "throughput_steps_s": round(batch * steps / run_s, 1),
        }
        print(json.dumps(row), flush=True)
        yield row


def markdown_table(columns: list[str], rows: list[dict]) -> list[str]:
    """The lines of a markdown table of ``rows`` (missing values left empty)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]


def append_rows(path: Path, columns: list[str], rows: list[dict]) -> list[dict]:
    """Append ``rows`` to the CSV at ``path`` (its header first if it is new); every row it now holds.

    A file written with other columns (by an older version of the script) is written again with
    ``columns``: its rows keep their values, empty in the columns they did not have.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    header = None
    if path.exists():
        with path.open(newline="") as f:
            header = next(csv.reader(f), None)
    if header is not None and header != columns:
        with path.open(newline="") as f:
            rows = [*csv.DictReader(f), *rows]
    with path.open("a" if header == columns else "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        if header != columns:
            writer.writeheader()
        writer.writerows({c: "" if row.get(c) is None else row[c] for c in columns} for row in rows)
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_markdown(path: Path, intro: list[str], columns: list[str], rows: list[dict]) -> None:
    """``path``: the ``intro`` lines, then the table of ``rows``."""
    path.write_text("\n".join(intro + markdown_table(columns, rows)) + "\n")


def record(results: Path, name: str, intro: list[str], columns: list[str], rows: list[dict]) -> Path:
    """Append ``rows`` to ``results/<name>.csv`` and rewrite ``results/<name>.md`` from it (the
    ``intro`` lines, then the table); says so and returns the markdown's path."""
    markdown = results / f"{name}.md"
    write_markdown(markdown, intro, columns, append_rows(results / f"{name}.csv", columns, rows))
    print(f"wrote {markdown}")
    return markdown


def write(rows: list[dict], results: Path = RESULTS) -> Path:
    """Append ``rows`` to ``suite.csv`` and rewrite ``suite.md`` from it (called after every row, so a
    run stopped part-way keeps what it measured); the markdown's path."""
    return record(results, "suite", [
        "# Benchmark suite results", "",
        "Written by `benchmarks/suite.py` (see its docstring for what each column means). "
        "`step` rows: synthetic worlds, about 10 directed dyads per state, full model. "
        "`batch` rows: `simulate_batch` on the Alaska scenario. "
        "Rows without `probe` measured the bandwidth into a fresh array: on a CPU, the kernel mapping pages "
        "(their `floor_ms` is about 8 times too high, their `over_floor` as much too low; benchmarks/ROOFLINE.md).", "",
    ], COLUMNS, rows)


def scaling(rounds: list[list[dict]]) -> list[dict]:
    """From the step rows of one run (``rounds``: each round's rows), each world size against the
    next smaller one: how many times the dyads, and how many times the step's time, as the ratio of
    the sizes' medians over the rounds and as the median of each round's own ratio (the two sizes
    measured one after the other; a round where either failed gives none)."""
    rows = [row for one in rounds for row in one]
    by_size: dict[int, list[float]] = {}
    for row in rows:
        by_size.setdefault(row["states"], []).append(row["step_ms"])
    sizes = sorted(by_size)
    dyads = {row["states"]: row["dyads"] for row in rows}
    found = []
    for small, large in zip(sizes, sizes[1:]):
        pairs = []
        for one in rounds:
            times = {row["states"]: row["step_ms"] for row in one}
            if small in times and large in times:
                pairs.append(times[large] / times[small])
        if not pairs:
            continue
        found.append({
            **{k: rows[0][k] for k in ("date", "machine", "jax", "backend", "huge_pages")},
            "states_from": small, "states_to": large, "dyads_ratio": round(dyads[large] / dyads[small], 2),
            "rounds": len(pairs), "median_ms_from": round(statistics.median(by_size[small]), 3),
            "median_ms_to": round(statistics.median(by_size[large]), 3),
            "ratio_of_medians": round(statistics.median(by_size[large]) / statistics.median(by_size[small]), 2),
            "median_of_ratios": round(statistics.median(pairs), 2),
            "lowest_ratio": round(min(pairs), 2), "highest_ratio": round(max(pairs), 2),
        })
    return found


SCALING_COLUMNS = ["date", "machine", "jax", "backend", "huge_pages", "states_from", "states_to", "dyads_ratio", "rounds",
                   "median_ms_from", "median_ms_to", "ratio_of_medians", "median_of_ratios", "lowest_ratio", "highest_ratio"]


def main() -> None:
    from diplosim.process import use_huge_pages

    use_huge_pages()  # as the diplosim command does; its children inherit the setting
    parser = arguments(__doc__)
    parser.add_argument("--sizes", type=whole_number(SMALLEST_WORLD), nargs="*", default=[1_000, 10_000, 100_000, 1_000_000],
                        help="synthetic world sizes, in states (about 10 dyads each); none: no step rows")
    parser.add_argument("--batches", type=whole_number(1), nargs="*", default=[1, 10, 100, 1_000, 10_000],
                        help="simulate_batch sizes, in Alaska runs; none: no batch rows")
    parser.add_argument("--steps", type=whole_number(1), default=10, help="steps of the timed chunk")
    parser.add_argument("--repeats", type=whole_number(1), default=5, help="timed calls of the chunk (the median is kept)")
    parser.add_argument("--rounds", type=whole_number(1), default=1,
                        help="measure the world sizes this many times, in turns (for the scaling table's ratios)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the tables go")
    parser.add_argument("--one-world", type=whole_number(SMALLEST_WORLD), help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.one_world is not None:
        print(json.dumps(measure_world(args.one_world, args.steps, args.repeats)))
        return
    rounds: list[list[dict]] = []
    failed: list[int] = []
    for _ in range(args.rounds):
        rounds.append([])
        for n in args.sizes:
            child = subprocess.run(
                [sys.executable, __file__, "--one-world", str(n), "--steps", str(args.steps), "--repeats", str(args.repeats)],
                capture_output=True, text=True, check=False,
            )
            if child.returncode != 0:
                print(f"size {n}: failed: {child.stderr.strip().splitlines()[-1] if child.stderr.strip() else child.returncode}")
                failed.append(n)
                continue
            row = json.loads(child.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
            write([row], args.results)
            rounds[-1].append(row)
    found = scaling(rounds)
    if found:
        record(args.results, "scaling", [
            "# How the step's time grows with the world", "",
            "Written by `benchmarks/suite.py` from the step rows of one run (`--rounds` rounds, the sizes in turns): "
            "each world size against the next smaller. `ratio_of_medians`: the sizes' median step times over the "
            "rounds, divided; `median_of_ratios`: the median of each round's own ratio. Linear cost gives "
            "`dyads_ratio`; the target for 10^5 to 10^6 states is at most 12.", "",
        ], SCALING_COLUMNS, found)
    for row in measure_batches(args.batches, 52, args.repeats):
        write([row], args.results)
    if failed:  # the rows measured are written; the run still fails
        sizes = sorted(set(failed))
        raise SystemExit(f"suite.py: {len(sizes)} world size(s) failed: {' '.join(map(str, sizes))}")


if __name__ == "__main__":
    main()
