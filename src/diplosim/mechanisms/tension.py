"""Tension and conflict: hostility driven by sanctions, conflict and diverging positions; escalation above a threshold.

Reads dyads' ``tension``, ``sanction``, ``conflict``, ``alliance``, trust
counts; states' ``position``, ``salience``, ``power``; agreements.  Writes
dyads' ``tension`` and ``conflict``.

For e = i->j with reverse r(e), d_ij the salience-weighted position distance
and t_e = alpha_e / (alpha_e + beta_e):
  drive_e = tau0 + a_s max(s_e, s_r(e)) + a_c c_e + a_B K_j,bloc(i) + a_d d_ij - a_w w_e - a_t (t_e - 1/2)
with K_jb the highest conflict intensity between j and any member of bloc b
  tau_e  <- clip(tau_e + rho (clip(drive_e, 0, 1) - tau_e) + sigma z_e, 0, 1),  z_e ~ N(0, 1)
             (diplomatic incidents: independent draws per dyad and step)
  c'_e    = c_e + g_up (tau_e - theta)^+ (2 p_i / (p_i + p_j + A_j) - 1)^+ - g_down (theta - tau_e)^+
where A_j = sum_{k->j} w_kj p_k is the power of j's allies: a state escalates
only against a target weaker than itself even counting the target's allies
(deterrence); a war it is already in persists while tension stays high
  c_e    <- clip(max(c'_e, c'_r(e)), 0, cap_e)
where cap_e = ceasefire_cap while i or j is party to a ceasefire in force, else 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diplosim import draws
from diplosim.mechanisms.agreements import parties_to
from diplosim.params import Params
from diplosim.world import (
    World,
    conflict_by_bloc,
    dst_bloc_bins,
    dyad_position_distance,
    materialise,
    mutual_sanction,
    replace,
    segment_sum_dst,
    take,
    trust_mean,
)


def ceasefire_cap(world: World, params: Params, bound: jax.Array | None = None) -> jax.Array:
    """Highest conflict allowed on each dyad: f32[E], ceasefire_cap where either side is under a ceasefire, else 1.

    ``bound``: the states party to a ceasefire in force, where the caller has them already."""
    bound = parties_to(world, "ceasefire") if bound is None else bound
    d = world.dyads
    return jnp.where(take(bound, d.src) | take(bound, d.dst), params.ceasefire_cap, 1.0)


def capped_by_ceasefires(world: World, params: Params, conflict: jax.Array) -> jax.Array:
    """``min(conflict, ceasefire_cap)``, with the cap's pass over every dyad only in a step where a
    ceasefire is in force (vmapped: both, selected).  The two gathers of the parties at each dyad
    took some 70 ms of the 10^6-state step on a CPU (benchmarks/ROOFLINE.md, change 28)."""
    bound = parties_to(world, "ceasefire")
    return jax.lax.cond(bound.any(), lambda c: jnp.minimum(c, ceasefire_cap(world, params, bound)), lambda c: c, conflict)


def conflict_with_own_bloc(world: World) -> jax.Array:
    """For each dyad i->j, the highest conflict between j and any member of i's bloc: f32[E] in [0, 1]."""
    # (bloc of i, j): one scatter-max over every dyad, shared with the economy, read back per dyad
    return take(conflict_by_bloc(world), dst_bloc_bins(world))  # the dyad's own bin holds at least its own conflict (>= 0)


def tension_drive(world: World, params: Params) -> jax.Array:
    """The level tension is pulled toward: f32[E] in [0, 1]."""
    d = world.dyads
    drive = (
        params.tension_base
        + params.tension_sanction * mutual_sanction(d)
        + params.tension_conflict * d.conflict
        + params.tension_bloc_conflict * conflict_with_own_bloc(world)
        + params.tension_distance * dyad_position_distance(world.states, d)
        - params.tension_alliance * d.alliance
        - params.tension_trust * (trust_mean(d) - 0.5)
    )
    return drive.clip(0.0, 1.0)


def tension_and_conflict(world: World, params: Params, key: jax.Array) -> World:
    """Relax tension toward its drive, plus incidents; escalate or calm conflict; apply ceasefire caps."""
    d, s = world.dyads, world.states
    incidents = params.tension_noise * draws.normal(key, d.tension.shape, d.tension.dtype)
    # in memory before conflict reads it: fusible, its update (threefry hash included) could be recomputed there
    tension = materialise((d.tension + params.tension_relax * (tension_drive(world, params) - d.tension) + incidents).clip(0.0, 1.0))
    power_i, power_j = take(s.power, d.src), take(s.power, d.dst)
    allied_j = take(segment_sum_dst(d.alliance * power_i, d, world.n_states), d.dst)
    strength = jnp.maximum(2.0 * power_i / (power_i + power_j + allied_j + 1e-9) - 1.0, 0.0)
    conflict = materialise(  # once, read by both terms of the maximum: no copy (see alliances)
        d.conflict
        + params.conflict_escalation * jnp.maximum(tension - params.conflict_threshold, 0.0) * strength
        - params.conflict_deescalation * jnp.maximum(params.conflict_threshold - tension, 0.0)
    )
    conflict = jnp.maximum(conflict, take(conflict, d.reverse))
    conflict = capped_by_ceasefires(world, params, conflict.clip(0.0, 1.0))
    return replace(world, dyads=replace(d, tension=tension, conflict=conflict))
