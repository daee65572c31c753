"""Metrics: what the world looks like at the end of a step, as a few numbers.

Scalars f32[]: energy_price, conflict_total (sum of conflict over undirected
pairs), conflict_max, polarisation (mean tension across blocs minus within),
gdp_total (USD bn/yr), trade_total (USD bn/yr), approval_mean,
agreements_in_force, agreements_violated.
Per bloc f32[B]: cohesion_b = mean alliance weight over dyads inside bloc b.
Per watched dyad f32[W]: tension, trust (Beta mean), alliance, trade, and
relation = trust - tension in [-1, 1].

Endogenous events (``detect_events``) compare the world before and after a
step: sanctions imposed or lifted (level crossing 1/2), conflicts starting or
ending (intensity crossing 0.1), agreements signed, violated or expired.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diplosim.world import AGREEMENT_STATUS, CHANNELS, World, trust_mean

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
    """Mean alliance weight inside each bloc: f32[B] in [0, 1]."""
    d, bloc = world.dyads, world.states.bloc
    inside = bloc[d.src] == bloc[d.dst]
    segment = jnp.where(inside, bloc[d.src], world.n_blocs)
    total = jax.ops.segment_sum(d.alliance, segment, world.n_blocs + 1)[:-1]
    count = jax.ops.segment_sum(jnp.ones_like(d.alliance), segment, world.n_blocs + 1)[:-1]
    return total / jnp.maximum(count, 1.0)


def metrics(world: World) -> dict[str, jax.Array]:
    """The step's metrics (see module docstring)."""
    d, s, a = world.dyads, world.states, world.agreements
    inside = s.bloc[d.src] == s.bloc[d.dst]
    watch = world.watch
    trust = trust_mean(d)
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
        "agreements_violated": (a.status == _STATUS["violated"]).sum(),
        "cohesion": bloc_cohesion(world),
        "watch_tension": d.tension[watch],
        "watch_trust": trust[watch],
        "watch_alliance": d.alliance[watch],
        "watch_trade": d.trade[watch],
        "watch_relation": trust[watch] - d.tension[watch],
    }


def _crossed(before: jax.Array, after: jax.Array, level: float) -> tuple[jax.Array, jax.Array]:
    return (before < level) & (after >= level), (before >= level) & (after < level)


def detect_events(before: World, after: World, capacity: int) -> dict[str, jax.Array]:
    """Up to ``capacity`` endogenous events of one step.

    Returns ``kind i32[C]`` (index into ENDOGENOUS_EVENTS, -1 for an empty
    record), ``subject i32[C]`` (a dyad for sanctions and conflicts, an
    agreement slot for agreements), ``actor``/``target i32[C]`` (the dyad's
    src/dst or the agreement's parties), ``detail i32[C]`` (for agreements:
    kind * len(CHANNELS) + channel; -1 otherwise) and ``dropped i32[]``
    (events beyond capacity).
    """
    imposed, lifted = _crossed(before.dyads.sanction, after.dyads.sanction, SANCTION_LEVEL)
    # conflict is symmetric: report it once, on the dyad with src < dst
    onset, ended = _crossed(before.dyads.conflict, after.dyads.conflict, CONFLICT_LEVEL)
    once = after.dyads.src < after.dyads.dst
    old, new = before.agreements.status, after.agreements.status
    changed = old != new
    flags = [
        imposed,
        lifted,
        onset & once,
        ended & once,
        changed & (new == _STATUS["in_force"]),
        changed & (new == _STATUS["violated"]),
        changed & (new == _STATUS["expired"]),
    ]
    sizes = [f.shape[0] for f in flags]
    flat = jnp.concatenate(flags)
    (where,) = jnp.nonzero(flat, size=capacity, fill_value=-1)
    starts = jnp.cumsum(jnp.array([0] + sizes[:-1]))
    kind = jnp.where(where >= 0, jnp.searchsorted(starts, where, side="right") - 1, -1)
    subject = jnp.where(where >= 0, where - starts[jnp.maximum(kind, 0)], -1)
    on_agreement = kind >= ENDOGENOUS_EVENTS.index("agreement_signed")
    d, a = after.dyads, after.agreements
    dyad = jnp.clip(subject, 0, max(d.src.shape[0] - 1, 0))
    slot = jnp.clip(subject, 0, max(a.status.shape[0] - 1, 0))
    actor = jnp.where(on_agreement, a.party_a[slot], d.src[dyad])
    target = jnp.where(on_agreement, a.party_b[slot], d.dst[dyad])
    return {
        "kind": kind.astype(jnp.int32),
        "subject": subject.astype(jnp.int32),
        "actor": jnp.where(where >= 0, actor, -1).astype(jnp.int32),
        "detail": jnp.where((where >= 0) & on_agreement, a.kind[slot] * len(CHANNELS) + a.channel[slot], -1).astype(jnp.int32),
        "target": jnp.where(where >= 0, target, -1).astype(jnp.int32),
        "dropped": jnp.maximum(flat.sum() - capacity, 0).astype(jnp.int32),
    }
