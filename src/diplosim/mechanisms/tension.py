"""Tension and conflict: hostility driven by sanctions, conflict and diverging positions; escalation above a threshold.

Reads dyads' ``tension``, ``sanction``, ``conflict``, ``alliance``, trust
counts; states' ``position``, ``salience``, ``power``; agreements.  Writes
dyads' ``tension`` and ``conflict``.

For e = i->j with reverse r(e), d_ij the salience-weighted position distance
and t_e = alpha_e / (alpha_e + beta_e):
  drive_e = tau0 + a_s max(s_e, s_r(e)) + a_c c_e + a_d d_ij - a_w w_e - a_t (t_e - 1/2)
  tau_e  <- clip(tau_e + rho (clip(drive_e, 0, 1) - tau_e) + sigma z_e, 0, 1),  z_e ~ N(0, 1)
             (diplomatic incidents: independent draws per dyad and step)
  c'_e    = c_e + g_up (tau_e - theta)^+ 2 p_i / (p_i + p_j + A_j) - g_down (theta - tau_e)^+
where A_j = sum_{k->j} w_kj p_k is the power of j's allies (deterrence)
  c_e    <- clip(max(c'_e, c'_r(e)), 0, cap_e)
where cap_e = ceasefire_cap while a ceasefire between i and j is in force, else 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diplosim.params import Params
from diplosim.world import (
    AGREEMENT_KINDS,
    AGREEMENT_STATUS,
    World,
    dyad_position_distance,
    lookup_dyads,
    replace,
    segment_sum_dst,
    trust_mean,
)

CEASEFIRE = AGREEMENT_KINDS.index("ceasefire")
IN_FORCE = AGREEMENT_STATUS.index("in_force")


def ceasefire_cap(world: World, params: Params) -> jax.Array:
    """Highest conflict allowed on each dyad: f32[E], ceasefire_cap under a ceasefire in force, else 1."""
    a = world.agreements
    in_force = (a.status == IN_FORCE) & (a.kind == CEASEFIRE)
    dyad, found = lookup_dyads(world.dyads, a.party_a, a.party_b)
    at = jnp.where(in_force & found, dyad, world.n_dyads)
    capped = jnp.zeros(world.n_dyads, bool).at[at].set(True, mode="drop")
    capped = capped | capped[world.dyads.reverse]
    return jnp.where(capped, params.ceasefire_cap, 1.0)


def tension_drive(world: World, params: Params) -> jax.Array:
    """The level tension is pulled toward: f32[E] in [0, 1]."""
    d = world.dyads
    drive = (
        params.tension_base
        + params.tension_sanction * jnp.maximum(d.sanction, d.sanction[d.reverse])
        + params.tension_conflict * d.conflict
        + params.tension_distance * dyad_position_distance(world.states, d)
        - params.tension_alliance * d.alliance
        - params.tension_trust * (trust_mean(d) - 0.5)
    )
    return drive.clip(0.0, 1.0)


def tension_and_conflict(world: World, params: Params, key: jax.Array) -> World:
    """Relax tension toward its drive, plus incidents; escalate or calm conflict; apply ceasefire caps."""
    d, s = world.dyads, world.states
    incidents = params.tension_noise * jax.random.normal(key, d.tension.shape, d.tension.dtype)
    tension = (d.tension + params.tension_relax * (tension_drive(world, params) - d.tension) + incidents).clip(0.0, 1.0)
    power_i, power_j = s.power[d.src], s.power[d.dst]
    allied_j = segment_sum_dst(d.alliance * s.power[d.src], d, world.n_states)[d.dst]
    strength = 2.0 * power_i / (power_i + power_j + allied_j + 1e-9)
    conflict = (
        d.conflict
        + params.conflict_escalation * jnp.maximum(tension - params.conflict_threshold, 0.0) * strength
        - params.conflict_deescalation * jnp.maximum(params.conflict_threshold - tension, 0.0)
    )
    conflict = jnp.maximum(conflict, conflict[d.reverse])
    conflict = jnp.minimum(conflict.clip(0.0, 1.0), ceasefire_cap(world, params))
    return replace(world, dyads=replace(d, tension=tension, conflict=conflict))
