"""From a validated ``ScenarioSpec`` to a ``Scenario`` (a World with names).

Arrays are built with numpy and converted once, at the end, to jax arrays
with the exact dtypes of ``diplosim.world`` (f32, i32, bool).  The helpers
below the ``build_world`` section (dyad sorting, empty tables, assembly) are
shared with ``diplosim.scenario.synthetic``.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from diplosim.params import Params
from diplosim.scenario import Scenario
from diplosim.scenario.schema import ScenarioSpec
from diplosim.world import (
    AGREEMENT_KINDS,
    CHANNELS,
    EVENT_KINDS,
    EVENT_ROLES,
    Agreements,
    Dyads,
    Envoys,
    Events,
    States,
    World,
    energy_dyad_index,
)

# Gravity model for the trade a file does not list, in USD bn/yr:
#   exports i->j = GRAVITY_TRADE * gdp_i * gdp_j / sum(gdp over the scenario's states).
# With the 2024 gdp of China (18.7 tn) and the US (29.2 tn) among ~80 tn of
# scenario gdp this gives ~340 bn/yr, near the 440 bn China sold the US.
GRAVITY_TRADE = 0.05
DEFAULT_TENSION = Params.__dataclass_fields__["tension_base"].default  # strangers
DEFAULT_CHANNEL = 1.0  # embassies open
TRUST_PRIOR = Params.__dataclass_fields__["trust_prior"].default  # Beta counts alpha = beta
DEFAULT_ENERGY_PRICE = Params.__dataclass_fields__["energy_price_base"].default  # USD/bbl
DEFAULT_POSITION = 0.5  # an issue a state says nothing about: the middle
DEFAULT_SALIENCE = 0.0  # ... and it does not care


def build_world(spec: ScenarioSpec, *, agreement_slots: int = 16, source: str = "") -> Scenario:
    """The world of a ``kind: file`` scenario: every pair of states is a dyad.

    N states in file order; E = N (N - 1) directed dyads sorted by (dst,
    src).  Ties not listed take their defaults: alliance 0, tension 0.05,
    conflict 0, sanctions 0, channel 1, trust Beta(2, 2), trade from the
    gravity model ``GRAVITY_TRADE * gdp_i * gdp_j / sum(gdp)`` (USD bn/yr).
    ``agreement_slots`` empty agreement slots (A) are reserved.
    """
    names = [state.name for state in spec.states]
    index = {name: i for i, name in enumerate(names)}
    src, dst = all_pairs(len(names))
    src, dst, reverse = sort_dyads(src, dst, len(names))
    pair = dyad_lookup(src, dst, len(names))
    states = _states(spec)
    dyads = _dyads(spec, index, pair, src, dst, states["gdp"])
    dyads["reverse"] = reverse
    states["trade_baseline"] = trade_baseline(dyads["trade_potential"], src, dst, len(names))
    events, event_names = _events(spec, index, pair)
    world = assemble_world(
        states=states,
        envoys=_envoys(spec, index, pair),
        dyads=dyads,
        agreements=empty_agreements(agreement_slots),
        events=events,
        watch=np.array([pair[index[w.from_], index[w.to]] for w in spec.watch], np.int32),
        energy_price=DEFAULT_ENERGY_PRICE if spec.energy_price is None else spec.energy_price,
        n_blocs=len(spec.blocs),
        issue_agreement=issue_agreements(spec.issues, spec.issue_agreements),
    )
    return Scenario(
        name=spec.name,
        world=world,
        states=tuple(names),
        blocs=tuple(spec.blocs),
        issues=tuple(spec.issues),
        envoys=tuple(envoy.name for envoy in spec.envoys),
        events=event_names,
        watch=tuple(w.name for w in spec.watch),
        source=source,
        description=spec.description,
    )


def _states(spec: ScenarioSpec) -> dict[str, np.ndarray]:
    """Per-state arrays ([N], position and salience [N, K]) but trade_baseline."""
    rows = spec.states
    column = lambda field: np.array([getattr(s, field) for s in rows], np.float64)  # noqa: E731
    issues = {issue: k for k, issue in enumerate(spec.issues)}
    states = {
        field: column(field)
        for field in ("gdp", "military_share", "approval", "reliability", "energy_supply", "energy_demand")
    }
    states["bloc"] = np.array([spec.blocs.index(s.bloc) for s in rows], np.int32)
    states["position"] = _issue_table(rows, "position", issues, DEFAULT_POSITION)
    states["salience"] = _issue_table(rows, "salience", issues, DEFAULT_SALIENCE)
    return with_initial_state(states)


def _issue_table(rows, table: str, issues: dict[str, int], default: float) -> np.ndarray:
    """f32[N, K] of each state's ``table`` (position or salience) per issue."""
    values = np.full((len(rows), len(issues)), default, np.float64)
    for i, state in enumerate(rows):
        for issue, value in getattr(state, table).items():
            values[i, issues[issue]] = value
    return values


