"""Decisions, per state: each state's default rules on its dyads and envoys (reference of ``mechanisms.decisions``).

For the dyad e = i->j (t tension, w alliance, s sanction, q secondary sanction,
c conflict, p power, A approval; r(e) the reverse dyad):
  sanctions   target 0 if t_e < sanction_lift_tension or a sanctions-relief agreement binds i and j,
              else 1 if t_e > sanction_impose_tension and w_e < sanction_ally_limit, else s_e;
              s_e <- clip(s_e + sanction_rate (target - s_e))
  secondary   target 0 if t_e < sanction_lift_tension or j is party to a ceasefire in force,
              else 1 if s_e >= 1/2, t_e > secondary_tension, p_i > p_j and j exports oil, else q_e;
              q_e <- clip(q_e + secondary_rate (target - q_e))
  envoy       sent if max(t_e, t_r(e)) > envoy_tension and ch_e > envoy_channel (e: the envoy's dyad)
  ceasefire   i offers j one if c_e > 0.1 and (A_i < ceasefire_approval or p_i / (p_i + p_j + 1e-9) <
              ceasefire_power_share); a mutual offer (the first MAX_CEASEFIRES_PER_STEP pairs, by dyad
              index) is signed as a ceasefire; an unanswered one sheds goodwill_tension from t_e
  signal      i signals j if u_e < signal_rate (t_e - signal_threshold)^+  (u_e: uniform draw of the dyad);
              t_e += signal_size signal_tension if i signals j or j signals i (once)
A state with a ``decide()`` hook replaces some of these actions with its own
(``overrides`` = (values, mask), as in the core).
"""

from __future__ import annotations

import jax
import numpy as np

from diplosim.mechanisms.decisions import CONFLICT_LEVEL, MAX_CEASEFIRES_PER_STEP, Actions
from diplosim.params import Params
from diplosim.reference.agreements import Candidate, pair_dyads, parties_to, sign
from diplosim.reference.common import clip, draw, f32, floats
from diplosim.world import AGREEMENT_KINDS, World, replace

CEASEFIRE = AGREEMENT_KINDS.index("ceasefire")


def _hold(impose: bool, lift: bool, current: float) -> float:
    """Target 0 where ``lift`` (it wins), 1 where ``impose``, else the current level."""
    return 0.0 if lift else 1.0 if impose else current


def default_actions(world: World, params: Params, key: jax.Array) -> Actions:
    """What every state would do this step by its default rules (lists in an ``Actions``)."""
    d, s, m = world.dyads, world.states, world.envoys
    src, dst, reverse = d.src.tolist(), d.dst.tolist(), d.reverse.tolist()
    tension, alliance, sanction = d.tension.tolist(), d.alliance.tolist(), d.sanction.tolist()
    secondary, conflict, channel = d.secondary_sanction.tolist(), d.conflict.tolist(), d.channel.tolist()
    power, approval, supply = s.power.tolist(), s.approval.tolist(), s.energy_supply.tolist()
    relief, under_ceasefire = pair_dyads(world, "sanctions_relief"), parties_to(world, "ceasefire")
    at_war = f32(CONFLICT_LEVEL)  # the core compares with the float32 constant
    draws = draw(jax.random.uniform, key, d.tension.shape)

    actions = Actions(sanction=[], secondary=[], dispatch=[], propose_ceasefire=[], signal=[])
    for e, (i, j) in enumerate(zip(src, dst)):
        calm, relieved = tension[e] < params.sanction_lift_tension, e in relief
        hostile = tension[e] > params.sanction_impose_tension and alliance[e] < params.sanction_ally_limit
        actions.sanction.append(_hold(hostile and not relieved, calm or relieved, sanction[e]))
        threatens = (sanction[e] >= 0.5 and tension[e] > params.secondary_tension and power[i] > power[j]
                     and supply[j] > 0)
        actions.secondary.append(_hold(threatens, calm or j in under_ceasefire, secondary[e]))
        share = power[i] / (power[i] + power[j] + 1e-9)
        weary = approval[i] < params.ceasefire_approval or share < params.ceasefire_power_share
        actions.propose_ceasefire.append(conflict[e] > at_war and weary)
        actions.signal.append(draws[e] < params.signal_rate * max(tension[e] - params.signal_threshold, 0.0))
    last = len(src) - 1
    for e in m.dyad.tolist():  # each envoy, on its dyad
        e = min(e, last)
        actions.dispatch.append(max(tension[e], tension[reverse[e]]) > params.envoy_tension and channel[e] > params.envoy_channel)
    return actions


def ceasefire_candidates(world: World, params: Params, propose: list[bool]) -> list[Candidate]:
    """Mutual ceasefire offers (each pair once, i < j), the first MAX_CEASEFIRES_PER_STEP by dyad index."""
    d = world.dyads
    src, dst, reverse = d.src.tolist(), d.dst.tolist(), d.reverse.tolist()
    kinds = world.issue_agreement.tolist()
    issue = kinds.index(CEASEFIRE) if CEASEFIRE in kinds else 0  # the issue ceasefires settle
    position = world.states.position
    candidates = []
    for e in range(len(src)):
        if propose[e] and propose[reverse[e]] and src[e] < dst[e] and len(candidates) < MAX_CEASEFIRES_PER_STEP:
            i, j = src[e], dst[e]
            terms = 0.5 * (float(position[i, issue]) + float(position[j, issue]))
            candidates.append(Candidate(i, j, CEASEFIRE, issue, terms, params.verification_official, 0))
    return candidates


def apply_actions(world: World, params: Params, actions: Actions) -> World:
    """Carry the actions out: move sanctions, send envoys, sign mutual ceasefires, signal."""
    d = world.dyads
    reverse = d.reverse.tolist()
    sanction, secondary, tension = d.sanction.tolist(), d.secondary_sanction.tolist(), d.tension.tolist()
    propose, signal = actions.propose_ceasefire, actions.signal
    push = params.signal_size * params.signal_tension
    for e, r in enumerate(reverse):
        sanction[e] = clip(sanction[e] + params.sanction_rate * (actions.sanction[e] - sanction[e]))
        secondary[e] = clip(secondary[e] + params.secondary_rate * (actions.secondary[e] - secondary[e]))
        unanswered = propose[e] and not propose[r]
        signalled = signal[e] or signal[r]
        tension[e] = clip(tension[e] - params.goodwill_tension * unanswered + push * signalled)
    world = replace(
        world,
        dyads=replace(d, sanction=floats(sanction), secondary_sanction=floats(secondary), tension=floats(tension)),
        envoys=replace(world.envoys, active=np.asarray(actions.dispatch, bool)),
    )
    world, _ = sign(world, ceasefire_candidates(world, params, propose))
    return world


def decisions(world: World, params: Params, key: jax.Array, overrides: tuple[Actions, Actions] | None = None) -> World:
    """Every state follows its default rules, except where ``overrides`` = (values, mask) says otherwise."""
    actions = default_actions(world, params, key)
    if overrides is not None:
        values, mask = overrides
        for name in ("sanction", "secondary", "dispatch", "propose_ceasefire", "signal"):
            own, chosen, default = getattr(values, name).tolist(), getattr(mask, name).tolist(), getattr(actions, name)
            for row, replaced in enumerate(chosen):
                if replaced:
                    default[row] = own[row]
    return apply_actions(world, params, actions)
