"""Scheduled events: the scenario's shocks, applied on the step they fire.

Reads ``events``, ``step``, ``states.salience``; writes dyads' ``sanction``,
``secondary_sanction``, ``tension``, ``trade_potential``, ``trust_alpha``,
``trust_beta``, ``conflict``, ``channel`` and ``alliance``.

For an event v firing at step t with magnitude m_v on the dyad a->b:
  sanction          s_ab  <- m_v
  secondary         q_ab  <- m_v
  military signal   tau_ab, tau_ba += m_v * signal_tension
  incentive         T*_ab, T*_ba *= 1 + m_v * incentive_trade;  alpha_ba += m_v * incentive_trust
  conflict onset    c_ab, c_ba <- max(c, m_v)
  channel restored  ch_ab, ch_ba <- max(ch, m_v)
Summits are handled by the negotiation mechanism (bargaining among the
participants), which also calls ``apply_exclusions``: for each stakeholder x
a summit on issue k excludes and each participant p,
    w_xp, w_px -= m_v * S_x,k * exclusion_alliance;  beta_xp += m_v * S_x,k * exclusion_trust
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diplosim.params import Params
from diplosim.world import EVENT_KINDS, EVENT_ROLES, World, lookup_dyads, replace

KIND = {name: i for i, name in enumerate(EVENT_KINDS)}
ROLE = {name: i for i, name in enumerate(EVENT_ROLES)}


def fires(world: World, kind: str) -> jax.Array:
    """Which events of ``kind`` fire this step: bool[V]."""
    ev = world.events
    return (ev.step == world.step) & (ev.kind == KIND[kind])


def firing(world: World, kind: str) -> jax.Array:
    """Magnitude of each event of ``kind`` firing this step, else 0: f32[V]."""
    return jnp.where(fires(world, kind), world.events.magnitude, 0.0)


def _forward(world: World, fired: jax.Array) -> jax.Array:
    """Dyad actor->target of each fired event, or E (dropped by scatters): i32[V]."""
    return jnp.where(fired, world.events.dyad, world.n_dyads)


def _backward(world: World, fired: jax.Array) -> jax.Array:
    """Dyad target->actor of each fired event, or E: i32[V]."""
    return jnp.where(fired, world.dyads.reverse[jnp.minimum(world.events.dyad, world.n_dyads - 1)], world.n_dyads)


def _both_ways(world: World, fired: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Both dyads of each fired event and the event's magnitude for each: i32[2V], f32[2V]."""
    magnitude = world.events.magnitude
    return jnp.concatenate([_forward(world, fired), _backward(world, fired)]), jnp.concatenate([magnitude, magnitude])


def apply_shocks(world: World, params: Params) -> World:
    """Sanctions, secondary sanctions, signals, incentives, conflict onsets, channel restorations.

    A sanction or secondary sanction of magnitude 0 lifts it.
    """
    d, ev = world.dyads, world.events
    signal_at, signal_m = _both_ways(world, fires(world, "military_signal"))
    incentive = fires(world, "incentive")
    incentive_at, incentive_m = _both_ways(world, incentive)
    onset_at, onset_m = _both_ways(world, fires(world, "conflict_onset"))
    channel_at, channel_m = _both_ways(world, fires(world, "channel_restoration"))
    dyads = replace(
        d,
        sanction=d.sanction.at[_forward(world, fires(world, "sanction"))].set(ev.magnitude, mode="drop"),
        secondary_sanction=d.secondary_sanction.at[_forward(world, fires(world, "secondary_sanction"))].set(
            ev.magnitude, mode="drop"
        ),
        tension=d.tension.at[signal_at].add(signal_m * params.signal_tension, mode="drop").clip(0.0, 1.0),
        trade_potential=d.trade_potential.at[incentive_at].multiply(1.0 + incentive_m * params.incentive_trade, mode="drop"),
        # the target now trusts the actor more: target->actor is the backward dyad
        trust_alpha=d.trust_alpha.at[_backward(world, incentive)].add(ev.magnitude * params.incentive_trust, mode="drop"),
        conflict=d.conflict.at[onset_at].max(onset_m, mode="drop"),
        channel=d.channel.at[channel_at].max(channel_m, mode="drop"),
    )
    return replace(world, dyads=dyads)


def summit_exclusions(world: World) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Pairs (excluded x, participant p) of the summits firing now.

    Returns ``(dyad x->p i32[P, P], weight f32[P, P], found bool[P, P])`` where
    weight = m_v * salience of x on the summit's issue, 0 where no pair.
    """
    ev = world.events
    magnitude = firing(world, "summit")[ev.member_event]  # a summit of magnitude 0 offends nobody
    same_event = ev.member_event[:, None] == ev.member_event[None, :]
    pair = (
        same_event
        & (ev.member_role[:, None] == ROLE["excluded"])
        & (ev.member_role[None, :] == ROLE["participant"])
        & (magnitude[:, None] > 0)
    )
    excluded = ev.member_state[:, None]
    participant = ev.member_state[None, :]
    dyad, found = lookup_dyads(world.dyads, jnp.broadcast_to(excluded, pair.shape), jnp.broadcast_to(participant, pair.shape))
    issue = ev.issue[ev.member_event]
    salience = world.states.salience[ev.member_state, issue]
    weight = jnp.where(pair & found, magnitude[:, None] * salience[:, None], 0.0)
    return dyad, weight, found


def apply_exclusions(world: World, params: Params) -> World:
    """Excluded stakeholders lose alliance weight with, and trust in, the participants."""
    d = world.dyads
    dyad, weight, found = summit_exclusions(world)
    dyad = jnp.where(weight > 0, dyad, world.n_dyads).ravel()
    weight = weight.ravel()
    back = jnp.where(weight > 0, d.reverse[jnp.minimum(dyad, world.n_dyads - 1)], world.n_dyads)
    loss = weight * params.exclusion_alliance
    alliance = d.alliance.at[dyad].add(-loss, mode="drop").at[back].add(-loss, mode="drop").clip(0.0, 1.0)
    trust_beta = d.trust_beta.at[dyad].add(weight * params.exclusion_trust, mode="drop")
    return replace(world, dyads=replace(d, alliance=alliance, trust_beta=trust_beta))


def scheduled_events(world: World, params: Params, key: jax.Array) -> World:
    """Apply the shocks scheduled for this step (summits are the negotiation mechanism's)."""
    del key  # events are deterministic
    return apply_shocks(world, params)
