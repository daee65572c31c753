"""The world as data: one immutable pytree of arrays (struct of arrays).

Every field is declared once, here, with its meaning, unit and range
(``spec``).  The docs (docs/MODEL.md), the scenario validator and the range
tests read these declarations; nothing else defines a field.

Sizes: N states, M envoys, E directed dyads, A agreement slots, K issues,
V scheduled events, P event memberships, W watched dyads, B blocs.

Dyads are a directed edge list ``src -> dst`` sorted by ``dst`` (then
``src``), so that per-destination reductions read and write in order (the scatters do not say
so to XLA: see ``segment_sum_dst``).  Every
dyad i->j has its reverse j->i in the list (``reverse``), which makes
symmetric quantities (alliance, conflict) cheap to keep symmetric.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import types
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

# One step is one week; the economy's annual rates are multiplied by DT.
WEEKS_PER_YEAR = 52
DT = 1.0 / WEEKS_PER_YEAR

CHANNELS = ("official", "proxy")
AGREEMENT_KINDS = ("ceasefire", "territorial", "sanctions_relief", "channel_restoration")
AGREEMENT_STATUS = ("empty", "in_force", "violated", "expired")
EVENT_KINDS = (
    "summit",
    "sanction",
    "secondary_sanction",
    "military_signal",
    "incentive",
    "conflict_onset",
    "channel_restoration",
)
EVENT_ROLES = ("participant", "excluded")


def spec(doc: str, unit: str = "1", lo: float | None = None, hi: float | None = None):
    """A dataclass field declared with its meaning, unit and closed range."""
    return dataclasses.field(metadata={"doc": doc, "unit": unit, "range": (lo, hi)})


def describe(cls) -> list[tuple[str, str, str, tuple]]:
    """``(name, doc, unit, range)`` of every field of a world/params class."""
    return [
        (f.name, f.metadata["doc"], f.metadata["unit"], f.metadata["range"])
        for f in dataclasses.fields(cls)
        if "doc" in f.metadata
    ]


def _pytree(cls):
    return jax.tree_util.register_dataclass(dataclass(frozen=True)(cls))


@_pytree
class States:
    """Per-state arrays, leading dimension N."""

    power: Any = spec("military capability (defence spending)", "USD bn/yr", 0.0, None)
    gdp: Any = spec("gross domestic product", "USD bn/yr", 0.0, None)
    military_share: Any = spec("share of gdp spent on defence", "1", 0.0, 1.0)
    approval: Any = spec("domestic support for the leadership", "1", 0.0, 1.0)
    approval_baseline: Any = spec("approval the leader returns to when nothing happens (initial approval)", "1", 0.0, 1.0)
    reliability: Any = spec("chance of honouring a commitment each step (private)", "1", 0.0, 1.0)
    position: Any = spec("ideal point on each issue, f32[N, K]", "1", 0.0, 1.0)
    salience: Any = spec("weight the state gives each issue, f32[N, K]", "1", 0.0, 1.0)
    energy_supply: Any = spec("exportable oil supply", "mb/d", 0.0, None)
    energy_demand: Any = spec("oil import demand", "mb/d", 0.0, None)
    energy_bought: Any = spec("oil actually imported last step (starts at energy_demand)", "mb/d", 0.0, None)
    energy_sold: Any = spec("oil actually exported last step (starts at energy_supply)", "mb/d", 0.0, None)
    growth: Any = spec("gdp growth rate last step, annualised (starts 0)", "1/yr", None, None)
    conflict_baseline: Any = spec("highest conflict intensity at step 0 (already reflected in approval and gdp)", "1", 0.0, 1.0)
    bloc: Any = spec("bloc label, i32[N]", "index", 0, None)
    trade_baseline: Any = spec("trade (exports + imports) observed at step 0", "USD bn/yr", 0.0, None)


@_pytree
class Envoys:
    """Per-envoy arrays, leading dimension M (M may be 0)."""

    principal: Any = spec("state the envoy represents, i32[M]", "index", 0, None)
    counterpart: Any = spec("state the envoy talks to, i32[M]", "index", 0, None)
    dyad: Any = spec("dyad principal->counterpart, i32[M]", "index", 0, None)
    channel: Any = spec("0 official, 1 proxy, i32[M]", "index", 0, 1)
    credibility: Any = spec("how far the counterpart believes the envoy's offers", "1", 0.0, 1.0)
    active: Any = spec("envoy currently dispatched, bool[M]", "bool", 0, 1)


@_pytree
class Dyads:
    """Per directed dyad i->j arrays, leading dimension E, sorted by dst."""

    src: Any = spec("state i, i32[E]", "index", 0, None)
    dst: Any = spec("state j, i32[E] (sorted)", "index", 0, None)
    reverse: Any = spec("index of the dyad j->i, i32[E]", "index", 0, None)
    alliance: Any = spec("alliance weight (symmetric)", "1", 0.0, 1.0)
    trade_potential: Any = spec("gravity-model exports i->j without frictions", "USD bn/yr", 0.0, None)
    trade: Any = spec("exports i->j", "USD bn/yr", 0.0, None)
    energy_flow: Any = spec("oil shipped i->j", "mb/d", 0.0, None)
    tension: Any = spec("i's hostility toward j", "1", 0.0, 1.0)
    trust_alpha: Any = spec("Beta count of j's observed compliance, as seen by i", "count", 0.0, None)
    trust_beta: Any = spec("Beta count of j's observed violations, as seen by i", "count", 0.0, None)
    sanction: Any = spec("sanctions i imposes on j", "1", 0.0, 1.0)
    secondary_sanction: Any = spec("i penalises third parties that buy j's oil", "1", 0.0, 1.0)
    conflict: Any = spec("armed-conflict intensity between i and j (symmetric)", "1", 0.0, 1.0)
    channel: Any = spec("diplomatic channel level (1: embassies open)", "1", 0.0, 1.0)


@_pytree
class Agreements:
    """Agreement slots, leading dimension A; status 0 marks a free slot."""

    party_a: Any = spec("first party, i32[A]", "index", 0, None)
    party_b: Any = spec("second party, i32[A]", "index", 0, None)
    kind: Any = spec("index into AGREEMENT_KINDS, i32[A]", "index", 0, len(AGREEMENT_KINDS) - 1)
    issue: Any = spec("issue the terms settle, i32[A]", "index", 0, None)
    terms: Any = spec("agreed position on the issue", "1", 0.0, 1.0)
    verification: Any = spec("probability a violation is detected", "1", 0.0, 1.0)
    channel: Any = spec("channel it came through (0 official, 1 proxy), i32[A]", "index", 0, 1)
    status: Any = spec("index into AGREEMENT_STATUS, i32[A]", "index", 0, len(AGREEMENT_STATUS) - 1)
    age: Any = spec("steps since signature, i32[A]", "steps", 0, None)


@_pytree
class Events:
    """The scenario's schedule, consumed inside the scan; leading dimension V."""

    step: Any = spec("step at which the event fires, i32[V]", "step", 0, None)
    kind: Any = spec("index into EVENT_KINDS, i32[V]", "index", 0, len(EVENT_KINDS) - 1)
    actor: Any = spec("acting state, i32[V]", "index", 0, None)
    target: Any = spec("target state, i32[V]", "index", 0, None)
    dyad: Any = spec("dyad actor->target, i32[V]", "index", 0, None)
    issue: Any = spec("issue on the table (summits), i32[V]", "index", 0, None)
    magnitude: Any = spec("strength of the shock", "1", 0.0, 1.0)
    member_event: Any = spec("event of each membership, i32[P]", "index", 0, None)
    member_state: Any = spec("state of each membership, i32[P]", "index", 0, None)
    member_role: Any = spec("index into EVENT_ROLES, i32[P]", "index", 0, 1)


