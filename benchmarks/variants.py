"""Variants of the step side by side: each a change of the model's code, patched in, compiled and
timed in turns in one process.

    .venv/bin/python benchmarks/variants.py                                  # 10^6 states, every variant
    .venv/bin/python benchmarks/variants.py --states 100000 --variants baseline cpu_program gpu_program

How change 24 was measured on the H200 (benchmarks/ROOFLINE.md): the suite's step world of
``--states`` states is built once; the chunk program of 10 steps is compiled once per variant,
with the variant's patches in place while it is traced (``jax.clear_caches`` between variants:
jit would otherwise reuse the last trace); then the variants are timed in turns, ``--rounds``
rounds of ``--calls`` calls each, so that the machine's drift falls on every variant alike.  A
row gives the median milliseconds a step and the largest relative difference of the variant's
outputs from the baseline's (the final world and every step's metrics, float fields;
``|v - b| / max(|b|, 1e-3)``): 0 for a variant
that computes the same numbers, float32 rounding for one that adds in another order.  The first
row of a run is the baseline's, the code as it is.

The variants (``VARIANTS``):

- ``gpu_program`` and ``cpu_program``: the program built for a GPU or for a CPU whatever the
  platform (``diplosim.world.GPU_PROGRAM``: loops unrolled, sums in blocks, the bloc threat in
  one scatter), to measure those choices on the other kind of machine;
- ``cohesion_per_bloc``: the blocs' cohesion metric as one masked sum per bloc, not a reduction
  of a [dyads, blocs] mask (a candidate: the metrics' reductions took 1.1 ms of the 6.3 ms step
  on the H200, `results/profile_gpu.md`; on this CPU it was about 10% faster alone);
- ``sellers_in_blocks``: the energy market's sums by seller (``trade.sum_by_seller``, a scatter-add by
  an index in no order, into a few hubs with many routes each) over the routes taken in order of
  seller and summed in blocks (``world.blocked_segment_sum``), the order found once (a candidate: the
  market's scatter-adds took 1.0 ms of the 6.3 ms step on the H200, one of them 0.58 ms);
- ``buyers_in_blocks``: its sums by buyer (routes sorted by buyer) in blocks, as the GPU's sums by
  destination are (change 24);
- ``positions_by_array``: the position distance as it was before change 26, each of its 7 arrays
  gathered alone at each end, where the model now gathers them as one row of 8 floats
  (``world.take_rows``): on the H200 at 10^7 states the rows took the step from 87.9 to 72.2 ms;
- ``threats_in_rows``: the alliances' shared threat with the blocs' threats gathered as one row at each
  end (a candidate for a GPU; on this CPU the shared threat alone took 242 against 146 ms at 10^6 states);
- ``distance_every_step``: the position distance computed anew for every dyad each step, as before
  change 27, where the engine now carries it from step to step and recomputes it only at the dyads of
  the states whose positions moved (``world.updated_distance``; the same numbers);
- ``cap_every_step``: the ceasefires' cap on conflict taken at every dyad each step, as before change
  28, where tension now takes it only in a step with a ceasefire in force (``tension.capped_by_ceasefires``);
- ``masks_reversed_apart``: the decisions' two masks read at the reverse dyad (the ceasefire
  proposals and the signals) gathered one at a time, as before change 30, where the model now packs
  them into one uint8 array and gathers it once (``decisions.reversed_masks``; the same numbers);
- ``trust_back_fused``: the alliances' reverse trust gathered inside the target's loop, as before change
  32, where on a CPU the model now gathers it in a loop of its own, into memory
  (``alliances.reverse_trust``; the same numbers); ``trust_back_apart``: in a loop of its own whatever the
  program, to measure change 32 on a GPU, whose program keeps the gather in the target's kernel;
- ``dyads_in_pairs``: the same code on the same world with its dyads in another order
  (``WORLDS``): each next to its reverse, so that ``reverse`` is ``e ^ 1`` (``in_pairs``).  It
  measures what that order would do to the gathers and scatters.  The model assumes the order by
  destination: ``lookup_dyads`` (the agreements' and the event exclusions' searches) costs the
  same on the reordered list but mostly finds nothing, so the dynamics differ and the outputs
  are not compared (``max_rel_diff`` empty).

A candidate is written here first, measured on the machines it is meant for, and moved into the
model only where it pays.  Run a variant that changes nothing beside it to see the noise: on the
2-core CPU at 10^6 states, with 4 rounds of 2 calls, ``baseline`` against ``cpu_program`` (the same
program there) gave 1.057 and 0.930 in two runs (`results/variants.md`), so a difference under 10%
needs more rounds, or a measurement of the changed computation alone.  Appends to ``results/variants.csv`` and rewrites
``results/variants.md``, with the machine, JAX version, backend and date.  Runs unchanged on a GPU.
"""

