"""Alliances: shared threats, trust and bloc membership bind; diverging positions loosen.

Reads dyads' ``alliance``, ``tension``, trust counts; states' ``bloc``,
``position``, ``salience``.  Writes dyads' ``alliance`` (kept symmetric).

Threat felt by state j from bloc b: theta_jb = mean over k->j with bloc(k) = b
of max(tau_kj, s_kj) (hostility or sanctions).
For e = i->j with reverse r(e):
  shared_ij = sum_{b not in {bloc(i), bloc(j)}} theta_ib theta_jb
  target_e  = clip(a_B [bloc(i) = bloc(j)] + a_S shared_ij + a_t ((t_e + t_r(e)) / 2 - 1/2) - a_d d_ij, 0, 1)
  w_e      <- w_e + rho (target_e - w_e), then w_e <- (w_e + w_r(e)) / 2
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diplosim.params import Params
from diplosim.world import World, dyad_position_distance, replace, trust_mean


def bloc_threat(world: World, n_blocs: int) -> jax.Array:
    """Mean hostility each state receives from each bloc: f32[N, B] in [0, 1]."""
    d, s = world.dyads, world.states
    # one column per bloc, so the reduction stays a sorted segment sum over dst
    from_bloc = s.bloc[d.src][:, None] == jnp.arange(n_blocs)[None, :]  # bool[E, B]
    hostility = jnp.maximum(d.tension, d.sanction)[:, None] * from_bloc
    total = jax.ops.segment_sum(hostility, d.dst, world.n_states, indices_are_sorted=True)
    count = jax.ops.segment_sum(from_bloc.astype(hostility.dtype), d.dst, world.n_states, indices_are_sorted=True)
    return total / jnp.maximum(count, 1.0)


def shared_threat(world: World, n_blocs: int) -> jax.Array:
    """Threat that i and j both feel from third blocs: f32[E] >= 0."""
    d, s = world.dyads, world.states
    threat = bloc_threat(world, n_blocs)
    blocs = jnp.arange(n_blocs)
    third = (blocs[None, :] != s.bloc[d.src][:, None]) & (blocs[None, :] != s.bloc[d.dst][:, None])
    return (threat[d.src] * threat[d.dst] * third).sum(-1)


def alliances(world: World, params: Params, key: jax.Array, *, n_blocs: int) -> World:
    """Move alliance weights toward their target and keep them symmetric."""
    del key  # deterministic
    d, s = world.dyads, world.states
    trust = trust_mean(d)
    target = (
        params.alliance_bloc * (s.bloc[d.src] == s.bloc[d.dst])
        + params.alliance_threat * shared_threat(world, n_blocs)
        + params.alliance_trust * (0.5 * (trust + trust[d.reverse]) - 0.5)
        - params.alliance_distance * dyad_position_distance(s, d)
    ).clip(0.0, 1.0)
    alliance = d.alliance + params.alliance_relax * (target - d.alliance)
    alliance = 0.5 * (alliance + alliance[d.reverse])
    return replace(world, dyads=replace(d, alliance=alliance.clip(0.0, 1.0)))
