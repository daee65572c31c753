"""Alliances, per dyad: shared threats, trust and blocs bind; diverging positions loosen (reference of ``mechanisms.alliances``).

Threat felt by state j from bloc b: theta_jb = mean over the dyads k->j with
bloc(k) = b of max(tau_kj, s_kj) (0 if there are none).  For e = i->j with
reverse r(e), t_e = alpha_e / (alpha_e + beta_e), d_ij the position distance:
  shared_ij = sum_{b not in {bloc(i), bloc(j)}} theta_ib theta_jb      (blocs in order)
  target_e  = clip(a_B [bloc(i) = bloc(j)] + a_S shared_ij + a_t ((t_e + t_r(e)) / 2 - 1/2) - a_d d_ij, 0, 1)
  w'_e      = w_e + rho (target_e - w_e);   w_e <- clip((w'_e + w'_r(e)) / 2, 0, 1)
"""

from __future__ import annotations

from diplosim.params import Params
from diplosim.reference.common import clip, floats, position_distance, salience_totals, trust_mean
from diplosim.world import World, replace


def bloc_threats(world: World) -> list[list[float]]:
    """theta[j][b]: mean hostility state j receives from the members of bloc b."""
    d, bloc = world.dyads, world.states.bloc.tolist()
    n, blocs = world.n_states, world.n_blocs
    total = [[0.0] * blocs for _ in range(n)]
    count = [[0] * blocs for _ in range(n)]
    for t, s, k, j in zip(d.tension.tolist(), d.sanction.tolist(), d.src.tolist(), d.dst.tolist()):
        total[j][bloc[k]] += max(t, s)
        count[j][bloc[k]] += 1
    return [[total[j][b] / max(count[j][b], 1) for b in range(blocs)] for j in range(n)]


def alliances(world: World, params: Params, key=None) -> World:
    """Each dyad's alliance weight moves toward its target; the pair then shares the mean of its two weights."""
    d, s = world.dyads, world.states
    src, dst, reverse = d.src.tolist(), d.dst.tolist(), d.reverse.tolist()
    alpha, beta, alliance = d.trust_alpha.tolist(), d.trust_beta.tolist(), d.alliance.tolist()
    position, salience, bloc = s.position.tolist(), s.salience.tolist(), s.bloc.tolist()
    totals = salience_totals(salience)
    threat = bloc_threats(world)
    trust = [trust_mean(a, b) for a, b in zip(alpha, beta)]
    moved = []
    for e, (i, j) in enumerate(zip(src, dst)):
        shared = 0.0
        for b in range(world.n_blocs):
            if b != bloc[i] and b != bloc[j]:
                shared += threat[i][b] * threat[j][b]
        distance = position_distance(position[i], salience[i], totals[i], position[j], salience[j], totals[j])
        target = clip(
            params.alliance_bloc * (bloc[i] == bloc[j])
            + params.alliance_threat * shared
            + params.alliance_trust * (0.5 * (trust[e] + trust[reverse[e]]) - 0.5)
            - params.alliance_distance * distance
        )
        moved.append(alliance[e] + params.alliance_relax * (target - alliance[e]))
    return replace(world, dyads=replace(d, alliance=floats([clip(0.5 * (moved[e] + moved[r])) for e, r in enumerate(reverse)])))