def _dyads(spec: ScenarioSpec, index: dict, pair: np.ndarray, src, dst, gdp) -> dict[str, np.ndarray]:
    """Per-dyad arrays [E] with the listed ties over the defaults."""
    n_dyads = len(src)
    filled = lambda value: np.full(n_dyads, value, np.float64)  # noqa: E731
    potential = GRAVITY_TRADE * gdp[src] * gdp[dst] / gdp.sum()
    dyads = {
        "src": src,
        "dst": dst,
        "alliance": filled(0.0),
        "trade_potential": potential,
        "tension": filled(DEFAULT_TENSION),
        "trust_alpha": filled(TRUST_PRIOR),
        "trust_beta": filled(TRUST_PRIOR),
        "sanction": filled(0.0),
        "secondary_sanction": filled(0.0),
        "conflict": filled(0.0),
        "channel": filled(DEFAULT_CHANNEL),
        "energy_flow": filled(0.0),
    }
    at = lambda a, b: pair[index[a], index[b]]  # noqa: E731
    both = lambda a, b: [at(a, b), at(b, a)]  # noqa: E731
    for tie in spec.alliances:
        dyads["alliance"][both(tie.a, tie.b)] = tie.weight
    for tie in spec.tension:
        dyads["tension"][both(tie.a, tie.b)] = tie.value
    for tie in spec.conflict:
        dyads["conflict"][both(tie.a, tie.b)] = tie.intensity
    for tie in spec.channels:
        dyads["channel"][both(tie.a, tie.b)] = tie.level
    for tie in spec.trade:
        dyads["trade_potential"][at(tie.from_, tie.to)] = tie.value
    for tie in spec.sanctions:
        dyads["sanction"][at(tie.from_, tie.to)] = tie.level
    for tie in spec.trust:
        dyads["trust_alpha"][at(tie.from_, tie.to)] = tie.alpha
        dyads["trust_beta"][at(tie.from_, tie.to)] = tie.beta
    dyads["trade"] = dyads["trade_potential"].copy()
    return dyads


def _envoys(spec: ScenarioSpec, index: dict, pair: np.ndarray) -> dict[str, np.ndarray]:
    """Per-envoy arrays [M]; every listed envoy starts dispatched."""
    principal = np.array([index[e.principal] for e in spec.envoys], np.int32)
    counterpart = np.array([index[e.counterpart] for e in spec.envoys], np.int32)
    return {
        "principal": principal,
        "counterpart": counterpart,
        "dyad": pair[principal, counterpart].astype(np.int32),
        "channel": np.array([CHANNELS.index(e.channel) for e in spec.envoys], np.int32),
        "credibility": np.array([e.credibility for e in spec.envoys], np.float32),
        "active": np.ones(len(spec.envoys), bool),
    }


def _events(spec: ScenarioSpec, index: dict, pair: np.ndarray) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Event rows [V] in file order, membership rows [P], and the event names."""
    issues = {issue: k for k, issue in enumerate(spec.issues)}
    rows = spec.events
    actor = np.array([index[e.actor] for e in rows], np.int32)
    target = np.array([index[e.target] for e in rows], np.int32)
    events = {
        "step": np.array([e.step for e in rows], np.int32),
        "kind": np.array([EVENT_KINDS.index(e.kind) for e in rows], np.int32),
        "actor": actor,
        "target": target,
        "dyad": pair[actor, target].astype(np.int32),
        "issue": np.array([issues[e.issue] if e.issue is not None else 0 for e in rows], np.int32),
        "magnitude": np.array([e.magnitude for e in rows], np.float32),
        **_members(rows, index),
    }
    names = tuple(e.name if e.name is not None else f"e{v}_{e.kind}" for v, e in enumerate(rows))
    return events, names


def _members(rows, index: dict) -> dict[str, np.ndarray]:
    """Summit memberships [P]: event, state and role (index into EVENT_ROLES)."""
    roles = {role: EVENT_ROLES.index(role) for role in ("participant", "excluded")}
    members = [
        (v, index[state], roles[role])
        for v, event in enumerate(rows)
        for role, listed in (("participant", event.participants), ("excluded", event.excluded))
        for state in listed or ()
    ]
    table = np.array(members, np.int32).reshape(-1, 3)
    return {"member_event": table[:, 0], "member_state": table[:, 1], "member_role": table[:, 2]}


# --- shared with synthetic ---------------------------------------------------


def all_pairs(n_states: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair i != j: (src, dst), each i32[N (N - 1)]."""
    src, dst = np.nonzero(~np.eye(n_states, dtype=bool))
    return src.astype(np.int32), dst.astype(np.int32)


