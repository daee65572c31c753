"""The JAX core: ``step`` composes the mechanisms; ``simulate`` scans it; ``simulate_batch`` vmaps it.

Everything here is jit-compiled.  Sizes and mechanism switches are static;
the world, the parameters and the key are arguments (never closed over), so a
new world of the same shapes or new parameter values reuse the compiled
program.  A long run is split into chunks of steps, each one compiled scan,
so a progress bar can advance between chunks; the chunking does not change
the result, because each step's key is ``fold_in(run_key, step)``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import os
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from diplosim import guard, programs, sharding
from diplosim.mechanisms import (
    agreements,
    alliances,
    approval,
    decisions,
    economy,
    events,
    negotiation,
    tension,
    trade,
    trust,
)
from diplosim.mechanisms.metrics import detect_events, metrics
from diplosim.params import Mechanisms, Params
from diplosim.world import (
    World,
    carried_distance,
    carries_distance,
    computed_once,
    distance_cache,
    map_shared,
    materialise,
    shared_axes,
    shared_of,
)

# Fixed per-mechanism key streams: adding a mechanism never changes another's draws.
KEY_STREAM = {
    "events": 1,
    "decisions": 2,
    "negotiation": 3,
    "agreements": 4,
    "trade": 5,
    "economy": 6,
    "tension": 7,
    "alliances": 8,
    "trust": 9,
    "approval": 10,
}

# Fields written to the sampled state and dyad tables.
STATE_SNAPSHOT = ("power", "gdp", "growth", "approval", "energy_bought", "energy_sold")
DYAD_SNAPSHOT = (
    "alliance", "trade", "energy_flow", "tension", "trust_alpha", "trust_beta",
    "sanction", "secondary_sanction", "conflict", "channel",
)


def _pipeline(n_blocs: int, overrides=None):
    """The process order of docs/MODEL.md, as (switch name, function); ``overrides`` replace default decisions."""
    return (
        ("events", events.scheduled_events),
        ("decisions", functools.partial(decisions.decisions, overrides=overrides)),
        ("negotiation", negotiation.negotiation),
        ("agreements", agreements.agreements),
        ("trade", trade.trade_and_energy),
        ("economy", economy.economy),
        ("tension", tension.tension_and_conflict),
        ("alliances", functools.partial(alliances.alliances, n_blocs=n_blocs)),
        ("trust", trust.trust),
        ("approval", approval.approval),
    )


def step(
    world: World, params: Params, key: jax.Array, mechanisms: Mechanisms = Mechanisms(), overrides=None
) -> tuple[World, dict]:
    """Advance the world by one step (one week).

    Returns the new world and its metrics (see ``diplosim.mechanisms.metrics``).
    ``key`` is this step's key; each mechanism draws from its own stream.
    ``overrides`` = (values, mask), two ``decisions.Actions``: where mask is
    True the value replaces the default rule's action (the Mesa layer's
    ``decide()`` hooks); None: default rules everywhere.
    """
    new = world
    with computed_once():  # what two mechanisms derive from the same arrays, computed once (world.once)
        for name, mechanism in _pipeline(world.n_blocs, overrides):
            if getattr(mechanisms, name):
                with jax.named_scope(name):  # names the mechanism in the compiled program (benchmarks/profile.py)
                    new = _settled(new, mechanism(new, params, jax.random.fold_in(key, KEY_STREAM[name])))
        new = new.replace(step=world.step + 1)
        with jax.named_scope("metrics"):
            return new, metrics(new, before=world)


def _settled(before: World, after: World) -> World:
    """``after`` with every array the mechanism changed computed once into memory (see ``materialise``).

    Later mechanisms gather from these arrays; without this XLA would
    recompute each producer at every gathered index.
    """
    return jax.tree.map(lambda old, new: new if new is old else materialise(new), before, after)


step_jit = jax.jit(step, static_argnames="mechanisms")


def step_with_actions(world: World, params: Params, key: jax.Array, overrides=None, *, mechanisms: Mechanisms = Mechanisms()):
    """One jitted step with some states' decisions replaced (see ``step``); compiles once per shape."""
    return step_jit(world, params, key, mechanisms, overrides)