from __future__ import annotations

import contextlib
import gzip
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from suite import SMALLEST_WORLD, _common, arguments, record, step_program, step_world, whole_number  # noqa: E402

RESULTS = Path(__file__).parent / "results"
COLUMNS = ["date", "machine", "jax", "backend", "states", "dyads", "variant", "calls", "median_ms", "over_baseline",
           "max_rel_diff"]


def _cohesion_per_bloc(world):
    """``metrics.bloc_cohesion`` as one masked sum per bloc (f32[B])."""
    import jax.numpy as jnp

    from diplosim.world import take

    d, bloc = world.dyads, world.states.bloc
    bloc_i = take(bloc, d.src)
    inside = bloc_i == take(bloc, d.dst)
    totals, counts = [], []
    for b in range(world.n_blocs):
        member = inside & (bloc_i == b)
        totals.append(jnp.where(member, d.alliance, 0.0).sum())
        counts.append(member.sum(dtype=d.alliance.dtype))
    return jnp.stack(totals) / jnp.maximum(jnp.stack(counts), 1.0)


def _by_seller_in_blocks(values, seller, n):
    """``trade.sum_by_seller`` with the routes taken in order of seller, then summed in blocks
    (``world.blocked_segment_sum``): no atomic adds of a hub's many routes into one address."""
    import jax.numpy as jnp

    from diplosim.world import blocked_segment_sum, take

    order = jnp.argsort(seller, stable=True)  # of the world's fixed arrays only: hoisted out of the loop (seen on a CPU)
    return blocked_segment_sum(take(values, order), take(seller, order), n)


def _by_buyer_in_blocks(values, buyer, n):
    """``trade.sum_by_buyer`` in blocks (the routes are sorted by buyer), as the GPU's ``segment_sum_dst``."""
    from diplosim.world import blocked_segment_sum

    return blocked_segment_sum(values, buyer, n)


def _once(function):
    from diplosim.world import once

    return once(function)


def _position_distance_by_array(position, salience, src, dst):
    """``world._position_distance`` as it was before change 26: each of the 7 arrays (3 issues'
    positions and saliences, their total) gathered alone at each end."""
    import jax.numpy as jnp

    from diplosim.world import materialise, take

    weighted_i = weighted_j = 0.0
    for k in range(position.shape[1]):
        x_k, s_k = position[:, k], salience[:, k]
        gap = jnp.abs(take(x_k, src) - take(x_k, dst))
        weighted_i = weighted_i + take(s_k, src) * gap
        weighted_j = weighted_j + take(s_k, dst) * gap
    total = salience.sum(axis=1) + 1e-6
    return materialise(0.5 * (weighted_i / take(total, src) + weighted_j / take(total, dst)))


def _shared_threat_in_rows(world, n_blocs):
    """``alliances.shared_threat`` with the blocs' threats gathered as one row at each end
    (``world.take_rows``) instead of one gather per bloc."""
    import jax.numpy as jnp

    from diplosim.mechanisms.alliances import bloc_threat
    from diplosim.world import take, take_rows

    d, s = world.dyads, world.states
    bloc_i, bloc_j = take(s.bloc, d.src), take(s.bloc, d.dst)
    threats = bloc_threat(world, n_blocs)
    at_i, at_j = take_rows(threats, d.src), take_rows(threats, d.dst)
    shared = jnp.zeros_like(d.tension)
    for b in range(n_blocs):
        third = (bloc_i != b) & (bloc_j != b)
        shared = shared + jnp.where(third, at_i[b] * at_j[b], 0.0)
    return shared