@_pytree
class World:
    """Everything the model knows at one step."""

    states: States
    envoys: Envoys
    dyads: Dyads
    agreements: Agreements
    events: Events
    watch: Any = spec("dyads reported as named indices, i32[W]", "index", 0, None)
    energy_dyads: Any = spec(
        "dyads on which oil can flow (supply at src, demand at dst), ascending, i32[F]; "
        "recompute with with_energy_dyads after changing supply or demand", "index", 0, None)
    issue_agreement: Any = spec("agreement kind a deal on each issue makes (index into AGREEMENT_KINDS, -1: none), i32[K]", "index", -1, len(AGREEMENT_KINDS) - 1)
    energy_price: Any = spec("world oil price", "USD/bbl", 0.0, None)
    step: Any = spec("steps taken so far, i32[]", "step", 0, None)
    n_blocs: int = dataclasses.field(metadata={"static": True})  # B, a shape: static

    @property
    def n_states(self) -> int:
        return self.states.gdp.shape[-1]

    @property
    def n_dyads(self) -> int:
        return self.dyads.src.shape[-1]

    def replace(self, **changes) -> World:
        return dataclasses.replace(self, **changes)


def replace(obj, **changes):
    """``dataclasses.replace`` for any of the frozen world records."""
    return dataclasses.replace(obj, **changes)