def sort_dyads(src: np.ndarray, dst: np.ndarray, n_states: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dyads sorted by (dst, src) and the index of each one's reverse.

    ``src, dst``: i32[E], distinct directed pairs, each with its reverse
    present.  Returns sorted ``src, dst`` and ``reverse`` (i32[E]) with
    ``src[reverse[e]] == dst[e]`` and ``dst[reverse[e]] == src[e]``.
    """
    order = np.lexsort((src, dst))
    src, dst = src[order], dst[order]
    reverse = reverse_index(src, dst, n_states)
    return src, dst, reverse


def reverse_index(src: np.ndarray, dst: np.ndarray, n_states: int) -> np.ndarray:
    """For dyads sorted by (dst, src): index of the reverse of each, i32[E]."""
    keys = dst.astype(np.int64) * n_states + src
    reverse = np.searchsorted(keys, src.astype(np.int64) * n_states + dst).astype(np.int32)
    if len(keys) and not np.array_equal(dst[reverse], src):
        raise ValueError("a dyad has no reverse in the dyad list")
    return reverse


def dyad_lookup(src: np.ndarray, dst: np.ndarray, n_states: int) -> np.ndarray:
    """i32[N, N] table of the dyad index of i->j (-1 where there is none); small N only."""
    pair = np.full((n_states, n_states), -1, np.int32)
    pair[src, dst] = np.arange(len(src), dtype=np.int32)
    return pair


def with_initial_state(states: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add the per-state columns that start from the others.

    power = military_share x gdp; oil bought and sold start at demand and
    supply; approval_baseline is the initial approval; growth starts at 0.
    """
    states["power"] = states["military_share"] * states["gdp"]
    states["energy_bought"] = states["energy_demand"].copy()
    states["energy_sold"] = states["energy_supply"].copy()
    states["approval_baseline"] = states["approval"].copy()
    states["growth"] = np.zeros(len(states["gdp"]), np.float32)
    return states


def trade_baseline(trade_potential: np.ndarray, src: np.ndarray, dst: np.ndarray, n_states: int) -> np.ndarray:
    """Exports plus imports of each state at full potential: f64[N], USD bn/yr."""
    exports = np.bincount(src, weights=trade_potential, minlength=n_states)
    imports = np.bincount(dst, weights=trade_potential, minlength=n_states)
    return exports + imports


def empty_agreements(slots: int) -> dict[str, np.ndarray]:
    """``slots`` free agreement slots (status 0, everything else 0)."""
    if slots < 0:
        raise ValueError(f"agreement_slots must be >= 0 (got {slots})")
    integer = lambda: np.zeros(slots, np.int32)  # noqa: E731
    real = lambda: np.zeros(slots, np.float32)  # noqa: E731
    return {
        "party_a": integer(),
        "party_b": integer(),
        "kind": integer(),
        "issue": integer(),
        "terms": real(),
        "verification": real(),
        "channel": integer(),
        "status": integer(),
        "age": integer(),
    }


def _device(values: np.ndarray) -> jax.Array:
    """A jax array (a copy) with the world's dtypes: bool stays bool, integers i32, reals f32."""
    values = np.asarray(values)
    if values.dtype != bool:
        values = values.astype(np.int32 if np.issubdtype(values.dtype, np.integer) else np.float32, copy=False)
    return jax.device_put(values)


def _record(cls, columns: dict[str, np.ndarray]):
    """A world record of class ``cls`` from numpy columns, emptied as they move."""
    fields = {f.name for f in dataclasses.fields(cls)}
    if set(columns) != fields:
        raise ValueError(
            f"scenario builder out of date with diplosim.world.{cls.__name__}: "
            f"missing {sorted(fields - set(columns))}, unknown {sorted(set(columns) - fields)}"
        )
    return cls(**{name: _device(columns.pop(name)) for name in list(columns)})


def state_max(values: np.ndarray, dst: np.ndarray, n_states: int) -> np.ndarray:
    """Highest per-dyad value arriving at each state (0 where none): f32[N]."""
    out = np.zeros(n_states, np.float32)
    np.maximum.at(out, dst, values)
    return out


def issue_agreements(issues: tuple[str, ...] | list[str], mapping: dict[str, str]) -> np.ndarray:
    """Agreement kind index for each issue (-1: a deal on it signs nothing): i32[K]."""
    return np.array([AGREEMENT_KINDS.index(mapping[i]) if i in mapping else -1 for i in issues], np.int32)


def assemble_world(
    *, states, envoys, dyads, agreements, events, watch, energy_price: float, n_blocs: int, issue_agreement
) -> World:
    """A ``World`` at step 0 from dicts of numpy columns named as the world's fields.

    ``states["conflict_baseline"]`` is filled here from the dyads' initial conflict.
    """
    states["conflict_baseline"] = state_max(np.asarray(dyads["conflict"], np.float32), np.asarray(dyads["dst"]), len(states["gdp"]))
    energy_dyads = energy_dyad_index(states["energy_supply"], states["energy_demand"], dyads["src"], dyads["dst"])
    return World(
        n_blocs=n_blocs,
        states=_record(States, states),
        envoys=_record(Envoys, envoys),
        dyads=_record(Dyads, dyads),
        agreements=_record(Agreements, agreements),
        events=_record(Events, events),
        watch=_device(np.asarray(watch, np.int32)),
        issue_agreement=_device(np.asarray(issue_agreement, np.int32)),
        energy_dyads=_device(energy_dyads),
        energy_price=_device(np.float32(energy_price)),
        step=_device(np.int32(0)),
    )
