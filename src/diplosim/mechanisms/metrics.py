"""Metrics: what the world looks like at the end of a step, as a few numbers.

Scalars f32[]: energy_price, conflict_total (sum of conflict over undirected
pairs), conflict_max, polarisation (mean tension across blocs minus within),
gdp_total (USD bn/yr), trade_total (USD bn/yr), approval_mean,
agreements_in_force (slots in force now), agreements_signed and
agreements_violated (during this step; 0 for the initial world).
Per bloc f32[B]: cohesion_b = mean alliance weight over dyads inside bloc b
(0 for a bloc with fewer than two members).
Per watched dyad f32[W]: tension, trust (Beta mean), alliance, trade, and
relation = trust - tension in [-1, 1].

Endogenous events (``detect_events``) compare the world before and after a
step: sanctions imposed or lifted (level crossing 1/2), conflicts starting or
ending (intensity crossing 0.1), agreements signed, violated or expired.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diplosim.world import AGREEMENT_STATUS, CHANNELS, World, first_true, take, trust_mean

ENDOGENOUS_EVENTS = (
    "sanction_imposed",
    "sanction_lifted",
    "conflict_onset",
    "conflict_ended",
    "agreement_signed",
    "agreement_violated",
    "agreement_expired",
)
SANCTION_LEVEL = 0.5
CONFLICT_LEVEL = 0.1
_STATUS = {name: i for i, name in enumerate(AGREEMENT_STATUS)}


def _mean_where(values: jax.Array, mask: jax.Array) -> jax.Array:
    return jnp.where(mask, values, 0.0).sum() / jnp.maximum(mask.sum(), 1)


def bloc_cohesion(world: World) -> jax.Array:
    """Mean alliance weight inside each bloc: f32[B] in [0, 1].

    One reduction over a [dyads, blocs] mask rather than a segment sum into B bins: a scatter
    into a few bins serialises on a GPU (6 ms each at 10^7 dyads on an H200).
    """
    d, bloc = world.dyads, world.states.bloc
    bloc_i = take(bloc, d.src)
    inside = bloc_i == take(bloc, d.dst)
    member = inside[:, None] & (bloc_i[:, None] == jnp.arange(world.n_blocs, dtype=bloc.dtype)[None, :])
    total = jnp.where(member, d.alliance[:, None], 0.0).sum(axis=0)
    count = member.sum(axis=0, dtype=d.alliance.dtype)
    return total / jnp.maximum(count, 1.0)


def metrics(world: World, before: World | None = None) -> dict[str, jax.Array]:
    """The metrics of ``world``, the world left by a step from ``before`` (see module docstring)."""
    d, s, a = world.dyads, world.states, world.agreements
    old_status = a.status if before is None else before.agreements.status
    changed = a.status != old_status
    inside = take(s.bloc, d.src) == take(s.bloc, d.dst)
    watch = world.watch
    trust = trust_mean(d, at=watch)  # not over every dyad, then indexed: 10^7 divisions at 10^6 states for W values
    return {
        "step": world.step,
        "energy_price": world.energy_price,
        "conflict_total": 0.5 * d.conflict.sum(),
        "conflict_max": d.conflict.max(initial=0.0),
        "polarisation": _mean_where(d.tension, ~inside) - _mean_where(d.tension, inside),
        "gdp_total": s.gdp.sum(),
        "trade_total": d.trade.sum(),
        "approval_mean": s.approval.mean(),
        "agreements_in_force": (a.status == _STATUS["in_force"]).sum(),
        "agreements_signed": (changed & (a.status == _STATUS["in_force"])).sum(),
        "agreements_violated": (changed & (a.status == _STATUS["violated"])).sum(),
        "cohesion": bloc_cohesion(world),
        "watch_tension": d.tension[watch],
        "watch_trust": trust,
        "watch_alliance": d.alliance[watch],
        "watch_trade": d.trade[watch],
        "watch_relation": trust - d.tension[watch],
    }


def _crossed(before: jax.Array, after: jax.Array, level: float) -> tuple[jax.Array, jax.Array]:
    return (before < level) & (after >= level), (before >= level) & (after < level)


def detect_events(before: World, after: World, capacity: int) -> dict[str, jax.Array]:
    """The endogenous events of one step, on at most ``capacity`` dyads (and every agreement slot).

    Records, R = 4 * capacity + A of them: ``kind i32[R]`` (index into
    ENDOGENOUS_EVENTS, -1 for an empty record), ``subject i32[R]`` (a dyad for
    sanctions and conflicts, an agreement slot for agreements),
    ``actor``/``target i32[R]`` (the dyad's src/dst or the agreement's
    parties), ``detail i32[R]`` (for agreements: kind * len(CHANNELS) +
    channel; -1 otherwise) and ``dropped i32[]`` (dyads with events beyond
    capacity).  One pass over the dyads finds those with any event.
    """
    d, a = after.dyads, after.agreements
    n_dyads = d.src.shape[0]
    imposed, lifted = _crossed(before.dyads.sanction, d.sanction, SANCTION_LEVEL)
    onset, ended = _crossed(before.dyads.conflict, d.conflict, CONFLICT_LEVEL)
    once = d.src < d.dst  # conflict is symmetric: report it once
    flags = (imposed, lifted, onset & once, ended & once)  # four bool[E]: no [E, 4] array (slow on a CPU)
    has_event = flags[0] | flags[1] | flags[2] | flags[3]
    at = first_true(has_event, capacity, n_dyads)
    found = at < n_dyads
    dyad = jnp.minimum(at, max(n_dyads - 1, 0))
    bits = jnp.stack([flag[dyad] for flag in flags], axis=1) & found[:, None]  # [capacity, 4]
    dyad_kind = jnp.where(bits, jnp.arange(4)[None, :], -1).ravel()
    dyad_subject = jnp.repeat(jnp.where(found, at, -1), 4)
    dyad_actor = jnp.repeat(jnp.where(found, d.src[dyad], -1), 4)
    dyad_target = jnp.repeat(jnp.where(found, d.dst[dyad], -1), 4)

    old, new = before.agreements.status, a.status
    changed = old != new
    first_agreement_kind = ENDOGENOUS_EVENTS.index("agreement_signed")
    agreement_kind = jnp.select(
        [changed & (new == _STATUS["in_force"]), changed & (new == _STATUS["violated"]), changed & (new == _STATUS["expired"])],
        [first_agreement_kind, first_agreement_kind + 1, first_agreement_kind + 2],
        -1,
    )
    on_agreement = agreement_kind >= 0
    slots = jnp.arange(new.shape[0])
    empty = -jnp.ones(4 * capacity, jnp.int32)
    return {
        "kind": jnp.concatenate([dyad_kind, agreement_kind]).astype(jnp.int32),
        "subject": jnp.concatenate([dyad_subject, jnp.where(on_agreement, slots, -1)]).astype(jnp.int32),
        "actor": jnp.concatenate([dyad_actor, jnp.where(on_agreement, a.party_a, -1)]).astype(jnp.int32),
        "target": jnp.concatenate([dyad_target, jnp.where(on_agreement, a.party_b, -1)]).astype(jnp.int32),
        "detail": jnp.concatenate([empty, jnp.where(on_agreement, a.kind * len(CHANNELS) + a.channel, -1)]).astype(jnp.int32),
        "dropped": jnp.maximum(has_event.sum() - capacity, 0).astype(jnp.int32),
    }
