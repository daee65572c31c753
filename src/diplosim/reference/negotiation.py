"""Negotiation, per summit and per envoy: bargaining, deals, approval (reference of ``mechanisms.negotiation``).

Each actor's bargaining speed is its channel's speed times its flexibility
  flexibility_i = f0 + (1 - f0) A_i      (f0 = flexibility_floor, A_i approval)
- a summit firing this step: the seats of its participants bargain SUMMIT_ROUNDS
  rounds on its issue (capability = power, channel speed summit_speed);
  first, the stakeholders it excludes resent it (``events.apply_exclusions``);
- then each active envoy: principal p (capability power_p x the envoy's
  credibility) and counterpart c (capability power_c) bargain ENVOY_ROUNDS
  round on the issue argmax_k s_pk + s_ck (sums in float32, first issue on a tie),
  at envoy_speed (official) or proxy_speed (proxy).
A state in several talks on one issue in one stage moves by the mean of its moves.
After the talks, the principals (a summit's actor and target, an envoy's principal and
counterpart) sign an agreement of kind issue_agreement[k] (none if -1) when
|x_a - x_b| < agreement_gap, terms (x_a + x_b) / 2, verification by channel; summits
first, in schedule order, then envoys.  Each signing party's approval moves by
approval_deal s_pk (1 - 2 |x_p - terms|), x_p its position before the talks.
"""

from __future__ import annotations

from collections import defaultdict

from diplosim.mechanisms.negotiation import ENVOY_ROUNDS, SUMMIT_ROUNDS
from diplosim.params import Params
from diplosim.reference.agreements import Candidate, sign
from diplosim.reference.bargaining import bargain
from diplosim.reference.common import clip, f32, floats
from diplosim.reference.events import apply_exclusions, firing
from diplosim.world import CHANNELS, EVENT_ROLES, World, replace

PROXY = CHANNELS.index("proxy")
PARTICIPANT = EVENT_ROLES.index("participant")


def flexibility(approval: float, params: Params) -> float:
    """How far a leader is free to move: f0 + (1 - f0) approval."""
    return params.flexibility_floor + (1.0 - params.flexibility_floor) * approval


def apply_moves(position: list, moves: dict[tuple[int, int], list[float]]) -> list:
    """Each (state, issue) moved by the mean of its moves in the talks of this stage, clipped to [0, 1].

    The result is stored as the world's float32 positions, which the next stage reads.
    """
    position = [list(row) for row in position]
    for (i, k), deltas in moves.items():
        position[i][k] = f32(clip(position[i][k] + sum(deltas) / len(deltas)))
    return position


def candidate(position: list, params: Params, kinds: list, a: int, b: int, issue: int, channel: int,
              before: tuple[float, float]) -> Candidate | None:
    """The agreement principals a and b sign on ``issue`` once talks have moved them, or None."""
    x_a, x_b = position[a][issue], position[b][issue]
    if kinds[issue] < 0 or not abs(x_a - x_b) < params.agreement_gap:
        return None
    verification = params.verification_proxy if channel == PROXY else params.verification_official
    return Candidate(a, b, kinds[issue], issue, 0.5 * (x_a + x_b), verification, channel, before)


def summits(world: World, params: Params) -> tuple[list, list[Candidate]]:
    """Bargaining at each summit firing this step; returns the new positions and the deals."""
    ev, s = world.events, world.states
    position, salience, power, approval = s.position.tolist(), s.salience.tolist(), s.power.tolist(), s.approval.tolist()
    member_event, member_state, member_role = ev.member_event.tolist(), ev.member_state.tolist(), ev.member_role.tolist()
    kinds = world.issue_agreement.tolist()
    moves, talks = defaultdict(list), []
    for v in firing(world, "summit"):
        k = int(ev.issue[v])
        seats = [p for p in range(len(member_state)) if member_event[p] == v and member_role[p] == PARTICIPANT]
        states = [member_state[p] for p in seats]  # a state seated twice bargains as two actors, as in the core
        before = [position[i][k] for i in states]
        after = bargain(before, [power[i] for i in states], [salience[i][k] for i in states],
                        [params.summit_speed * flexibility(approval[i], params) for i in states], SUMMIT_ROUNDS)
        for i, x0, x1 in zip(states, before, after):
            moves[i, k].append(x1 - x0)
        talks.append((int(ev.actor[v]), int(ev.target[v]), k))
    moved = apply_moves(position, moves)
    deals = [candidate(moved, params, kinds, a, b, k, 0, (position[a][k], position[b][k])) for a, b, k in talks]
    return moved, [c for c in deals if c is not None]


def envoy_talks(world: World, params: Params, position: list) -> tuple[list, list[Candidate]]:
    """Bargaining through each active envoy, from the positions the summits left; returns positions and deals."""
    m, s = world.envoys, world.states
    salience, power, approval = s.salience.tolist(), s.power.tolist(), s.approval.tolist()
    kinds = world.issue_agreement.tolist()
    moves, talks = defaultdict(list), []
    for principal, counterpart, channel, credibility, active in zip(
        m.principal.tolist(), m.counterpart.tolist(), m.channel.tolist(), m.credibility.tolist(), m.active.tolist()
    ):
        if not active:
            continue
        pair = (principal, counterpart)
        joint = [f32(a + b) for a, b in zip(salience[principal], salience[counterpart])]  # the core adds in float32
        k = joint.index(max(joint))  # the first issue they care most about together
        before = [position[i][k] for i in pair]
        speed = params.proxy_speed if channel == PROXY else params.envoy_speed
        after = bargain(before, [power[principal] * credibility, power[counterpart]], [salience[i][k] for i in pair],
                        [speed * flexibility(approval[i], params) for i in pair], ENVOY_ROUNDS)
        for i, x0, x1 in zip(pair, before, after):
            moves[i, k].append(x1 - x0)
        talks.append((principal, counterpart, k, channel, tuple(before)))
    moved = apply_moves(position, moves)
    deals = [candidate(moved, params, kinds, a, b, k, channel, before) for a, b, k, channel, before in talks]
    return moved, [c for c in deals if c is not None]


def negotiation(world: World, params: Params, key=None) -> World:
    """Summits, then envoys; sign what they agree; the signing parties' approval moves with the terms."""
    world = apply_exclusions(world, params)
    position, at_summits = summits(world, params)
    position, via_envoys = envoy_talks(world, params, position)
    s = world.states
    world = replace(world, states=replace(s, position=floats(position)))
    deals = at_summits + via_envoys
    world, signed = sign(world, deals)
    salience, approval = s.salience.tolist(), s.approval.tolist()
    for deal, ok in zip(deals, signed):
        if ok:
            for party, before in zip((deal.party_a, deal.party_b), deal.before):
                approval[party] += params.approval_deal * salience[party][deal.issue] * (1.0 - 2.0 * abs(before - deal.terms))
    return replace(world, states=replace(world.states, approval=floats([clip(x) for x in approval])))
