"""Decisions: every state's default rules, as actions on its dyads and envoys.

``default_actions`` computes what each state would do this step;
``apply_actions`` carries the actions out, so a caller may replace some rows
of the actions first (the Mesa layer's ``decide()`` hooks will); batch runs
use the defaults.

Rules, for the dyad e = i->j (t_e tension, w_e alliance, s_e sanction, q_e
secondary sanction, c_e conflict, p power, A approval):
  sanctions      target 1 if t_e > sanction_impose_tension and w_e < sanction_ally_limit,
                 0 if t_e < sanction_lift_tension or a sanctions-relief agreement binds i and j,
                 else hold;  s_e <- s_e + sanction_rate (target - s_e)
  secondary      target 1 if s_e >= 1/2, t_e > secondary_tension, p_i > p_j and j exports oil;
                 0 if t_e < sanction_lift_tension or j is party to a ceasefire in force
                 (lifting wins over imposing); else hold;
                 q_e <- q_e + secondary_rate (target - q_e)
  envoys         active if max(t_e, t_r(e)) > envoy_tension and ch_e > envoy_channel (e: the envoy's dyad)
  ceasefire      i proposes to j if c_e > 0.1 and (A_i < ceasefire_approval or
                 p_i / (p_i + p_j) < ceasefire_power_share); a mutual proposal is signed as a
                 ceasefire (official channel, on the issue whose deals are ceasefires, terms the
                 mean of the two positions); an unreciprocated one sheds goodwill_tension from t_e
  signal         with probability signal_rate (t_e - signal_threshold)^+ i signals j:
                 t_e, t_r(e) += signal_size * signal_tension (once, even if both signal)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from diplosim import draws
from diplosim.mechanisms.agreements import KIND, Candidates, pair_mask, parties_to, sign
from diplosim.params import Params
from diplosim.world import Dyads, World, first_true, replace, reverse_of, take

CONFLICT_LEVEL = 0.1
MAX_CEASEFIRES_PER_STEP = 4  # mutual ceasefire proposals signed per step (static)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Actions:
    """What the states do this step."""

    sanction: Any  # f32[E] target sanction level of i on j
    secondary: Any  # f32[E] target secondary-sanction level of i on buyers of j's oil
    dispatch: Any  # bool[M] envoys sent this step
    propose_ceasefire: Any  # bool[E] i offers j a ceasefire
    signal: Any  # bool[E] i signals j militarily


def _hold(impose: jax.Array, lift: jax.Array, current: jax.Array) -> jax.Array:
    """Target 0 where ``lift`` (it wins), 1 where ``impose``, else the current level."""
    return jnp.where(lift, 0.0, jnp.where(impose, 1.0, current))


def default_actions(world: World, params: Params, key: jax.Array) -> Actions:
    """The default rules of every state (see the module docstring)."""
    d, s, m = world.dyads, world.states, world.envoys
    relief = pair_mask(world, "sanctions_relief")
    calm = d.tension < params.sanction_lift_tension
    sanction = _hold(
        (d.tension > params.sanction_impose_tension) & (d.alliance < params.sanction_ally_limit) & ~relief,
        calm | relief,
        d.sanction,
    )
    exporter = take(s.energy_supply, d.dst) > 0
    power_i, power_j = take(s.power, d.src), take(s.power, d.dst)
    secondary = _hold(
        (d.sanction >= 0.5) & (d.tension > params.secondary_tension) & (power_i > power_j) & exporter,
        calm | take(parties_to(world, "ceasefire"), d.dst),
        d.secondary_sanction,
    )
    envoy_dyad = jnp.minimum(m.dyad, world.n_dyads - 1)
    envoy_tension = jnp.maximum(d.tension[envoy_dyad], d.tension[d.reverse[envoy_dyad]])
    dispatch = (envoy_tension > params.envoy_tension) & (d.channel[envoy_dyad] > params.envoy_channel)
    share = power_i / (power_i + power_j + 1e-9)
    weary = (take(s.approval, d.src) < params.ceasefire_approval) | (share < params.ceasefire_power_share)
    propose = (d.conflict > CONFLICT_LEVEL) & weary
    chance = params.signal_rate * jnp.maximum(d.tension - params.signal_threshold, 0.0)
    signal = draws.uniform(key, d.tension.shape) < chance
    return Actions(sanction=sanction, secondary=secondary, dispatch=dispatch, propose_ceasefire=propose, signal=signal)


def ceasefire_candidates(world: World, params: Params, propose: jax.Array, proposed_back: jax.Array) -> Candidates:
    """Mutual ceasefire proposals, at most MAX_CEASEFIRES_PER_STEP, as agreements to sign.

    ``proposed_back``: ``reverse_of(propose)``, which the caller has already (one gather and one
    copy of the mask fewer: XLA does not merge two ``reverse_of`` of the same mask).
    """
    d = world.dyads
    mutual = propose & proposed_back & (d.src < d.dst)
    at = first_true(mutual, MAX_CEASEFIRES_PER_STEP, world.n_dyads)
    valid = at < world.n_dyads
    e = jnp.minimum(at, world.n_dyads - 1)
    zeros = jnp.zeros(MAX_CEASEFIRES_PER_STEP, jnp.int32)
    # the issue a ceasefire settles (the first one whose deals are ceasefires; issue 0 if none)
    issue = zeros + jnp.argmax(world.issue_agreement == KIND["ceasefire"]).astype(jnp.int32)
    x = world.states.position
    return Candidates(
        valid=valid, party_a=d.src[e], party_b=d.dst[e], kind=zeros + KIND["ceasefire"], issue=issue,
        terms=0.5 * (x[d.src[e], issue] + x[d.dst[e], issue]),
        verification=jnp.full(MAX_CEASEFIRES_PER_STEP, params.verification_official), channel=zeros,
    )


def reversed_masks(first: jax.Array, second: jax.Array, dyads: Dyads) -> tuple[jax.Array, jax.Array]:
    """``reverse_of(first)`` and ``reverse_of(second)`` for two bool masks, in one gather at ``reverse``:
    the two packed as the bits of one uint8 array, gathered, then unpacked (the same masks).  A gather at
    ``reverse`` reads memory at random once the dyads outgrow the cache: at 10^6 states, two such reads of
    a 10 MB mask cost more than one (benchmarks/ROOFLINE.md, change 30)."""
    both = reverse_of(first.astype(jnp.uint8) | (second.astype(jnp.uint8) << 1), dyads)
    return (both & 1).astype(bool), (both & 2).astype(bool)


def apply_actions(world: World, params: Params, actions: Actions) -> World:
    """Carry out the actions: move sanctions, send envoys, sign mutual ceasefires, signal."""
    d = world.dyads
    sanction = d.sanction + params.sanction_rate * (actions.sanction - d.sanction)
    secondary = d.secondary_sanction + params.secondary_rate * (actions.secondary - d.secondary_sanction)
    proposed_back, signalled_back = reversed_masks(actions.propose_ceasefire, actions.signal, d)
    unanswered = actions.propose_ceasefire & ~proposed_back
    push = params.signal_size * params.signal_tension * (actions.signal | signalled_back)
    tension = (d.tension - params.goodwill_tension * unanswered + push).clip(0.0, 1.0)
    world = replace(
        world,
        dyads=replace(d, sanction=sanction.clip(0.0, 1.0), secondary_sanction=secondary.clip(0.0, 1.0), tension=tension),
        envoys=replace(world.envoys, active=actions.dispatch),
    )
    world, _ = sign(world, ceasefire_candidates(world, params, actions.propose_ceasefire, proposed_back))
    return world


def decisions(world: World, params: Params, key: jax.Array, overrides: tuple[Actions, Actions] | None = None) -> World:
    """Every state follows its default rules, except where ``overrides`` = (values, mask) says otherwise."""
    actions = default_actions(world, params, key)
    if overrides is not None:
        values, mask = overrides
        actions = jax.tree.map(lambda default, value, chosen: jnp.where(chosen, value, default), actions, values, mask)
    return apply_actions(world, params, actions)