# What runs of a batch that start from one scenario have in common: the world's structure (the
# networks, the membership of states in blocs and of envoys in dyads, the schedule), which no
# step changes, and its clock, which every step advances alike (tests/test_engine.py checks
# both).  ``simulate_batch`` passes these arrays to the vmapped program once, not once per run:
# each gather and scatter by these indices, and each event the clock fires, is then one
# operation over the runs rather than one with an index per run and element.
SHARED = (
    ("states", "bloc"),
    ("envoys", "principal"), ("envoys", "counterpart"), ("envoys", "dyad"),
    ("dyads", "src"), ("dyads", "dst"), ("dyads", "reverse"),
    *(("events", f.name) for f in dataclasses.fields(Events)),
    ("watch",), ("energy_dyads",), ("issue_agreement",), ("step",),
)


def _is_shared(path) -> bool:
    return tuple(getattr(key, "name", key) for key in path) in SHARED


def shared_axes(world: World, axis: int | None = 0):
    """A world-shaped tree of vmap axes: None for the arrays in ``SHARED``, ``axis`` elsewhere."""
    return jax.tree_util.tree_map_with_path(lambda path, _: None if _is_shared(path) else axis, world)


def shared_of(world: World) -> list[jax.Array]:
    """The arrays in ``SHARED``, in a fixed order."""
    return [x for path, x in jax.tree_util.tree_leaves_with_path(world) if _is_shared(path)]


def map_shared(world: World, shared=None, other=None) -> World:
    """``world`` with ``shared`` applied to each of its arrays in ``SHARED`` and ``other`` to the
    rest (None: left as they are)."""
    def apply(path, x):
        function = shared if _is_shared(path) else other
        return x if function is None else function(x)

    return jax.tree_util.tree_map_with_path(apply, world)


def trust_mean(dyads: Dyads, at: jax.Array | None = None) -> jax.Array:
    """i's expected reliability of j, alpha / (alpha + beta): f32[E] in [0, 1], or at the dyads
    ``at`` only (f32[Q]: the same numbers as ``trust_mean(dyads)[at]``, without a pass over every dyad)."""
    alpha, beta = (dyads.trust_alpha, dyads.trust_beta) if at is None else (dyads.trust_alpha[at], dyads.trust_beta[at])
    return alpha / (alpha + beta)


def segment_sum_dst(values: jax.Array, dyads: Dyads, n_states: int) -> jax.Array:
    """Sum of a per-dyad value over the dyads arriving at each state: f32[N].

    Dyads are sorted by destination, but the scatters here and elsewhere in the step do not say so
    (``indices_are_sorted``): on a GPU, XLA emits a sorted scatter as a kernel 1.4x slower than
    the plain one at 10^7 dyads (segment sum 0.52 against 0.38 ms on an H200; the energy routes'
    sum by buyer 0.27 against 0.10 ms), and on a CPU the hint changes nothing
    (benchmarks/ROOFLINE.md, change 14).  The GPU's program sums within blocks of dyads first
    (``blocked_segment_sum``, change 24).
    """
    if gpu_program():  # in blocks first: faster on a GPU, slower on a CPU (blocked_segment_sum)
        return blocked_segment_sum(values, dyads.dst, n_states)
    return jax.ops.segment_sum(values, dyads.dst, n_states)


def materialise(values: jax.Array) -> jax.Array:
    """``values`` unchanged, but computed once into memory before anything gathers from it.

    XLA on a CPU fuses the computation of an array into a gather that reads it
    (``x[reverse]``), recomputing the whole producer at every gathered index:
    measured 10x slower on a 10^6-dyad world.  A scatter is never fused with its
    operand's producer, so a scatter into the first and last rows (in place) makes the producer
    its own loop, computed once.  Two rows, not one: XLA's simplifier turns a one-row scatter
    into a ``dynamic_update_slice``.  The scatter takes the maximum with the dtype's lowest value,
    which leaves every value as it was, bit for bit (NaN and -0.0 too), and reads nothing of the
    array: writing back the rows' own values, as it did before, made the gather of those rows a
    second reader of the producer, and XLA then split producers into several arrays and copied
    arrays before the in-place scatter (benchmarks/ROOFLINE.md, change 19).

    Not a ``dynamic_update_slice``, which this did before: XLA fuses the producer into a
    DUS and emits the fusion as a scalar loop, 5x slower than the producer alone when it
    computes (the tension update with its threefry hash: 200 ms against 37 ms for 10^7
    dyads); and a DUS writing back the array's own first element is deleted by XLA's
    simplifier (as is ``optimization_barrier``, on a CPU, before fusion).
    """
    if values.ndim == 0 or values.shape[0] == 0:
        return values
    rows = jnp.array([0, values.shape[0] - 1], INT)
    if values.dtype == jnp.bool_:
        lowest = False
    elif jnp.issubdtype(values.dtype, jnp.floating):
        lowest = -jnp.inf
    else:
        lowest = jnp.iinfo(values.dtype).min
    return values.at[rows].max(lowest, unique_indices=values.shape[0] > 1, indices_are_sorted=True)


