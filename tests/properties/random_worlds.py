"""Hypothesis strategies for random worlds, parameters and event schedules of fixed shapes.

Every distinct array shape recompiles the whole model (~15 s on a 2-core
CPU), so worlds come in a fixed *bucket* of shapes: one synthetic world
size, and the generator seeds whose worlds have exactly those shapes
(the dyad count varies with the seed; the seeds kept here all give the
same count).  Within a bucket everything else is drawn: the partner
graph (through the seed), every state and dyad value within its declared
range, agreements already in force, the envoys, the event schedule, and
every ``Params`` coefficient within its declared range.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import jax
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from diplosim.params import Params, params_from
from diplosim.scenario import synthetic_scenario
from diplosim.scenario.build import state_max
from diplosim.world import AGREEMENT_KINDS, AGREEMENT_STATUS, CHANNELS, EVENT_KINDS, World, replace


@dataclass(frozen=True)
class Bucket:
    """The shape arguments of ``synthetic_scenario`` and the agreement slots."""

    n_states: int = 12
    dyads_per_state: int = 4
    n_blocs: int = 3
    n_issues: int = 3
    n_envoys: int = 4
    agreement_slots: int = 8
    seeds_tried: int = 40  # generator seeds examined for the same shapes


SMALL = Bucket()
STEPS = 40  # steps per random run (the schedule fires within them)

# Upper bounds for coefficients declared without one, by unit: generous but finite.
OPEN_UPPER_BOUND = {"1": 5.0, "count": 20.0, "1/step": 2.0, "1/yr": 5.0, "steps": 520.0, "USD/bbl": 200.0}

# Ranges a coefficient is drawn from, narrower than declared, because of a
# known bug documented by a strict xfail test (remove the entry when fixed).
KNOWN_BUG_RANGES: dict[str, tuple[float, float]] = {}


def _shapes(world: World) -> list[tuple]:
    return [np.shape(x) for x in jax.tree.leaves(world)]


@functools.cache
def bucket_seeds(bucket: Bucket) -> tuple[int, ...]:
    """Generator seeds whose synthetic worlds all have the shapes of seed 0's."""
    reference = _shapes(base_world(bucket, 0))
    return tuple(s for s in range(bucket.seeds_tried) if _shapes(base_world(bucket, s)) == reference)


@functools.cache
def base_world(bucket: Bucket, seed: int) -> World:
    """The synthetic world of ``seed``, before any value is redrawn (host numpy arrays)."""
    scenario = synthetic_scenario(
        bucket.n_states, bucket.dyads_per_state, bucket.n_blocs, bucket.n_issues, bucket.n_envoys, seed,
        agreement_slots=bucket.agreement_slots,
    )
    return jax.tree.map(np.asarray, scenario.world)


def unit_floats(lo: float = 0.0, hi: float = 1.0) -> st.SearchStrategy[float]:
    """f32-representable floats in [lo, hi] (bounds rounded inward to f32)."""
    lo32, hi32 = np.float32(lo), np.float32(hi)
    lo32 = lo32 if lo32 >= lo else np.nextafter(lo32, np.float32(np.inf))
    hi32 = hi32 if hi32 <= hi else np.nextafter(hi32, np.float32(-np.inf))
    return st.floats(float(lo32), float(hi32), allow_nan=False, allow_infinity=False, width=32)


def _array(shape, lo: float = 0.0, hi: float = 1.0):
    return hnp.arrays(np.float32, shape, elements=unit_floats(lo, hi))


def _ints(shape, lo: int, hi: int):
    return hnp.arrays(np.int32, shape, elements=st.integers(lo, hi))