def _capped_every_step(world, params, conflict):
    """``tension.capped_by_ceasefires`` as before change 28: the cap taken at every dyad, every step."""
    import jax.numpy as jnp

    from diplosim.mechanisms.tension import ceasefire_cap

    return jnp.minimum(conflict, ceasefire_cap(world, params))


def _reversed_masks_apart(first, second, dyads):
    from diplosim.world import reverse_of

    return reverse_of(first, dyads), reverse_of(second, dyads)


def _reverse_of(values, dyads):
    """``world.reverse_of``, read when the variant is traced."""
    from diplosim.world import reverse_of

    return reverse_of(values, dyads)


def _reverse_of_apart(values, dyads):
    """``world.reverse_of``, its gather written into memory (``world.materialise``), as a CPU's ``alliances.reverse_trust``."""
    from diplosim.world import materialise, reverse_of

    return materialise(reverse_of(values, dyads))


@contextlib.contextmanager
def _patched(module_name: str, name: str, replacement: Any) -> Iterator[None]:
    """``module_name.name`` set to ``replacement`` for the block (read while the variant is traced)."""
    import importlib

    module = importlib.import_module(module_name)
    before = getattr(module, name)
    setattr(module, name, replacement)
    try:
        yield
    finally:
        setattr(module, name, before)


def in_pairs(world):
    """``world`` with its dyads reordered in pairs, each next to its reverse (by the lesser state,
    then the greater, the dyad from the lesser first), so that ``reverse`` is ``e ^ 1``; every
    dyad index the world holds (envoys, schedule, watched dyads, energy routes) is mapped alike."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from diplosim.world import replace

    d = world.dyads
    src, dst, reverse = (np.asarray(x) for x in (d.src, d.dst, d.reverse))
    n = src.shape[0]
    order = np.lexsort((src > dst, np.maximum(src, dst), np.minimum(src, dst)))  # new position -> old dyad
    position = np.empty(n, np.int64)
    position[order] = np.arange(n)

    def moved(index):
        index = np.asarray(index)
        return jnp.asarray(np.where(index < n, position[np.minimum(index, n - 1)], index).astype(np.int32))

    dyads = jax.tree.map(lambda x: jnp.asarray(np.asarray(x)[order]), d)
    dyads = replace(dyads, reverse=jnp.asarray(position[reverse[order]].astype(np.int32)))
    return world.replace(dyads=dyads, envoys=replace(world.envoys, dyad=moved(world.envoys.dyad)),
                         events=replace(world.events, dyad=moved(world.events.dyad)), watch=moved(world.watch),
                         energy_dyads=jnp.sort(moved(world.energy_dyads)))


VARIANTS: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
    "baseline": contextlib.nullcontext,
    "gpu_program": lambda: _patched("diplosim.world", "GPU_PROGRAM", True),
    "cpu_program": lambda: _patched("diplosim.world", "GPU_PROGRAM", False),
    "cohesion_per_bloc": lambda: _patched("diplosim.mechanisms.metrics", "bloc_cohesion", _cohesion_per_bloc),
    "sellers_in_blocks": lambda: _patched("diplosim.mechanisms.trade", "sum_by_seller", _by_seller_in_blocks),
    "buyers_in_blocks": lambda: _patched("diplosim.mechanisms.trade", "sum_by_buyer", _by_buyer_in_blocks),
    "positions_by_array": lambda: _patched("diplosim.world", "_position_distance", _once(_position_distance_by_array)),
    "threats_in_rows": lambda: _patched("diplosim.mechanisms.alliances", "shared_threat", _shared_threat_in_rows),
    "dyads_in_pairs": contextlib.nullcontext,
    "distance_every_step": lambda: _patched("diplosim.engine", "carries_distance", lambda n_dyads: False),
    "cap_every_step": lambda: _patched("diplosim.mechanisms.tension", "capped_by_ceasefires", _capped_every_step),
    "masks_reversed_apart": lambda: _patched("diplosim.mechanisms.decisions", "reversed_masks", _reversed_masks_apart),
    "trust_back_fused": lambda: _patched("diplosim.mechanisms.alliances", "reverse_trust", _reverse_of),
    "trust_back_apart": lambda: _patched("diplosim.mechanisms.alliances", "reverse_trust", _reverse_of_apart),
}
WORLDS: dict[str, Callable[[Any], Any]] = {"dyads_in_pairs": in_pairs}  # variants of the data, not the code


def max_rel_diff(baseline, variant) -> float:
    """The largest ``|v - b| / max(|b|, 1e-3)`` over the float arrays of two programs' outputs."""
    import jax
    import numpy as np

    worst = 0.0
    for b, v in zip(jax.tree.leaves(baseline), jax.tree.leaves(variant)):
        b, v = np.asarray(b), np.asarray(v)
        if b.size and np.issubdtype(b.dtype, np.floating):
            b64, v64 = b.astype(np.float64), v.astype(np.float64)
            worst = max(worst, float(np.max(np.abs(v64 - b64) / np.maximum(np.abs(b64), 1e-3))))
    return worst


