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
from diplosim.world import (
    Dyads,
    World,
    dst_bloc_bins,
    dyad_position_distance,
    gpu_program,
    materialise,
    replace,
    reverse_of,
    take,
    trust_mean,
)


def bloc_threat(world: World, n_blocs: int) -> list[jax.Array]:
    """Mean hostility each state receives from each bloc: B arrays f32[N] in [0, 1].

    One scatter of every dyad into the B x N (sending bloc, receiver) bins for the totals and
    one for the counts, rather than a segment sum per bloc (``world.dst_bloc_bins``).  On a CPU these
    stay two scatters, and XLA computes the counts (fixed for a run: blocs never change) once,
    before the loop over steps.  In the GPU's program (``world.gpu_program``) they are one scatter of
    (hostility, 1) pairs, which took the 10^6-state step on an H200 from 6.35 to 5.91 ms
    (benchmarks/ROOFLINE.md, change 24).
    """
    d = world.dyads
    bins = dst_bloc_bins(world)  # bloc[src] * N + dst: rows 0 .. n_blocs - 1 of the reshape below
    hostility = jnp.maximum(d.tension, d.sanction)
    if gpu_program():
        both = jax.ops.segment_sum(jnp.stack([hostility, jnp.ones_like(hostility)], axis=-1), bins, world.n_states * n_blocs)
        total, count = both[:, 0], both[:, 1]
    else:
        total = jax.ops.segment_sum(hostility, bins, world.n_states * n_blocs)
        count = jax.ops.segment_sum(jnp.ones_like(hostility), bins, world.n_states * n_blocs)
    threat = materialise(total / jnp.maximum(count, 1.0)).reshape(n_blocs, world.n_states)
    return [threat[b] for b in range(n_blocs)]


def shared_threat(world: World, n_blocs: int) -> jax.Array:
    """Threat that i and j both feel from third blocs: f32[E] >= 0."""
    d, s = world.dyads, world.states
    bloc_i, bloc_j = take(s.bloc, d.src), take(s.bloc, d.dst)
    shared = jnp.zeros_like(d.tension)
    for b, threat in enumerate(bloc_threat(world, n_blocs)):
        third = (bloc_i != b) & (bloc_j != b)
        shared = shared + jnp.where(third, take(threat, d.src) * take(threat, d.dst), 0.0)
    return shared


def reverse_trust(trust: jax.Array, dyads: Dyads) -> jax.Array:
    """``reverse_of(trust)``, j's trust in i for each dyad i->j; on a CPU gathered in a loop of its own, into memory.

    Read inside the target's loop, with its six gathers of the blocs' threats (``shared_threat``), the same
    10^7 random reads of a 40 MB array took longer than alone plus a pass more over the dyads: about 0.9 of
    the 10^6-state step on a 2-core CPU (0.89 to 0.94 in six runs), no change at 10^5 (benchmarks/ROOFLINE.md,
    change 32).  The GPU's program, unmeasured so, keeps the gather in the target's kernel.  The same values
    either way.
    """
    back = reverse_of(trust, dyads)
    return back if gpu_program() else materialise(back)


def alliances(world: World, params: Params, key: jax.Array, *, n_blocs: int) -> World:
    """Move alliance weights toward their target and keep them symmetric."""
    del key  # deterministic
    d, s = world.dyads, world.states
    trust = trust_mean(d)
    target = (
        params.alliance_bloc * (take(s.bloc, d.src) == take(s.bloc, d.dst))
        + params.alliance_threat * shared_threat(world, n_blocs)
        + params.alliance_trust * (0.5 * (trust + reverse_trust(trust, d)) - 0.5)
        - params.alliance_distance * dyad_position_distance(s, d)
    ).clip(0.0, 1.0)
    # materialised once and read by both terms: reverse_of(x) materialises x for its gather only,
    # and with x also read directly, XLA writes materialise's in-place scatter into a copy of x
    alliance = materialise(d.alliance + params.alliance_relax * (target - d.alliance))
    alliance = 0.5 * (alliance + take(alliance, d.reverse))
    return replace(world, dyads=replace(d, alliance=alliance.clip(0.0, 1.0)))