@dataclass(frozen=True)
class RunSpec:
    """Static settings of a run: they shape the compiled program."""

    mechanisms: Mechanisms = Mechanisms()
    every: int = 1  # sample states (and dyads) every `every` steps
    sample_states: bool = True
    sample_dyads: bool = False
    event_capacity: int = 64
    guard: str = "off"  # off | stop | flag: what a NaN or infinity does (diplosim.guard)
    sharding: str = "off"  # off | states: one world split across the devices (diplosim.sharding); simulate only


def snapshot(world: World, spec: RunSpec) -> dict[str, Any]:
    """The sampled fields of one world."""
    out: dict[str, Any] = {"step": world.step}
    if spec.sample_states:
        out["states"] = {f: getattr(world.states, f) for f in STATE_SNAPSHOT}
    if spec.sample_dyads:
        out["dyads"] = {f: getattr(world.dyads, f) for f in DYAD_SNAPSHOT}
    return out


def _one_step(spec: RunSpec, params: Params, run_key: jax.Array, carry: tuple[World, Any], _):
    world, distance = carry  # distance: a world.DistanceCache, or None
    key = jax.random.fold_in(run_key, world.step)
    with carried_distance(distance) as held:
        new, m = step(world, params, key, spec.mechanisms)
    if spec.event_capacity:
        m = {**m, "events": detect_events(world, new, spec.event_capacity)}
    if spec.guard != "off":  # numerical guard: check (stop) or flag the new world; off traces nothing
        m = guard.inspect_step(new, m, spec.guard)
    return (new, held.cache), m


def keeps_distance(world: World, spec: RunSpec) -> bool:
    """Whether an unbatched run of ``world`` carries its position distance from step to step: a large
    world (``world.carries_distance``) where tension or alliances read it."""
    return carries_distance(world.n_dyads) and (spec.mechanisms.tension or spec.mechanisms.alliances)


def _chunk(world: World, params: Params, run_key: jax.Array, *, spec: RunSpec, samples: int, every: int, keep_distance: bool = True):
    """``samples * every`` steps as one scan; a snapshot after each ``every`` steps.

    ``keep_distance``: a large world's position distance is carried from step to step and recomputed only
    at the dyads of the states whose positions moved (``world.updated_distance``: the same values,
    bit for bit), here computed anew for the chunk (``_chunk_carrying`` takes it from the chunk before).
    Off in the batched and sharded programs: under ``vmap`` its ``lax.cond`` would compute both
    branches, and split over devices its few scattered updates are not worth the traffic.
    """
    distance = distance_cache(world) if keep_distance and keeps_distance(world, spec) else None
    world, _, per_step, snaps = _chunk_carrying(world, distance, params, run_key, spec=spec, samples=samples, every=every)
    return world, per_step, snaps


def _chunk_carrying(world: World, distance: Any, params: Params, run_key: jax.Array, *, spec: RunSpec, samples: int, every: int):
    """``_chunk`` from the carried distance of the chunk before (a ``world.DistanceCache``, or None:
    none carried); returns the world, the distance to carry to the next, the steps' rows and the snapshots."""

    def sample_period(state, _):
        state, per_step = jax.lax.scan(functools.partial(_one_step, spec, params, run_key), state, length=every)
        return state, (per_step, snapshot(state[0], spec))

    (world, distance), (per_step, snaps) = jax.lax.scan(sample_period, (world, distance), length=samples)
    flatten = lambda x: x.reshape((samples * every,) + x.shape[2:])  # noqa: E731
    return world, distance, jax.tree.map(flatten, per_step), snaps


_run_chunk = jax.jit(_chunk, static_argnames=("spec", "samples", "every"))
_run_chunk_carrying = jax.jit(_chunk_carrying, static_argnames=("spec", "samples", "every"))
# simulate's: the world and the distance handed on from chunk to chunk, each chunk writing its own into
# the buffers of the ones it was given (a 30-step run at 10^6 states: 1.0 GB less at the peak, about 0.86
# of the step in a noisy hour; benchmarks/ROOFLINE.md, change 31)
_run_chunk_handing_on = programs.donating(_chunk_carrying, 2, static_argnames=("spec", "samples", "every"))


def _copied_world(world: World) -> World:
    """A copy of every array of ``world``: one program, not one per array's shape (and a name of its own, which
    ``programs.call`` keys kept programs by)."""
    return jax.tree.map(jnp.copy, world)


_copy_world = jax.jit(_copied_world)
_distance_of = jax.jit(distance_cache)


def _world_axes(world: World, shared: bool):
    """The vmap axes of a batch's world: 0 for every array, or none for those in ``SHARED`` when ``shared``."""
    return shared_axes(world) if shared else 0


