"""Trade and energy: frictional gravity flows, oil allocated to buyers, a price from scarcity.

Reads dyads' ``trade_potential``, ``sanction``, ``secondary_sanction``,
``conflict``, ``channel``; states' ``energy_supply``, ``energy_demand``;
writes dyads' ``trade``, ``energy_flow``; states' ``energy_bought``,
``energy_sold``; ``energy_price``.

For the dyad e = i->j (exports of i to j), with r(e) its reverse:
  friction_e = (1 - sigma max(s_e, s_r(e))) (1 - kappa c_e) (phi + (1 - phi) ch_e)
  T_e       <- T_e + rho (T*_e friction_e - T_e)
Oil: seller i's exposure to secondary sanctions X_i = min(1, sum_{a->i} q_ai).
The market clears in R rounds (R = MARKET_ROUNDS); in each round buyer j
spreads its unmet demand U_j over sellers with capacity left C_i,
  w_e = C_i friction_e (1 - psi X_i),   desired_e = U_j w_e / sum_{e' -> j} w_e'
and each seller fills its orders up to its capacity left:
  F_e += desired_e min(1, C_i / sum_{e' from i} desired_e')
(round 1 has U = D and C = S).  World price from scarcity (eps: price
elasticity of demand), the shortfall capped at 2:
  P = P0 (sum_j D_j / sum_e F_e)^(1 / eps)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diplosim.params import Params
from diplosim.world import World, replace, reverse_of, segment_sum_dst, segment_sum_src

_TINY = 1e-9


def friction(world: World, params: Params) -> jax.Array:
    """Share of trade potential that gets through each dyad: f32[E] in [0, 1]."""
    d = world.dyads
    sanction = jnp.maximum(d.sanction, reverse_of(d.sanction, d))
    return (
        (1.0 - params.sanction_trade_damping * sanction)
        * (1.0 - params.conflict_trade_damping * d.conflict)
        * (params.closed_channel_trade + (1.0 - params.closed_channel_trade) * d.channel)
    )


def secondary_exposure(world: World) -> jax.Array:
    """How far buyers of each state's oil risk secondary sanctions: f32[N] in [0, 1]."""
    return segment_sum_dst(world.dyads.secondary_sanction, world.dyads, world.n_states).clip(0.0, 1.0)


MARKET_ROUNDS = 4


def allocate_energy(world: World, params: Params, friction_e: jax.Array) -> jax.Array:
    """Oil shipped on each dyad after MARKET_ROUNDS rounds of clearing: f32[E] >= 0, mb/d."""
    d, s = world.dyads, world.states
    n = world.n_states
    openness = friction_e * (1.0 - params.secondary_diversion * secondary_exposure(world)[d.src])

    def clear(_, flow):
        unmet = jnp.maximum(s.energy_demand - segment_sum_dst(flow, d, n), 0.0)
        capacity = jnp.maximum(s.energy_supply - segment_sum_src(flow, d, n), 0.0)
        weight = capacity[d.src] * openness
        desired = unmet[d.dst] * weight / (segment_sum_dst(weight, d, n)[d.dst] + _TINY)
        fill = jnp.minimum(1.0, capacity / (segment_sum_src(desired, d, n) + _TINY))
        return flow + desired * fill[d.src]

    return jax.lax.fori_loop(0, MARKET_ROUNDS, clear, jnp.zeros_like(friction_e))


def energy_price(world: World, params: Params, flow: jax.Array) -> jax.Array:
    """World oil price from the shortfall of deliveries against demand: f32[], USD/bbl."""
    demand = world.states.energy_demand.sum()
    delivered = flow.sum()
    shortfall = jnp.clip(demand / (delivered + _TINY), 1.0, 2.0)
    shortfall = jnp.where(demand > 0, shortfall, 1.0)
    return params.energy_price_base * shortfall ** (1.0 / params.energy_price_elasticity)


def calibrate_trade(world: World, params: Params) -> World:
    """Read the scenario's trade as observed flows: set T*_e = T_e / friction_e.

    Scenario files give trade as observed (already damped by the sanctions,
    conflicts and closed channels of step 0); the frictionless potential that
    the dynamics relax toward is what lies behind it.  Called once, before a
    run, with the run's parameters.
    """
    friction_e = friction(world, params)
    potential = world.dyads.trade / jnp.maximum(friction_e, 1e-3)
    return replace(world, dyads=replace(world.dyads, trade_potential=potential))


def trade_and_energy(world: World, params: Params, key: jax.Array) -> World:
    """Relax trade toward its frictional target; allocate oil; set the oil price."""
    del key  # deterministic
    d, s = world.dyads, world.states
    friction_e = friction(world, params)
    trade = d.trade + params.trade_relax * (d.trade_potential * friction_e - d.trade)
    flow = allocate_energy(world, params, friction_e)
    states = replace(
        s,
        energy_bought=segment_sum_dst(flow, d, world.n_states),
        energy_sold=segment_sum_src(flow, d, world.n_states),
    )
    return replace(
        world,
        dyads=replace(d, trade=trade, energy_flow=flow),
        states=states,
        energy_price=energy_price(world, params, flow),
    )
