"""Tension and conflict, per dyad (reference of ``mechanisms.tension``).

For e = i->j with reverse r(e), d_ij the salience-weighted position distance,
t_e = alpha_e / (alpha_e + beta_e) and z_e the dyad's standard normal draw:
  drive_e = clip(tau0 + a_s max(s_e, s_r(e)) + a_c c_e + a_B K_e + a_d d_ij - a_w w_e - a_t (t_e - 1/2), 0, 1)
  K_e     = highest conflict between j and any member of bloc(i) (0 if none)
  tau_e  <- clip(tau_e + rho (drive_e - tau_e) + sigma z_e, 0, 1)
  A_j     = sum_{k->j} w_kj p_k                       (the power of j's allies)
  c'_e    = c_e + g_up (tau_e - theta)^+ (2 p_i / (p_i + p_j + A_j + 1e-9) - 1)^+ - g_down (theta - tau_e)^+
  c_e    <- min(clip(max(c'_e, c'_r(e)), 0, 1), cap_e)
cap_e = ceasefire_cap while i or j is party to a ceasefire in force, else 1.
"""

from __future__ import annotations

import jax

from diplosim.params import Params
from diplosim.reference.agreements import parties_to
from diplosim.reference.common import clip, draw, floats, position_distance, salience_totals, trust_mean
from diplosim.world import World, replace


def conflict_by_bloc(world: World) -> dict[tuple[int, int], float]:
    """{(state j, bloc b): highest conflict between j and a member of b}, over the dyads arriving at j."""
    d, bloc = world.dyads, world.states.bloc.tolist()
    worst: dict[tuple[int, int], float] = {}
    for c, k, j in zip(d.conflict.tolist(), d.src.tolist(), d.dst.tolist()):
        worst[j, bloc[k]] = max(worst.get((j, bloc[k]), 0.0), c)
    return worst


def allied_power(world: World) -> list:
    """A_j = sum_{k->j} w_kj p_k: the power of each state's allies."""
    d, power = world.dyads, world.states.power.tolist()
    allied = [0.0] * world.n_states
    for w, k, j in zip(d.alliance.tolist(), d.src.tolist(), d.dst.tolist()):
        allied[j] += w * power[k]
    return allied


def tension_drives(world: World, params: Params) -> list:
    """drive_e: the level each dyad's tension is pulled toward, in [0, 1]."""
    d, s = world.dyads, world.states
    src, dst, reverse = d.src.tolist(), d.dst.tolist(), d.reverse.tolist()
    sanction, conflict, alliance = d.sanction.tolist(), d.conflict.tolist(), d.alliance.tolist()
    alpha, beta = d.trust_alpha.tolist(), d.trust_beta.tolist()
    position, salience, bloc = s.position.tolist(), s.salience.tolist(), s.bloc.tolist()
    totals = salience_totals(salience)
    worst = conflict_by_bloc(world)
    drives = []
    for e, (i, j) in enumerate(zip(src, dst)):
        distance = position_distance(position[i], salience[i], totals[i], position[j], salience[j], totals[j])
        drive = (
            params.tension_base
            + params.tension_sanction * max(sanction[e], sanction[reverse[e]])
            + params.tension_conflict * conflict[e]
            + params.tension_bloc_conflict * worst.get((j, bloc[i]), 0.0)
            + params.tension_distance * distance
            - params.tension_alliance * alliance[e]
            - params.tension_trust * (trust_mean(alpha[e], beta[e]) - 0.5)
        )
        drives.append(clip(drive))
    return drives


def tension_and_conflict(world: World, params: Params, key: jax.Array) -> World:
    """Each dyad's tension relaxes toward its drive, plus an incident; conflict escalates or calms; ceasefires cap it."""
    d, s = world.dyads, world.states
    src, dst, reverse = d.src.tolist(), d.dst.tolist(), d.reverse.tolist()
    incidents = draw(jax.random.normal, key, d.tension.shape, d.tension.dtype)
    drives = tension_drives(world, params)
    power, allied = s.power.tolist(), allied_power(world)
    old_tension, old_conflict = d.tension.tolist(), d.conflict.tolist()
    tension, pushed = [], []
    for e, (i, j) in enumerate(zip(src, dst)):
        t = clip(old_tension[e] + params.tension_relax * (drives[e] - old_tension[e]) + params.tension_noise * incidents[e])
        strength = max(2.0 * power[i] / (power[i] + power[j] + allied[j] + 1e-9) - 1.0, 0.0)
        tension.append(t)
        pushed.append(
            old_conflict[e]
            + params.conflict_escalation * max(t - params.conflict_threshold, 0.0) * strength
            - params.conflict_deescalation * max(params.conflict_threshold - t, 0.0)
        )
    under_ceasefire = parties_to(world, "ceasefire")
    conflict = []
    for e, (i, j) in enumerate(zip(src, dst)):
        cap = params.ceasefire_cap if i in under_ceasefire or j in under_ceasefire else 1.0
        conflict.append(min(clip(max(pushed[e], pushed[reverse[e]])), cap))
    return replace(world, dyads=replace(d, tension=floats(tension), conflict=floats(conflict)))