def take(values: jax.Array, index: jax.Array) -> jax.Array:
    """``values[index]`` along the first axis, for an ``index`` known to be in bounds.

    ``values[index]`` first maps negative indices (``index + n`` where ``index < 0``), and XLA
    hoists that out of the scan as one more copy of the index array per use, so that two
    identical gathers no longer look identical and are not merged.  ``take`` gathers at
    ``index`` itself.
    """
    return jnp.take(values, index, axis=0, mode="clip")


GPU_PROGRAM: bool | None = None  # None: by the platform (a GPU's program on a GPU); True or False: always (tests;
# read while tracing and not in jit's key: after changing it, trace new functions or call jax.clear_caches())


def gpu_program() -> bool:
    """Whether the program being traced is built for a GPU, where some computations are faster
    written another way than on a CPU, and the other way round (benchmarks/ROOFLINE.md):

    - loops of a few threads' work a round unrolled (``unrolled``, changes 10 and 16);
    - sums by a sorted index (``segment_sum_dst``) reduced within blocks of dyads first, then
      scattered (``blocked_segment_sum``, change 24);
    - the bloc threat's totals and counts in one scatter (``mechanisms.alliances.bloc_threat``, change 24).

    The platform is the default device's, as ``jax.default_device`` (``engine.device``) sets it.
    The two programs give the same results within float32 rounding, as the GPU's scatter-adds,
    whose order varies, do anyway.
    """
    if GPU_PROGRAM is not None:
        return GPU_PROGRAM
    device = jax.config.jax_default_device
    if device is None:
        return jax.default_backend() != "cpu"
    return (device if isinstance(device, str) else device.platform) != "cpu"


def unrolled() -> bool:
    """Whether the program being traced unrolls its loops of a few threads' work a round (the binary
    searches, the market-clearing and bargaining rounds): on a GPU, yes, where each round of a loop
    launches its kernels again and copies its carry (benchmarks/ROOFLINE.md, change 10); on a CPU,
    no, where the 10^6-state step takes the same time either way and the unrolled program took up
    to twice as long to compile (change 16).  See ``gpu_program``.
    """
    return gpu_program()


def blocked_segment_sum(values: jax.Array, index: jax.Array, n: int, block: int = 16) -> jax.Array:
    """``jax.ops.segment_sum(values, index, n)`` for an ``index`` sorted in ascending order, in two
    passes: a segmented running sum within each block of ``block`` values (log2(block) shifted adds),
    then one scatter-add per run of equal indices in a block.

    On an H200 at 10^6 states, the step's three sums by destination written so took the step from
    6.35 to 6.02 ms (benchmarks/ROOFLINE.md, change 24): the plain scatter's atomic adds, many at a
    time into the same state, cost more than the running sums.  On a CPU, where a scatter is a
    sequential loop, it is slower, so ``segment_sum_dst`` uses it only in the GPU's program.  The
    sums are the same but for the order of the float additions.
    """
    pad = (-values.shape[0]) % block
    v = jnp.pad(values, (0, pad)).reshape(-1, block)
    at = jnp.pad(index, (0, pad), constant_values=n).reshape(-1, block)  # n: beyond the segments, dropped
    total, shift = v, 1
    while shift < block:  # total[i]: the sum of i's run within (i - 2 shift, i] of its block
        before = jnp.pad(total[:, :-shift], ((0, 0), (shift, 0)))
        same_run = jnp.pad(at[:, :-shift], ((0, 0), (shift, 0)), constant_values=-1) == at
        total = total + jnp.where(same_run, before, 0)
        shift *= 2
    last = jnp.concatenate([at[:, :-1] != at[:, 1:], jnp.ones_like(at[:, :1], dtype=bool)], axis=1)  # a run's end
    return jax.ops.segment_sum(jnp.where(last, total, 0).reshape(-1), jnp.where(last, at, n).reshape(-1), n)