def measure(states: int, names: list[str], rounds: int, calls: int, steps: int = 10, programs: Path | None = None) -> list[dict]:
    import jax

    world, params, spec = step_world(states)
    worlds = {name: WORLDS[name](world) if name in WORLDS else world for name in names}
    key = jax.random.key(0)
    compiled, finals = {}, {}
    for name in names:
        with VARIANTS[name]():
            jax.clear_caches()  # traced anew, with this variant's code
            started = time.perf_counter()
            compiled[name] = step_program(worlds[name], params, key, spec, steps)  # as simulate runs a chunk
        if programs is not None:  # the optimised program, to read a GPU's fusions on a machine without one
            programs.mkdir(parents=True, exist_ok=True)
            with gzip.open(programs / f"{name}_{states}.hlo.txt.gz", "wt") as file:
                file.write(compiled[name].compiled.as_text())
        program = compiled[name]  # world, metrics, snapshots:
        finals[name] = program.outputs(jax.block_until_ready(program.compiled(*program.args)))
        print(f"{name}: compiled in {time.perf_counter() - started:.1f} s", flush=True)
    jax.clear_caches()
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            for _ in range(calls):
                started = time.perf_counter()
                jax.block_until_ready(compiled[name].compiled(*compiled[name].args))
                times[name].append((time.perf_counter() - started) / steps * 1e3)
    base = statistics.median(times[names[0]])
    rows = []
    for name in names:
        median = statistics.median(times[name])
        rows.append({**_common(), "states": world.n_states, "dyads": world.n_dyads, "variant": name, "calls": len(times[name]),
                     "median_ms": round(median, 3), "over_baseline": round(median / base, 3),
                     "max_rel_diff": "" if name in WORLDS or names[0] in WORLDS
                     else f"{max_rel_diff(finals[names[0]], finals[name]):.1e}"})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    from diplosim.process import use_huge_pages

    use_huge_pages()  # as the diplosim command does
    parser = arguments(__doc__)
    parser.add_argument("--states", type=whole_number(SMALLEST_WORLD), default=1_000_000, help="states of the synthetic world (about 10 dyads each)")
    parser.add_argument("--variants", nargs="*", choices=list(VARIANTS), default=list(VARIANTS),
                        help="the first is the reference of over_baseline and max_rel_diff")
    parser.add_argument("--rounds", type=whole_number(1), default=2, help="rounds of the variants in turns")
    parser.add_argument("--calls", type=whole_number(1), default=5, help="calls of 10 steps per variant and round")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where variants.csv and variants.md go")
    parser.add_argument("--programs", type=Path, help="also write each variant's optimised program here (gzipped text)")
    args = parser.parse_args()
    rows = measure(args.states, args.variants, args.rounds, args.calls, programs=args.programs)
    record(args.results, "variants", [
        "# Variants of the step, side by side", "",
        "Written by `benchmarks/variants.py` (its docstring says what each variant is and how they are timed): "
        "milliseconds a step, the median of the calls; `over_baseline` against the first variant of the same run, "
        "and `max_rel_diff` of the outputs (the final world, every step's metrics) from that variant's.", "",
    ], COLUMNS, rows)


if __name__ == "__main__":
    main()