@functools.partial(jax.jit, static_argnames=("spec", "samples", "every", "shared"))
def _run_chunk_batch(world: World, params: Params, run_keys: jax.Array, *, spec: RunSpec, samples: int, every: int, shared: bool = False):
    """``_chunk`` vmapped over a leading run axis of the world, params and keys.

    ``shared``: the world's structure and clock (``diplosim.world.SHARED``) have no run axis,
    being the same in every run; they come back so.  The history comes back time first,
    [steps, runs, ...], as the scan writes it: the host then copies each chunk's rows as one
    block (``_Rows``), and the device transposes nothing.
    """
    one_run = functools.partial(_chunk, spec=spec, samples=samples, every=every, keep_distance=False)
    axes = _world_axes(world, shared)
    return jax.vmap(one_run, in_axes=(axes, 0, 0), out_axes=(axes, 1, 1))(world, params, run_keys)


@functools.partial(jax.jit, static_argnames=("spec", "samples", "every", "batched", "shared"))
def _run_chunk_checked(
    world: World, params: Params, run_key: jax.Array, *, spec: RunSpec, samples: int, every: int, batched: bool, shared: bool = False,
):
    """``_chunk`` (vmapped if ``batched``) under checkify, for engine.guard = stop: returns (error, outputs)."""
    one_run = guard.checkified(functools.partial(_chunk, spec=spec, samples=samples, every=every, keep_distance=not batched))
    if not batched:
        return one_run(world, params, run_key)
    axes = _world_axes(world, shared)
    return jax.vmap(one_run, in_axes=(axes, 0, 0), out_axes=(0, (axes, 1, 1)))(world, params, run_key)  # as _run_chunk_batch


@functools.partial(jax.jit, static_argnames=("spec", "samples", "every"), donate_argnums=(0, 1))
def _run_chunk_checked_carrying(world: World, distance: Any, params: Params, run_key: jax.Array, *, spec: RunSpec, samples: int, every: int):
    """``_chunk_carrying`` under checkify, for engine.guard = stop in a run that carries its position
    distance from chunk to chunk: returns (error, (world, distance, per-step rows, snapshots)).  Like
    ``_run_chunk_handing_on``, it takes over the buffers of the world and the distance it is given."""
    one_run = guard.checkified(functools.partial(_chunk_carrying, spec=spec, samples=samples, every=every))
    return one_run(world, distance, params, run_key)


@functools.partial(jax.jit, static_argnames=("spec", "samples", "every", "layout", "checked"))
def _run_chunk_sharded(
    padded: World, params: Params, run_key: jax.Array, *, spec: RunSpec, samples: int, every: int,
    layout: sharding.Layout, checked: bool,
):
    """``_chunk`` on a world split over ``layout``'s mesh (see diplosim.sharding): crop, run, write back.

    ``checked`` (engine.guard = stop): under checkify, returning (error, outputs).
    """

    def padded_chunk(padded, params, run_key):
        world, per_step, snaps = _chunk(sharding.crop(padded, layout), params, run_key, spec=spec, samples=samples, every=every, keep_distance=False)
        return sharding.refill(padded, world, layout), per_step, sharding.pad_snapshots(snaps, layout)

    return (guard.checkified(padded_chunk) if checked else padded_chunk)(padded, params, run_key)


_crop_world = jax.jit(sharding.crop, static_argnames="layout")