def searchsorted(sorted_values: jax.Array, wanted: jax.Array) -> jax.Array:
    """``jnp.searchsorted(sorted_values, wanted, side="left")``, its loop of log2(n) rounds unrolled where
    ``unrolled()``."""
    return jnp.searchsorted(sorted_values, wanted, side="left", method="scan_unrolled" if unrolled() else "scan")


def reverse_of(values: jax.Array, dyads: Dyads) -> jax.Array:
    """The value of the reverse dyad j->i for each dyad i->j: f32[E]."""
    return take(materialise(values), dyads.reverse)


def dst_bloc_bins(world: World) -> jax.Array:
    """Bin of each dyad i->j among the B x N pairs (bloc of i, state j): ``bloc[src] * N + dst``, i32[E].

    A reduction per (sending bloc, destination) is then one scatter into B x N bins: on a CPU,
    2x to 4x faster than B sorted segment reductions over dyads masked by bloc
    (benchmarks/ROOFLINE.md).  Bloc b's results are row b of the [B, N] reshape.
    """
    return _bins(world.states.bloc, world.dyads.src, world.dyads.dst)


_step_scope = threading.local()


@contextlib.contextmanager
def computed_once():
    """Within this (one step of ``engine.step``), a function marked ``once`` computes its value once
    for the same input arrays, the same objects, and returns it again to its next callers.

    Two mechanisms that read a quantity derived from arrays no mechanism between them changes (the
    position distance, the mutual sanction) then share one computation.  XLA does not merge the two
    itself: each call's ``materialise`` is a scatter of its own, and each scatter gets its own copy
    of the producer and its own hoisted loop invariants (benchmarks/ROOFLINE.md, change 18).
    Arrays are compared by identity, which a step keeps for what a mechanism leaves alone
    (``replace``, ``engine._settled``).
    """
    saved = getattr(_step_scope, "values", None)
    _step_scope.values = {}
    try:
        yield
    finally:
        _step_scope.values = saved


def once(function):
    """``function`` of arrays (and of static keyword values, such as sizes), computed once per
    ``computed_once`` scope for the same input arrays and values (outside a scope, every call
    computes).  Call it at the step's level, not first inside a ``lax.cond`` branch or loop body,
    whose values cannot be used outside it.  It calls ``function`` through ``call.__wrapped__``,
    looked up at each call, so that a test can count the computations."""

    @functools.wraps(function)
    def call(*arrays: jax.Array, **static) -> jax.Array:
        values = getattr(_step_scope, "values", None)
        if values is None:
            return call.__wrapped__(*arrays, **static)
        key = (call, *map(id, arrays), *sorted(static.items()))
        seen = values.get(key)
        if seen is None or any(a is not b for a, b in zip(seen[0], arrays)):
            seen = values[key] = (arrays, call.__wrapped__(*arrays, **static))  # the arrays kept: their ids stay theirs
        return seen[1]

    return call


@once  # the bins of tension, alliances and the economy, one array in the traced step
def _bins(bloc: jax.Array, src: jax.Array, dst: jax.Array) -> jax.Array:
    return take(bloc, src) * bloc.shape[0] + dst


@once
def _mutual(sanction: jax.Array, reverse: jax.Array) -> jax.Array:
    return materialise(jnp.maximum(sanction, take(sanction, reverse)))


