"""The step's scatter reductions alone: marked sorted or not, at the world's own indices.

    .venv/bin/python benchmarks/scatters.py [--states 1000000] [--repeats 20]

XLA emits a scatter whose indices are marked sorted (``indices_are_sorted``) as a kernel of its
own; on a GPU it was the slower one, and the step no longer marks any (benchmarks/ROOFLINE.md,
change 14).  On a synthetic world of ``--states`` states (about 10 dyads each), this times
``segment_sum`` and ``segment_max`` of float32 values by destination (sorted), by source, over the
energy routes by buyer (sorted) and by seller, and at uniformly random indices: the sorted ones with
and without the mark (marking unsorted indices would break XLA's contract), the others unmarked, for
scale, with one pass over the dyads (``2 v``).  Each is jitted alone; the
figure is the median of ``--repeats`` calls.  Appends to ``results/scatters.csv`` and rewrites
``results/scatters.md``, with the machine, JAX version, backend and date.  Runs unchanged on a GPU.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from suite import SMALLEST_WORLD, _common, arguments, record, whole_number  # noqa: E402

RESULTS = Path(__file__).parent / "results"
COLUMNS = ["date", "machine", "jax", "backend", "states", "dyads", "reduction", "indices", "length",
           "marked_sorted_ms", "unmarked_ms", "marked_over_unmarked"]


def median_ms(fn, *args, repeats: int) -> float:
    """Median wall time of ``jax.jit(fn)(*args)`` over ``repeats`` calls, after one to compile."""
    import jax

    jitted = jax.jit(fn)
    jax.block_until_ready(jitted(*args))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(jitted(*args))
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def measure(n_states: int, repeats: int) -> list[dict]:
    import jax

    from diplosim.scenario import synthetic_scenario

    world = synthetic_scenario(n_states).world
    d, n = world.dyads, world.n_states
    n_dyads = d.src.shape[0]
    values = jax.random.uniform(jax.random.key(0), (n_dyads,))
    route = world.energy_dyads
    indices = {
        "destination (sorted)": (d.dst, values),
        "source": (d.src, values),
        "uniformly random": (jax.random.randint(jax.random.key(1), (n_dyads,), 0, n), values),
        "energy routes by buyer (sorted)": (d.dst[route], values[: route.shape[0]]),
        "energy routes by seller": (d.src[route], values[: route.shape[0]]),
    }
    common = {**_common(), "states": n, "dyads": n_dyads}
    rows = [{**common, "reduction": "one pass (2 v)", "indices": "", "length": n_dyads,
             "unmarked_ms": round(median_ms(lambda v: 2.0 * v, values, repeats=repeats), 3)}]
    reductions = {"segment_sum": jax.ops.segment_sum, "segment_max": jax.ops.segment_max}
    for name, (index, x) in indices.items():
        for reduction, reduce in reductions.items():
            def time_it(flag: bool, reduce=reduce, x=x, index=index) -> float:
                return median_ms(functools.partial(reduce, num_segments=n, indices_are_sorted=flag), x, index, repeats=repeats)

            unmarked = time_it(False)
            row = {**common, "reduction": reduction, "indices": name, "length": int(index.shape[0]), "unmarked_ms": round(unmarked, 3)}
            said = f"{reduction} by {name}: {unmarked:.3f} ms"
            if "(sorted)" in name:  # only sorted indices may be marked so
                marked = time_it(True)
                row.update(marked_sorted_ms=round(marked, 3), marked_over_unmarked=round(marked / unmarked, 2))
                said += f", {marked:.3f} ms marked sorted"
            rows.append(row)
            print(said, flush=True)
    return rows


def run(name: str, doc: str, columns: list[str], measure, title: str, note: str) -> None:
    """The command line of a script that times operations alone (this one, ``gathers.py``; ``doc``
    its docstring): its ``--states``, ``--repeats`` and ``--results``, then the rows of
    ``measure(states, repeats)`` recorded as ``results/<name>.csv`` and ``.md`` under ``title``, with
    the script's ``note`` on its columns."""
    from diplosim.process import use_huge_pages

    use_huge_pages()  # as the diplosim command does (diplosim.process)
    parser = arguments(doc)
    parser.add_argument("--states", type=whole_number(SMALLEST_WORLD), default=1_000_000, help="states of the synthetic world (about 10 dyads each)")
    parser.add_argument("--repeats", type=whole_number(1), default=20, help="timed calls of each operation (the median is kept)")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"where {name}.csv and {name}.md go")
    args = parser.parse_args()
    record(args.results, name, [
        f"# {title}", "",
        f"Written by `benchmarks/{name}.py` (its docstring says what each row times). Milliseconds, median of the calls; "
        + note, "",
    ], columns, measure(args.states, args.repeats))


def main() -> None:
    run("scatters", __doc__, COLUMNS, measure, "Scatter reductions alone, marked sorted or not",
        "`marked_over_unmarked` above 1: the mark makes the kernel slower.")


if __name__ == "__main__":
    main()