def chunk_plan(steps: int, every: int, chunk_steps: int = 0, split_periods: bool = False) -> list[tuple[int, int]]:
    """Split ``steps`` into chunks of ``(samples, every)``; at most two distinct shapes compile.

    Snapshots fall every ``every`` steps, and on the last step.  Automatic chunks (``chunk_steps``
    0) are about a twentieth of the run, made equal where a chunk up to twice as long divides
    the run: every chunk is then one program, traced and compiled once (104 steps: 13 chunks of
    8, not 17 of 6 and one of 2).

    A chunk is a whole number of sampling periods, unless ``split_periods``: then a period longer
    than the chunks asked for is run as equal pieces ``(1, piece)``, ``piece`` a divisor of
    ``every`` (automatic: the least at or above a twentieth of the run; asked for: the greatest at
    or below ``chunk_steps``).  Each piece takes a snapshot, which is a sample only where it ends
    a period (``sampled``).  ``_run`` asks for it on a GPU, where one chunk's history goes to the
    host while the next computes: 52 steps sampled once (``simulate_batch``'s usual use) would
    otherwise be one chunk, and its whole history would be copied after it.
    """
    if steps < 0 or every < 1:
        raise ValueError(f"steps must be >= 0 and output.every >= 1 (got steps={steps}, every={every})")
    periods, rest = divmod(steps, every)
    automatic = chunk_steps <= 0
    if automatic:
        chunk_steps = -(-steps // 20)
    if split_periods and periods and chunk_steps < every:
        divisors = [d for d in range(1, every + 1) if every % d == 0]
        piece = min(d for d in divisors if d >= chunk_steps) if automatic else max(d for d in divisors if d <= chunk_steps)
        if piece < every:
            return [(1, piece)] * (periods * every // piece) + ([(1, rest)] if rest else [])
    chunk_steps = max(every, chunk_steps)
    per_chunk = max(1, chunk_steps // every)
    if automatic and periods % per_chunk:
        per_chunk = next((c for c in range(per_chunk, 2 * per_chunk + 1) if periods % c == 0), per_chunk)
    plan = [(per_chunk, every)] * (periods // per_chunk)
    if periods % per_chunk:
        plan.append((periods % per_chunk, every))
    if rest:
        plan.append((1, rest))
    return plan


def sampled(plan: list[tuple[int, int]], every: int) -> list[bool]:
    """For each chunk of ``plan``: whether its snapshots are samples of the run (they fall every
    ``every`` steps and on the last step), or the one snapshot of a piece of a period (dropped)."""
    steps = sum(samples * length for samples, length in plan)
    done, out = 0, []
    for samples, length in plan:
        done += samples * length
        out.append(done % every == 0 or done == steps)
    return out


@dataclass
class Trajectory:
    """A run's history as host numpy arrays.

    metrics: name -> [T + 1, ...] (row 0 is the initial world);
    events: kind, subject, actor, target, detail -> [T, R] (see detect_events); dropped -> [T];
    states / dyads: field -> [S + 1, N] / [S + 1, E], with ``sample_steps`` [S + 1].
    """

    metrics: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    sample_steps: np.ndarray
    states: dict[str, np.ndarray] | None
    dyads: dict[str, np.ndarray] | None


def _progress(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False)


COPY_THREADS = min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)  # copy threads
THREADED_COPY_BYTES = 64 << 20  # pieces from this size up are copied by COPY_THREADS threads


class _Rows:
    """Arrays of ``total`` rows (the leading axis), allocated at the first piece and filled piece by piece.

    A concatenation of the pieces, done as each comes back from the device: while the host copies
    one chunk's rows, the device computes the next chunk.  A batch's pieces are [rows, runs, ...]
    (``_run_chunk_batch``), so each is one block of memory; ``result(batched=True)`` gives
    [runs, rows, ...] views of the same arrays.

    A large piece is copied by several threads (numpy lets go of the GIL while it copies): the
    copy into freshly allocated memory is bound by the kernel's page faults as much as by memory,
    and one thread filled 0.93 GB (10^5 Alaska runs of 52 steps) in 0.26 to 0.36 s on the H200
    machine, as long as the device took for the whole run (benchmarks/ROOFLINE.md, change 15).
    """

    def __init__(self, total: int):
        self.total, self.filled, self.arrays, self.tree = total, 0, None, None

    def add(self, tree) -> None:
        leaves, tree_def = jax.tree.flatten(tree)
        leaves = [np.asarray(x) for x in leaves]  # waits for this piece's copy to the host
        if self.arrays is None:
            self.tree = tree_def
            self.arrays = [np.empty((self.total, *x.shape[1:]), x.dtype) for x in leaves]
        rows = leaves[0].shape[0] if leaves else 0
        copies = [(out[self.filled : self.filled + rows], x) for out, x in zip(self.arrays, leaves)]
        _copy_all(copies, threads=COPY_THREADS if sum(x.nbytes for x in leaves) >= THREADED_COPY_BYTES else 1)
        self.filled += rows

    def result(self, batched: bool):
        if self.tree is None:
            return None
        return jax.tree.unflatten(self.tree, [np.moveaxis(x, 0, 1) if batched else x for x in self.arrays])


def _copy_all(copies: list[tuple[np.ndarray, np.ndarray]], threads: int) -> None:
    """``out[...] = x`` for each pair; with ``threads`` > 1, by that many threads, each pair cut into
    parts in proportion to its size (about 4 x ``threads`` parts in all, at least one per pair)."""
    if threads <= 1:
        for out, x in copies:
            out[...] = x
        return
    total = sum(x.nbytes for _, x in copies) or 1
    parts = []
    for out, x in copies:
        if not out.flags.c_contiguous:  # never for _Rows (a slice of rows), but then: a part of its own
            parts.append((out, x))
            continue
        pieces = max(1, min(x.size, round(4 * threads * x.nbytes / total)))
        flat_out, flat_x = out.reshape(-1), np.broadcast_to(x, out.shape).reshape(-1)  # views of the same order
        parts += zip(np.array_split(flat_out, pieces), np.array_split(flat_x, pieces))
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda pair: np.copyto(pair[0], pair[1], casting="unsafe"), parts))


PINNED_PLATFORMS = {"gpu", "cuda", "rocm"}  # where a chunk's history goes to the host through pinned memory


def _on_cpu(placement) -> bool:
    return all(d.platform == "cpu" for d in placement.device_set)


SPLIT_PERIODS: bool | None = None  # None: where the world is off the CPU (a GPU); True or False: always (tests)


def _placement(world: World):
    """The sharding of ``world``'s arrays (None for numpy arrays)."""
    return getattr(jax.tree.leaves(world)[0], "sharding", None)


def _splits_periods(world: World) -> bool:
    """Whether ``_run`` runs a long sampling period as several chunks (``chunk_plan``'s
    ``split_periods``): on a GPU, where the host copies one chunk's history while the next
    computes; on a CPU, no, where the copy and XLA share the cores and every chunk costs a call."""
    if SPLIT_PERIODS is not None:
        return SPLIT_PERIODS
    placement = _placement(world)
    return placement is not None and not _on_cpu(placement)


def _beside(params, world: World):
    """``params`` on the device that holds ``world``, copied there once for a run.

    Parameters arrive as numpy arrays (``params_from``, ``stack_params``), and a jitted program
    copies a numpy argument to the device at every call: on a GPU, one copy per parameter and chunk
    (73 a call), which left the device idle 0.4 ms a step in 10-step calls at 10^6 states on the
    H200 (benchmarks/ROOFLINE.md, change 23).  For a world split over devices the parameters are
    left as they are, for jit to place beside its shards."""
    placement = _placement(world)
    if not isinstance(placement, jax.sharding.SingleDeviceSharding):
        return params
    return jax.device_put(params, placement)


def _to_host_soon(tree):
    """Start copying the arrays of ``tree`` to the host once the device has computed them; returns
    what to read them from.

    On a GPU: a copy into pinned host memory (``jax.device_put`` to memory kind ``pinned_host``),
    which numpy then reads in place.  On an H200 that moved 0.93 GB (the metrics of 10^5 Alaska
    runs of 52 steps, in 221 arrays) in 18 ms, against 145 ms through ``copy_to_host_async`` and
    pageable memory (benchmarks/ROOFLINE.md).  For arrays split over devices:
    ``copy_to_host_async``.  On a CPU, nothing: the arrays are in host memory already.
    """
    leaves = jax.tree.leaves(tree)
    placement = leaves[0].sharding if leaves else None
    if placement is None or _on_cpu(placement):
        return tree
    if (
        isinstance(placement, jax.sharding.SingleDeviceSharding)
        and next(iter(placement.device_set)).platform in PINNED_PLATFORMS
        and all(x.sharding == placement for x in leaves)
    ):
        try:
            return jax.device_put(tree, placement.with_memory_kind("pinned_host"))
        except (ValueError, RuntimeError, NotImplementedError):  # no pinned memory here: as elsewhere
            pass
    for x in leaves:
        x.copy_to_host_async()
    return tree


@functools.partial(jax.jit, static_argnames=("spec", "batched", "shared"))
def _initial_rows(world: World, *, spec: RunSpec, batched: bool, shared: bool = False):
    """Row 0 of the history, the initial world's metrics and snapshot, as one compiled program
    (run op by op, their few dozen operations would each be compiled on first use in a process)."""
    if batched:
        axes = _world_axes(world, shared)
        return jax.vmap(metrics, in_axes=(axes,))(world), jax.vmap(snapshot, in_axes=(axes, None))(world, spec)
    return metrics(world), snapshot(world, spec)


# A batch's world and its SHARED arrays, each as one compiled program (see _initial_rows)
@functools.partial(jax.jit, static_argnames="n_runs")
def _runs_of(world: World, n_runs: int) -> World:
    """One world for ``n_runs`` runs: a run axis on every array but those in ``SHARED``."""
    return map_shared(world, other=lambda x: jnp.broadcast_to(x, (n_runs, *x.shape)))


@jax.jit
def _share(worlds: World) -> tuple[World, jax.Array]:
    """A batched world with its arrays in ``SHARED`` once (run 0's), and whether every run has the same."""
    same = jnp.stack([jnp.asarray(True)] + [jnp.all(x == x[:1]) for x in shared_of(worlds)]).all()
    return map_shared(worlds, shared=lambda x: x[0]), same


@functools.partial(jax.jit, static_argnames="n_runs")
def _unshare(world: World, n_runs: int) -> World:
    """The inverse of ``_share``: a run axis on every array."""
    return map_shared(world, shared=lambda x: jnp.broadcast_to(x, (n_runs, *x.shape)))


def _run(world, params, key, steps, spec, chunk_steps, progress, batched, shared=False):
    """``shared`` (a batch): the arrays of ``world`` in ``SHARED`` have no run axis, being the same
    in every run (see _run_chunk_batch)."""
    sharded = sharding.check_mode(spec.sharding) == "states"
    programs.release_when_crowded()  # many programs compiled in this process: drop them before the maps run out
    # the plain chunk programs are traced once per compile cache, not once per process (diplosim.programs)
    runner = functools.partial(programs.call, _run_chunk_batch if batched else _run_chunk)
    if shared:
        runner = functools.partial(runner, shared=True)
    n_runs = jax.tree.leaves(params)[0].shape[0] if batched else None
    first_metrics, first_snap = _initial_rows(world, spec=spec, batched=batched, shared=shared)
    if spec.guard != "off":  # numerical guard: inspect the initial world (row 0); stop: run under checkify
        full = _unshare(world, n_runs=n_runs) if shared else world
        first_metrics = guard.inspect_initial(full, first_metrics, spec.guard, batched)
        if spec.guard == "stop":
            runner = guard.stopping(functools.partial(_run_chunk_checked, batched=batched, shared=shared))
    layout = None
    if sharded:  # one world split across the devices
        layout = sharding.layout_for(world)
        world = sharding.shard_world(world, layout)
        runner = functools.partial(_run_chunk_sharded, layout=layout, checked=spec.guard == "stop")
        if spec.guard == "stop":
            runner = guard.stopping(runner)
    params = _beside(params, world)  # after the world is split, if it is: then left as they are
    plan = chunk_plan(steps, spec.every, chunk_steps, split_periods=_splits_periods(world))
    samples_of = sampled(plan, spec.every)
    history = {"metrics": _Rows(steps + 1), "events": _Rows(steps),
               "snaps": _Rows(sum(s for (s, _), kept in zip(plan, samples_of) if kept) + 1)}
    row = lambda tree: jax.tree.map(lambda x: np.asarray(x)[None], tree)  # noqa: E731
    history["metrics"].add(row(first_metrics))
    history["snaps"].add(row(first_snap))

    bar = _progress(steps, progress, "batch" if batched else "simulate")

    def keep(per_step, snaps, steps_done):
        history["metrics"].add({k: v for k, v in per_step.items() if k != "events"})
        if spec.event_capacity:
            history["events"].add(per_step["events"])
        if snaps is not None:  # None: the snapshot of a piece of a sampling period (chunk_plan's split_periods)
            history["snaps"].add(snaps if layout is None else sharding.crop_snapshots(jax.device_get(snaps), layout))
        if bar is not None:
            bar.update(steps_done)

    if not batched and layout is None and steps > 0 and keeps_distance(world, spec):
        # a large world's position distance, computed once a run and carried from chunk to chunk; the world
        # and the distance are handed on (donated), the caller's world copied once so that it stays theirs
        world = programs.call(_copy_world, world)
        distance = programs.call(_distance_of, world)
        carrying = (guard.stopping(_run_chunk_checked_carrying) if spec.guard == "stop"
                    else functools.partial(programs.call, _run_chunk_handing_on))

        def runner(world, params, key, **static):
            nonlocal distance
            world, distance, per_step, snaps = carrying(world, distance, params, key, **static)
            return world, per_step, snaps

    waiting = None  # the last chunk's rows, on their way to the host
    for (samples, every), kept in zip(plan, samples_of):
        world, per_step, snaps = runner(world, params, key, spec=spec, samples=samples, every=every)
        per_step, snaps = _to_host_soon((per_step, snaps if kept else None))
        if waiting is not None:  # the previous chunk's rows, copied while this chunk computes
            keep(*waiting)
        waiting = (per_step, snaps, samples * every)
    if waiting is not None:
        keep(*waiting)
    if bar is not None:
        bar.close()
    if layout is not None:
        world = _crop_world(world, layout=layout)
    if shared:  # every array of the returned world has the run axis
        world = _unshare(world, n_runs=n_runs)
    snap_rows = history["snaps"].result(batched)
    trajectory = Trajectory(
        metrics=history["metrics"].result(batched),
        events=history["events"].result(batched) or {},
        sample_steps=snap_rows["step"],
        states=snap_rows.get("states"),
        dyads=snap_rows.get("dyads"),
    )
    return world, trajectory


def simulate(
    world: World,
    params: Params,
    key: jax.Array,
    steps: int,
    spec: RunSpec = RunSpec(),
    *,
    chunk_steps: int = 0,
    progress: bool = False,
) -> tuple[World, Trajectory]:
    """Run ``steps`` steps; return the final world and the history (metrics every step, snapshots sampled).

    With ``spec.sharding = "states"`` the world's state and dyad arrays are
    split across every device of the platform the world is on (see
    ``diplosim.sharding``); the returned final world is then split too where
    its sizes divide by the number of devices, else gathered.
    """
    return _run(world, params, key, steps, spec, chunk_steps, progress, batched=False)


def simulate_batch(
    world: World,
    params: Params,
    keys: jax.Array,
    steps: int,
    spec: RunSpec = RunSpec(),
    *,
    chunk_steps: int = 0,
    progress: bool = False,
    world_batched: bool = False,
) -> tuple[World, Trajectory]:
    """Run one simulation per row of ``params`` (leading axis R) and ``keys`` (R keys), in one vmapped computation.

    ``world`` is shared by every run, or, with ``world_batched=True``, has a
    leading axis R too (variants of one scenario with the same shapes).
    Every array of the returned world and trajectory has a leading axis R; the
    trajectory's are views of arrays stored time first ([T + 1, R, ...]), so a
    run's history ``x[r]`` is strided (``np.ascontiguousarray`` copies it).
    """
    if sharding.check_mode(spec.sharding) != "off":
        raise ValueError(
            f"engine.sharding = {spec.sharding!r} splits one world across devices and applies to single runs "
            "(simulate); a batch of runs needs engine.sharding=off"
        )
    n_runs = keys.shape[0]
    leading = {x.shape[0] for x in jax.tree.leaves(params)}
    if leading != {n_runs}:
        raise ValueError(f"params must have a leading batch axis of length {n_runs} (the number of keys); got {sorted(leading)}")
    if world_batched:
        sizes = {x.shape[0] for x in jax.tree.leaves(world)}
        if sizes != {n_runs}:
            raise ValueError(f"a batched world must have a leading axis of length {n_runs}; got {sorted(sizes)}")
        once, same = _share(world)
        shared = bool(same)
        worlds = once if shared else world
    else:
        worlds, shared = _runs_of(world, n_runs=n_runs), True
    return _run(worlds, params, keys, steps, spec, chunk_steps, progress, batched=True, shared=shared)


def select_device(name: str) -> jax.Device:
    """The device for ``engine.device`` = auto | cpu | gpu."""
    if name not in ("auto", "cpu", "gpu"):
        raise ValueError(f"engine.device = {name!r}: allowed values are auto, cpu, gpu")
    if name == "cpu":
        return jax.devices("cpu")[0]
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        gpus = []
    if gpus:
        return gpus[0]
    if name == "gpu":
        raise ValueError("engine.device = gpu: JAX sees no GPU here (install the CUDA extra: pip install 'diplosim[cuda]', in a checkout pip install -e '.[cuda]'); use engine.device=cpu or auto")
    return jax.devices("cpu")[0]


def run_spec(mechanisms: dict | Mechanisms | None = None, **kw) -> RunSpec:
    """A RunSpec from plain values (as they come from the config)."""
    if isinstance(mechanisms, dict):
        mechanisms = Mechanisms(**mechanisms)
    return dataclasses.replace(RunSpec(), mechanisms=mechanisms or Mechanisms(), **kw)