def take_rows(columns: list[jax.Array], index: jax.Array) -> list[jax.Array]:
    """``[take(c, index) for c in columns]`` for float32 arrays of one length, gathered together: the
    columns side by side in a table whose rows are a multiple of 8 floats (32 bytes, a GPU's unit of
    reading memory), one gather of rows, then its columns.  The same values, bit for bit.

    A gather at random places (at ``src``, in a world sorted by destination) reads for each 4-byte
    value a sector of 32 bytes from memory once the arrays outgrow the cache: the values a dyad
    reads from its state at once come in one read instead of one each.  Measured with the position
    distance's 7 arrays (benchmarks/ROOFLINE.md, change 26): on an H200 at 10^7 states the step went
    from 87.9 to 72.2 ms; on this CPU the distance alone from 259 to 193 ms at 10^6 states.
    """
    n = columns[0].shape[0]
    width = -(-len(columns) // 8) * 8
    table = jnp.stack([*columns, *[jnp.zeros(n, columns[0].dtype)] * (width - len(columns))], axis=1)
    rows = take(table, index)
    return [rows[:, c] for c in range(len(columns))]


def _distance_between(position: jax.Array, salience: jax.Array, i: jax.Array, j: jax.Array) -> jax.Array:
    # one issue at a time, each end's positions, saliences and their total gathered as one row (take_rows)
    k = position.shape[1]
    columns = [position[:, c] for c in range(k)] + [salience[:, c] for c in range(k)] + [salience.sum(axis=1) + 1e-6]
    at_i, at_j = take_rows(columns, i), take_rows(columns, j)
    weighted_i = weighted_j = 0.0
    for c in range(k):
        gap = jnp.abs(at_i[c] - at_j[c])
        weighted_i = weighted_i + at_i[k + c] * gap
        weighted_j = weighted_j + at_j[k + c] * gap
    return 0.5 * (weighted_i / at_i[2 * k] + weighted_j / at_j[2 * k])


@once
def _position_distance(position: jax.Array, salience: jax.Array, src: jax.Array, dst: jax.Array) -> jax.Array:
    return materialise(_distance_between(position, salience, src, dst))


def mutual_sanction(dyads: Dyads) -> jax.Array:
    """The higher of the sanctions i and j impose on each other, max(s_ij, s_ji): f32[E] in [0, 1].

    Trade and tension both read it, in a step where sanctions do not change between them: computed
    once for both (``once``), in memory, the reverses gathered with ``take`` (10^7 random reads of
    a 40 MB array at 10^6 states).
    """
    return _mutual(dyads.sanction, dyads.reverse)


def segment_sum_src(values: jax.Array, dyads: Dyads, n_states: int) -> jax.Array:
    """Sum over the dyads leaving each state: f32[N].

    A scatter by ``src`` (unsorted), not a sorted sum over the reverses: gathering a
    dyad array at ``reverse`` reads 10^7 random places of a 40 MB array (55 ms at 10^6
    states on a CPU, against 14 ms).  Both add each state's dyads in the same order (by
    destination), so the sums are the same.
    """
    return jax.ops.segment_sum(values, dyads.src, n_states)


def dyad_position_distance(states: States, dyads: Dyads) -> jax.Array:
    """Salience-weighted distance of positions, symmetrised: f32[E] in [0, 1].

    d_ij = 1/2 (sum_k s_ik |x_ik - x_jk| / sum_k s_ik + same with s_j)

    Tension and alliances both read it, in a step where positions do not change between them:
    computed once for both (``once``), in memory (left fusible, its gathers would be recomputed
    inside each reader).  Within ``carried_distance`` (the engine's runs of large worlds) it is
    the carried distance, brought up to date at the dyads of the states whose positions moved
    (``updated_distance``); as for a ``once`` function, call it at the step's level, not first inside
    a ``lax.cond`` branch or loop body.
    """
    held = getattr(_step_scope, "distance", None)
    if held is None:
        return _position_distance(states.position, states.salience, dyads.src, dyads.dst)
    if held.cache.position is not states.position or held.cache.salience is not states.salience:
        held.cache = updated_distance(held.cache, states, dyads)
    return held.cache.distance


@_pytree
class DistanceCache:
    """Every dyad's position distance (``dyad_position_distance``), with the positions and saliences
    it was computed from: carried from step to step by the engine's scan (``carried_distance``), and
    from chunk to chunk by ``engine.simulate``."""

    position: Any
    salience: Any
    distance: Any
    n_moved: int = dataclasses.field(metadata={"static": True})  # the most states talks move in a step


CARRY_DISTANCE_FROM = 1 << 16  # dyads: smaller worlds compute the distance anew each step
MOVED_DYADS_SHARE = 16  # the dyads recomputed in a step at most: 1/16 of them (else all of them)


def carries_distance(n_dyads: int) -> bool:
    """Whether the engine's unbatched runs carry the distance for a world of ``n_dyads`` dyads."""
    return n_dyads >= CARRY_DISTANCE_FROM


def distance_cache(world: World) -> DistanceCache:
    """The distance of every dyad of ``world``, computed anew."""
    s, d = world.states, world.dyads
    seats = 2 * world.envoys.principal.shape[-1] + world.events.member_state.shape[-1]  # an envoy's two states; a summit's
    distance = materialise(_distance_between(s.position, s.salience, d.src, d.dst))
    return DistanceCache(s.position, s.salience, distance, n_moved=max(1, min(world.n_states, seats)))


def updated_distance(cache: DistanceCache, states: States, dyads: Dyads) -> DistanceCache:
    """``cache`` for the positions and saliences of ``states``: the same values as ``distance_cache``,
    bit for bit, at a fraction of its cost where few states moved.

    Positions move only in talks, a step's at most an envoy's two states and a summit's members (at
    most 2,005 of the benchmark's 10^6 states; a few in its runs), and a dyad's distance depends on
    its two states alone.  The dyads into a moved state are one run of the list (sorted by destination) and those
    out of it their reverses; the distance is symmetric (the same operations at i->j and j->i), so
    each is computed once, at the dyad into the moved state, and written at both.  At most
    ``cache.n_moved`` states (the envoys' and summit seats' count) and 1/``MOVED_DYADS_SHARE`` of the dyads
    are recomputed this way; a step that moves more recomputes every dyad (``lax.cond``).
    """
    e = dyads.src.shape[0]
    dyad, overflow = moved_dyads(cache, states, dyads)

    def some() -> jax.Array:
        at = jnp.minimum(dyad, e - 1)
        value = _distance_between(states.position, states.salience, take(dyads.src, at), take(dyads.dst, at))
        back = jnp.where(dyad < e, take(dyads.reverse, at), e)
        return cache.distance.at[dyad].set(value, mode="drop").at[back].set(value, mode="drop")

    def every() -> jax.Array:
        return _distance_between(states.position, states.salience, dyads.src, dyads.dst)

    distance = jax.lax.cond(overflow, every, some)
    return DistanceCache(states.position, states.salience, materialise(distance), n_moved=cache.n_moved)


def moved_dyads(cache: DistanceCache, states: States, dyads: Dyads) -> tuple[jax.Array, jax.Array]:
    """The dyads into the states whose position or salience differs from ``cache``'s, ascending,
    padded with E to 1/``MOVED_DYADS_SHARE`` of the dyads (i32), and whether they overflow that, or
    more than ``cache.n_moved`` states moved (bool[])."""
    n, e = states.position.shape[0], dyads.src.shape[0]
    capacity = max(1, e // MOVED_DYADS_SHARE)
    moved = jnp.any(states.position != cache.position, axis=1) | jnp.any(states.salience != cache.salience, axis=1)
    which = first_true(moved, cache.n_moved, n)  # ascending; n where fewer moved
    start = searchsorted(dyads.dst, which)  # the run of dyads into each moved state
    count = searchsorted(dyads.dst, which + 1) - start
    end = jnp.cumsum(count)  # each moved state's slots: [end - count, end)
    total = end[-1]
    slot = jnp.arange(capacity, dtype=INT)
    owner = jnp.minimum(searchsorted(end, slot + 1), cache.n_moved - 1)  # the first state whose slots end past the slot
    dyad = jnp.where(slot < total, start[owner] + slot - (end[owner] - count[owner]), e).astype(INT)
    return dyad, (moved.sum() > cache.n_moved) | (total > capacity)


@contextlib.contextmanager
def carried_distance(cache: DistanceCache | None):
    """Within this, ``dyad_position_distance`` reads and updates ``cache`` (None: computes anew);
    yields the holder whose ``cache`` is the one to carry to the next step."""
    held = types.SimpleNamespace(cache=cache)
    saved = getattr(_step_scope, "distance", None)
    _step_scope.distance = None if cache is None else held
    try:
        yield held
    finally:
        _step_scope.distance = saved


FLOAT = jnp.float32
INT = jnp.int32


def first_true(mask: jax.Array, size: int, fill_value: int, *, block: int = 1024) -> jax.Array:
    """Indices of the first ``size`` True entries of a 1-D ``mask``, ascending, padded with
    ``fill_value``: ``jnp.nonzero(mask, size=size, fill_value=fill_value)[0]``, computed otherwise.

    ``jnp.nonzero`` counts every entry into ``size`` bins with a scatter-add, which serialises on
    a GPU (every thread adds to the same few addresses: 7 ms a call at 10^7 dyads on an H200,
    benchmarks/results/profile_gpu.md), between two running counts over the whole array.  Here
    the mask is cut into blocks: one pass counts each block's True entries, a binary search over
    the blocks' running count finds the block holding the (j+1)-th one, and a running count
    within that block alone finds the entry (3.6x faster than ``jnp.nonzero`` at 10^7 entries on
    a CPU).  Blocks are at most ``n / size`` long, so that small worlds (vmapped by the thousand)
    do no more work than ``n`` entries' worth.
    """
    n = mask.shape[0]
    if n == 0:
        return jnp.full(size, fill_value, INT)
    block = max(1, min(block, n // size))  # the last search reads size x block entries: at most n
    blocks = -(-n // block)
    rows = jnp.pad(mask, (0, blocks * block - n)).reshape(blocks, block)
    per_block = rows.sum(axis=1, dtype=INT)
    through = jnp.cumsum(per_block)  # True entries up to the end of each block
    wanted = jnp.arange(1, size + 1, dtype=INT)  # the j-th True entry, counted from 1
    b = searchsorted(through, wanted)  # its block; `blocks` if none
    b_in = jnp.minimum(b, blocks - 1)
    rank = wanted - (through[b_in] - per_block[b_in])  # its rank within the block, from 1
    within = jnp.cumsum(rows[b_in], axis=1, dtype=INT)  # [size, block]
    offset = jax.vmap(searchsorted)(within, rank)
    return jnp.where(b < blocks, b_in * block + offset, fill_value).astype(INT)


def lookup_dyads(dyads: Dyads, src: jax.Array, dst: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Index of the dyads ``src -> dst`` (any shape Q) by binary search, and whether each exists.

    The dyad list is sorted by (dst, src), so a lexicographic binary search of
    ceil(log2(E + 1)) rounds finds each pair with no dense N x N table.  The rounds are
    unrolled where ``unrolled()``, so that XLA can fuse them: as a loop, each round is its own
    operations (24 rounds at 10^7 dyads), each of a few threads' work on a GPU, launched one
    after the other.
    Returns ``(index i32[Q], found bool[Q])``; index is E where not found.
    """
    n_dyads = dyads.src.shape[0]
    lo = jnp.zeros(src.shape, INT)
    hi = jnp.full(src.shape, n_dyads, INT)

    def halve(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) // 2
        midc = jnp.minimum(mid, n_dyads - 1)
        below = (dyads.dst[midc] < dst) | ((dyads.dst[midc] == dst) & (dyads.src[midc] < src))
        return jnp.where(below, mid + 1, lo), jnp.where(below, hi, mid)

    rounds = max(1, int(n_dyads).bit_length())
    lo, _ = jax.lax.fori_loop(0, rounds, halve, (lo, hi), unroll=unrolled())
    at = jnp.minimum(lo, max(n_dyads - 1, 0))
    found = (lo < n_dyads) & (dyads.src[at] == src) & (dyads.dst[at] == dst)
    return jnp.where(found, lo, n_dyads), found


def state_max_conflict(dyads: Dyads, n_states: int) -> jax.Array:
    """Highest conflict intensity each state is engaged in: f32[N] in [0, 1]."""
    return jax.ops.segment_max(dyads.conflict, dyads.dst, n_states).clip(0.0, 1.0)  # unsorted: see segment_sum_dst


def conflict_by_bloc(world: World) -> jax.Array:
    """Highest conflict on a dyad from a member of bloc b to state j, for the B x N bins of
    ``dst_bloc_bins``: f32[B N], -inf where no dyad falls.

    Tension reads it per dyad (``conflict_with_own_bloc``) and the economy, which runs before it in
    a step and leaves conflict alone, per state (``bloc_conflict_state_max``): computed once for
    both (``once``), one scatter of every dyad, where the economy took one of its own.
    """
    return _conflict_by_bloc(world.dyads.conflict, dst_bloc_bins(world), n_bins=world.n_blocs * world.n_states)


@once
def _conflict_by_bloc(conflict: jax.Array, bins: jax.Array, *, n_bins: int) -> jax.Array:
    return jax.ops.segment_max(conflict, bins, n_bins)


def bloc_conflict_state_max(world: World) -> jax.Array:
    """``state_max_conflict`` of the world's dyads, read off ``conflict_by_bloc`` (the same numbers:
    the bins of a state are its incoming dyads split by sending bloc): f32[N] in [0, 1]."""
    rows = conflict_by_bloc(world).reshape(world.n_blocs, world.n_states)
    # row by row: an elementwise pass (about 1 ms at 10^6 states), where XLA on a CPU ran .max(axis=0) as a strided reduction (12 ms)
    return functools.reduce(jnp.maximum, [rows[b] for b in range(world.n_blocs)]).clip(0.0, 1.0)


def energy_dyad_index(energy_supply, energy_demand, src, dst):
    """Indices of the dyads from a state with oil supply to one with oil demand, ascending: i32[F] (numpy)."""
    import numpy as np

    supply, demand = np.asarray(energy_supply), np.asarray(energy_demand)
    return np.flatnonzero((supply[np.asarray(src)] > 0) & (demand[np.asarray(dst)] > 0)).astype(np.int32)


def with_energy_dyads(world: World) -> World:
    """The world with ``energy_dyads`` recomputed from its states' supply and demand (host-side)."""
    s, d = world.states, world.dyads
    return world.replace(energy_dyads=jnp.asarray(energy_dyad_index(s.energy_supply, s.energy_demand, d.src, d.dst)))
