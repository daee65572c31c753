"""Negotiation: summits and envoys run bargaining rounds; close positions become agreements.

Reads states' ``position``, ``salience``, ``power``, ``approval``; envoys;
the schedule; ``issue_agreement``.  Writes states' ``position`` and
``approval``, agreements (signing), and for excluded stakeholders dyads'
``alliance`` and ``trust_beta`` (``events.apply_exclusions``).

Bargaining is ``diplosim.bargaining.bargain_round`` (an expected-utility
model after Bueno de Mesquita, see docs/bargaining.md), run for a few rounds
per step on one issue k, with capability = power, and each actor's moves
scaled by its speed
  speed_i = channel speed x flexibility_i,  flexibility_i = f0 + (1 - f0) A_i
(channel speed: summit_speed, envoy_speed for an official envoy, proxy_speed
for a proxy envoy: informal channels move faster; f0 = flexibility_floor:
leaders with low approval at home concede less).
- A summit firing this step: its participants bargain SUMMIT_ROUNDS rounds on
  the summit's issue; stakeholders it excludes lose alliance weight and trust
  toward the participants (see events.apply_exclusions).
- An active envoy of principal p to counterpart c: the two bargain
  ENVOY_ROUNDS rounds on the issue they care most about together
  (argmax_k s_pk + s_ck); p's capability is discounted by the envoy's credibility.
A state in several talks on one issue in one step moves by the mean of its moves.
After bargaining, the principals (a summit's actor and target, an envoy's
principal and counterpart) sign an agreement of kind issue_agreement[k] when
|x_a - x_b| < agreement_gap, with terms (x_a + x_b) / 2, through the channel
used (verification_official or verification_proxy).  Each party's approval
moves by approval_deal s_pk (1 - 2 |x_p - terms|), x_p its position before
the talks: a deal near home is a gain, a deal far from it a concession.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diplosim.bargaining import bargain_round
from diplosim.mechanisms.agreements import Candidates, concat, sign
from diplosim.mechanisms.events import ROLE, apply_exclusions, fires
from diplosim.params import Params
from diplosim.world import CHANNELS, World, replace, unrolled

SUMMIT_ROUNDS = 3
ENVOY_ROUNDS = 1
PROXY = CHANNELS.index("proxy")


def flexibility(world: World, params: Params) -> jax.Array:
    """How far each leader is free to move: f32[N] in [flexibility_floor, 1]."""
    return params.flexibility_floor + (1.0 - params.flexibility_floor) * world.states.approval


def _bargain(position, capability, salience, active, speed, rounds: int):
    """``rounds`` bargaining rounds for a batch of groups: f32[G, n] in, f32[G, n] out.

    Unrolled on a GPU (a few rounds): as a loop, every round is its own kernels plus copies of the carry.
    """
    one_round = jax.vmap(bargain_round)
    return jax.lax.fori_loop(0, rounds, lambda _, x: one_round(x, capability, salience, active, speed), position, unroll=unrolled())


def _apply_moves(position: jax.Array, rows: jax.Array, issues: jax.Array, before: jax.Array, after: jax.Array) -> jax.Array:
    """Write bargained positions back to ``position`` f32[N, K]; rows == N are skipped.

    A state in several talks on the same issue in one step (three envoys on
    one pair, say) moves by the mean of its moves, whatever their order.
    """
    moved = jnp.zeros_like(position).at[rows, issues].add(after - before, mode="drop")
    talks = jnp.zeros_like(position).at[rows, issues].add(1.0, mode="drop")
    return (position + moved / jnp.maximum(talks, 1.0)).clip(0.0, 1.0)


def _candidates(world: World, params: Params, valid, a, b, issue, channel) -> Candidates:
    """Agreements the principals a and b would sign on ``issue``, once talks have moved them."""
    x = world.states.position
    kind = world.issue_agreement[issue]
    close = jnp.abs(x[a, issue] - x[b, issue]) < params.agreement_gap
    terms = 0.5 * (x[a, issue] + x[b, issue])
    verification = jnp.where(channel == PROXY, params.verification_proxy, params.verification_official)
    candidates = Candidates(
        valid=valid & close & (kind >= 0), party_a=a, party_b=b, kind=jnp.maximum(kind, 0), issue=issue,
        terms=terms, verification=verification, channel=channel,
    )
    return candidates


def summits(world: World, params: Params) -> tuple[World, Candidates, jax.Array]:
    """Bargaining at the summits firing this step; returns the world, candidates and pre-talk positions [V, 2]."""
    ev, s = world.events, world.states
    fire = fires(world, "summit")
    n_events = ev.step.shape[0]
    members = ev.member_state  # [P]
    seat = (ev.member_event[None, :] == jnp.arange(n_events)[:, None]) & (ev.member_role == ROLE["participant"])[None, :]
    seat = seat & fire[:, None]  # [V, P]
    issue = ev.issue  # [V]
    position = s.position[members[None, :], issue[:, None]]
    salience = s.salience[members[None, :], issue[:, None]]
    capability = jnp.broadcast_to(s.power[members], seat.shape)
    speed = params.summit_speed * flexibility(world, params)[members]
    n = world.n_states
    rows = jnp.where(seat, members[None, :], n)
    before = s.position[jnp.stack([ev.actor, ev.target], 1), issue[:, None]]

    def talks():
        moved = _bargain(position, capability, salience, seat, jnp.broadcast_to(speed, seat.shape), SUMMIT_ROUNDS)
        return _apply_moves(s.position, rows, jnp.broadcast_to(issue[:, None], seat.shape), position, moved)

    # Bargaining only in a step where a summit fires (positions are unchanged otherwise). In a
    # batch the clock is the same in every run (diplosim.world.SHARED), so this stays a branch
    # under vmap rather than both sides computed: the rounds over every [event, member, member]
    # triple were a third of the batched Alaska step on a GPU (benchmarks/ROOFLINE.md).
    new_position = jax.lax.cond(fire.any(), talks, lambda: s.position)
    world = replace(world, states=replace(s, position=new_position))
    candidates = _candidates(world, params, fire, ev.actor, ev.target, issue, jnp.zeros_like(issue))
    return world, candidates, before


def envoy_talks(world: World, params: Params) -> tuple[World, Candidates, jax.Array]:
    """Bargaining through every active envoy; returns the world, candidates and pre-talk positions [M, 2]."""
    m, s = world.envoys, world.states
    pair = jnp.stack([m.principal, m.counterpart], 1)  # [M, 2]
    issue = jnp.argmax(s.salience[m.principal] + s.salience[m.counterpart], axis=1)  # [M]
    position = s.position[pair, issue[:, None]]
    salience = s.salience[pair, issue[:, None]]
    capability = s.power[pair] * jnp.stack([m.credibility, jnp.ones_like(m.credibility)], 1)
    active = jnp.broadcast_to(m.active[:, None], pair.shape)
    channel_speed = jnp.where(m.channel == PROXY, params.proxy_speed, params.envoy_speed)
    speed = channel_speed[:, None] * flexibility(world, params)[pair]
    moved = _bargain(position, capability, salience, active, speed, ENVOY_ROUNDS)
    rows = jnp.where(active, pair, world.n_states)
    new_position = _apply_moves(s.position, rows, jnp.broadcast_to(issue[:, None], pair.shape), position, moved)
    world = replace(world, states=replace(s, position=new_position))
    candidates = _candidates(world, params, m.active, m.principal, m.counterpart, issue, m.channel)
    return world, candidates, position


def deal_approval(world: World, params: Params, candidates: Candidates, signed: jax.Array, before: jax.Array) -> World:
    """Approval gained or lost by each party from the terms it signed."""
    s = world.states
    parties = jnp.stack([candidates.party_a, candidates.party_b], 1)  # [C, 2]
    salience = s.salience[parties, candidates.issue[:, None]]
    change = params.approval_deal * salience * (1.0 - 2.0 * jnp.abs(before - candidates.terms[:, None]))
    rows = jnp.where(signed[:, None], parties, world.n_states)
    approval = s.approval.at[rows].add(change, mode="drop").clip(0.0, 1.0)
    return replace(world, states=replace(s, approval=approval))


def negotiation(world: World, params: Params, key: jax.Array) -> World:
    """Summits, then envoys; sign what they agree; excluded stakeholders resent their exclusion."""
    del key  # deterministic
    world = apply_exclusions(world, params)
    world, at_summits, before_summits = summits(world, params)
    world, via_envoys, before_envoys = envoy_talks(world, params)
    candidates = concat(at_summits, via_envoys)
    world, signed = sign(world, candidates)
    return deal_approval(world, params, candidates, signed, jnp.concatenate([before_summits, before_envoys]))