def _symmetric(values: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """The value of the dyad with the smaller index of each pair, on both directions."""
    index = np.arange(len(reverse))
    return values[np.minimum(index, reverse)]


def coefficient_range(field: dataclasses.Field) -> tuple[float, float]:
    """The declared range of a Params field, its open upper end closed by ``OPEN_UPPER_BOUND``."""
    if field.name in KNOWN_BUG_RANGES:
        return KNOWN_BUG_RANGES[field.name]
    lo, hi = field.metadata["range"]
    lo = -OPEN_UPPER_BOUND[field.metadata["unit"]] if lo is None else lo
    hi = OPEN_UPPER_BOUND[field.metadata["unit"]] if hi is None else hi
    return float(lo), float(hi)


@st.composite
def random_params(draw) -> Params:
    """Every coefficient drawn within its (closed) range."""
    values = {f.name: draw(unit_floats(*coefficient_range(f)), label=f.name) for f in dataclasses.fields(Params)}
    return params_from(values)


@st.composite
def random_world(draw, bucket: Bucket = SMALL, steps: int = STEPS) -> World:
    """A world of the bucket's shapes with every value redrawn within its declared range."""
    seed = draw(st.sampled_from(bucket_seeds(bucket)), label="generator_seed")
    w = base_world(bucket, seed)
    s, d, a, m, ev = w.states, w.dyads, w.agreements, w.envoys, w.events
    n, k, e = s.gdp.shape[0], s.position.shape[1], d.src.shape[0]
    slots, v, p = a.status.shape[0], ev.step.shape[0], ev.member_state.shape[0]

    military_share = draw(_array(n), label="military_share")
    approval = draw(_array(n), label="approval")
    states = replace(
        s,
        position=draw(_array((n, k)), label="position"),
        salience=draw(_array((n, k)), label="salience"),
        reliability=draw(_array(n), label="reliability"),
        approval=approval,
        approval_baseline=draw(st.one_of(st.just(approval), _array(n)), label="approval_baseline"),
        military_share=military_share,
        power=(military_share * s.gdp).astype(np.float32),
    )
    conflict = _symmetric(draw(_array(e), label="conflict"), d.reverse)
    dyads = replace(
        d,
        tension=draw(_array(e), label="tension"),
        sanction=draw(_array(e), label="sanction"),
        secondary_sanction=draw(_array(e), label="secondary_sanction"),
        conflict=conflict,
        alliance=_symmetric(draw(_array(e), label="alliance"), d.reverse),
        channel=_symmetric(draw(_array(e), label="channel"), d.reverse),
        trust_alpha=draw(_array(e, 0.05, 20.0), label="trust_alpha"),
        trust_beta=draw(_array(e, 0.05, 20.0), label="trust_beta"),
    )
    states = replace(states, conflict_baseline=state_max(conflict, d.dst, n))

    # agreements already signed: two distinct parties per slot
    party_a = draw(_ints(slots, 0, n - 1), label="party_a")
    shift = draw(_ints(slots, 1, n - 1), label="party_b_shift")
    agreements = replace(
        a,
        status=draw(_ints(slots, 0, len(AGREEMENT_STATUS) - 1), label="agreement_status"),
        party_a=party_a,
        party_b=((party_a + shift) % n).astype(np.int32),
        kind=draw(_ints(slots, 0, len(AGREEMENT_KINDS) - 1), label="agreement_kind"),
        issue=draw(_ints(slots, 0, k - 1), label="agreement_issue"),
        terms=draw(_array(slots), label="terms"),
        verification=draw(_array(slots), label="verification"),
        channel=draw(_ints(slots, 0, len(CHANNELS) - 1), label="agreement_channel"),
        age=draw(_ints(slots, 0, 60), label="age"),
    )

    envoy_dyad = draw(_ints(m.dyad.shape[0], 0, e - 1), label="envoy_dyad")
    envoys = replace(
        m,
        dyad=envoy_dyad,
        principal=d.src[envoy_dyad],
        counterpart=d.dst[envoy_dyad],
        channel=draw(_ints(m.dyad.shape[0], 0, len(CHANNELS) - 1), label="envoy_channel"),
        credibility=draw(_array(m.dyad.shape[0]), label="credibility"),
        active=draw(hnp.arrays(bool, m.dyad.shape[0]), label="envoy_active"),
    )

    event_dyad = draw(_ints(v, 0, e - 1), label="event_dyad")
    events = replace(
        ev,
        step=draw(_ints(v, 0, steps), label="event_step"),
        kind=draw(_ints(v, 0, len(EVENT_KINDS) - 1), label="event_kind"),
        magnitude=draw(_array(v), label="event_magnitude"),
        dyad=event_dyad,
        actor=d.src[event_dyad],
        target=d.dst[event_dyad],
        issue=draw(_ints(v, 0, k - 1), label="event_issue"),
        member_event=draw(_ints(p, 0, v - 1), label="member_event"),
        member_state=draw(_ints(p, 0, n - 1), label="member_state"),
    )
    world = w.replace(
        states=states, dyads=dyads, agreements=agreements, envoys=envoys, events=events,
        watch=draw(_ints(w.watch.shape[0], 0, e - 1), label="watch"),
        energy_price=np.float32(draw(unit_floats(1.0, 200.0), label="energy_price")),
    )
    return jax.tree.map(lambda x: jax.numpy.asarray(x, dtype=np.asarray(x).dtype), world)
