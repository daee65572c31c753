"""Scheduled events, per event: the scenario's shocks on the step they fire (reference of ``mechanisms.events``).

For an event v firing at step t with magnitude m_v on the dyad a->b (b->a its reverse):
  sanction          s_ab  <- m_v   (magnitude 0 lifts it)
  secondary         q_ab  <- m_v
  military signal   tau_ab, tau_ba += m_v * signal_tension   (then clipped to [0, 1])
  incentive         T*_ab, T*_ba *= 1 + m_v * incentive_trade;  alpha_ba += m_v * incentive_trust
  conflict onset    c_ab, c_ba <- max(c, m_v)
  channel restored  ch_ab, ch_ba <- max(ch, m_v)
Events are applied in schedule order; two sanctions on one dyad in one step:
the later one wins.  Summits are the negotiation mechanism's, which calls
``apply_exclusions``: for each stakeholder x that a summit on issue k excludes
and each participant p,
  w_xp, w_px -= m_v S_x,k exclusion_alliance  (then clipped);  beta_xp += m_v S_x,k exclusion_trust
"""

from __future__ import annotations

from diplosim.params import Params
from diplosim.reference.common import clip, find_dyad, floats
from diplosim.world import EVENT_KINDS, EVENT_ROLES, World, replace


def firing(world: World, kind: str) -> list[int]:
    """The events of ``kind`` that fire this step, in schedule order."""
    ev, now = world.events, int(world.step)
    code = EVENT_KINDS.index(kind)
    return [v for v, (step, k) in enumerate(zip(ev.step.tolist(), ev.kind.tolist())) if step == now and k == code]


def scheduled_events(world: World, params: Params, key=None) -> World:
    """Apply every shock scheduled for this step to its dyads (summits excepted)."""
    ev, d = world.events, world.dyads
    now = int(world.step)
    reverse = d.reverse.tolist()
    sanction, secondary = d.sanction.tolist(), d.secondary_sanction.tolist()
    tension, potential = d.tension.tolist(), d.trade_potential.tolist()
    alpha, conflict, channel = d.trust_alpha.tolist(), d.conflict.tolist(), d.channel.tolist()
    last = len(reverse) - 1
    for step, code, e, m in zip(ev.step.tolist(), ev.kind.tolist(), ev.dyad.tolist(), ev.magnitude.tolist()):
        if step != now:
            continue
        kind, back = EVENT_KINDS[code], reverse[min(e, last)]
        if kind == "sanction":
            sanction[e] = m
        elif kind == "secondary_sanction":
            secondary[e] = m
        elif kind == "military_signal":
            tension[e] += m * params.signal_tension
            tension[back] += m * params.signal_tension
        elif kind == "incentive":
            potential[e] *= 1.0 + m * params.incentive_trade
            potential[back] *= 1.0 + m * params.incentive_trade
            alpha[back] += m * params.incentive_trust  # the target now trusts the actor more
        elif kind == "conflict_onset":
            conflict[e], conflict[back] = max(conflict[e], m), max(conflict[back], m)
        elif kind == "channel_restoration":
            channel[e], channel[back] = max(channel[e], m), max(channel[back], m)
    dyads = replace(
        d, sanction=floats(sanction), secondary_sanction=floats(secondary), tension=floats([clip(t) for t in tension]),
        trade_potential=floats(potential), trust_alpha=floats(alpha), conflict=floats(conflict), channel=floats(channel),
    )
    return replace(world, dyads=dyads)


def apply_exclusions(world: World, params: Params) -> World:
    """Each stakeholder a firing summit excludes loses alliance weight with, and trust in, each participant."""
    ev, d, s = world.events, world.dyads, world.states
    src, dst, reverse = d.src.tolist(), d.dst.tolist(), d.reverse.tolist()
    alliance, beta = d.alliance.tolist(), d.trust_beta.tolist()
    salience = s.salience.tolist()
    magnitude = {v: float(ev.magnitude[v]) for v in firing(world, "summit")}
    event, state, role = ev.member_event.tolist(), ev.member_state.tolist(), ev.member_role.tolist()
    excluded, participant = EVENT_ROLES.index("excluded"), EVENT_ROLES.index("participant")
    for x in range(len(event)):  # every membership of an excluded stakeholder ...
        m = magnitude.get(event[x], 0.0)
        if role[x] != excluded or m <= 0:  # a summit of magnitude 0 offends nobody
            continue
        weight = m * salience[state[x]][int(ev.issue[event[x]])]
        for p in range(len(event)):  # ... against every participant of the same summit
            if event[p] != event[x] or role[p] != participant:
                continue
            e = find_dyad(src, dst, state[x], state[p])
            if e is None or weight <= 0:
                continue
            alliance[e] -= weight * params.exclusion_alliance
            alliance[reverse[e]] -= weight * params.exclusion_alliance
            beta[e] += weight * params.exclusion_trust
    return replace(world, dyads=replace(d, alliance=floats([clip(w) for w in alliance]), trust_beta=floats(beta)))
