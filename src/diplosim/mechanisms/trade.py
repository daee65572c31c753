"""Trade and energy: frictional gravity flows, oil allocated to buyers, a price from scarcity.

Reads dyads' ``trade_potential``, ``sanction``, ``secondary_sanction``,
``conflict``, ``channel``; states' ``energy_supply``, ``energy_demand``;
writes dyads' ``trade``, ``energy_flow``; states' ``energy_bought``,
``energy_sold``; ``energy_price``.

For the dyad e = i->j (exports of i to j), with r(e) its reverse:
  friction_e = (1 - sigma max(s_e, s_r(e))) (1 - kappa c_e) (phi + (1 - phi) ch_e)
  T_e       <- T_e + rho (T*_e friction_e - T_e)
Oil: seller i's exposure to secondary sanctions X_i = min(1, sum_{a->i} q_ai).
Oil flows only on the routes from a state with supply to one with demand
(``energy_dyads``).  The market clears in R rounds (R = MARKET_ROUNDS); in each round buyer j
spreads its unmet demand U_j over sellers with capacity left C_i,
  w_e = C_i friction_e (1 - psi X_i),   desired_e = U_j w_e / sum_{e' -> j} w_e'
and each seller fills its orders up to its capacity left:
  F_e += desired_e min(1, C_i / sum_{e' from i} desired_e')
(round 1 has U = D and C = S; U_j = D_j - sum_{e -> j} F_e and C_i = S_i - sum_{e from i} F_e,
both kept as running sums).  World price from scarcity (eps: price
elasticity of demand), the shortfall capped at 2 and the price at
PRICE_CAP x P0:
  P = P0 min((sum_j D_j / sum_e F_e)^(1 / eps), PRICE_CAP)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diplosim.params import Params
from diplosim.world import World, materialise, mutual_sanction, replace, segment_sum_dst, take, unrolled

_TINY = 1e-9


def friction(world: World, params: Params) -> jax.Array:
    """Share of trade potential that gets through each dyad: f32[E] in [0, 1]."""
    d = world.dyads
    sanction = mutual_sanction(d)
    return (
        (1.0 - params.sanction_trade_damping * sanction)
        * (1.0 - params.conflict_trade_damping * d.conflict)
        * (params.closed_channel_trade + (1.0 - params.closed_channel_trade) * d.channel)
    )


def secondary_exposure(world: World) -> jax.Array:
    """How far buyers of each state's oil risk secondary sanctions: f32[N] in [0, 1]."""
    return segment_sum_dst(world.dyads.secondary_sanction, world.dyads, world.n_states).clip(0.0, 1.0)


MARKET_ROUNDS = 4
PRICE_CAP = 20.0  # the oil price never exceeds PRICE_CAP x energy_price_base


def energy_routes(world: World) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The dyads oil can flow on (``world.energy_dyads``) and their sellers and buyers: i32[F] each.

    Supply and demand never change in a run, so the market works on this
    fixed subset (about a tenth of the dyads in a synthetic world).
    """
    route = world.energy_dyads
    return route, take(world.dyads.src, route), take(world.dyads.dst, route)


def sum_by_buyer(values: jax.Array, buyer: jax.Array, n: int) -> jax.Array:
    """Sum of a per-route value over each buyer's routes: f32[N].  The routes are sorted by buyer (unsaid
    to XLA: see ``segment_sum_dst``), and a buyer has few of them."""
    return jax.ops.segment_sum(values, buyer, n)


def sum_by_seller(values: jax.Array, seller: jax.Array, n: int) -> jax.Array:
    """Sum of a per-route value over each seller's routes: f32[N].  The sellers are in no order, and a
    few hubs sell on many routes (in a synthetic world of 10^5 states, one on 11,826 of 175,421)."""
    return jax.ops.segment_sum(values, seller, n)


def allocate_energy(world: World, params: Params, friction_e: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Oil shipped on each energy route after MARKET_ROUNDS rounds of clearing (f32[F] >= 0, mb/d),
    and each state's purchases and sales of it (f32[N] each).

    Purchases and sales are running sums from round to round: a seller's sales grow by its fill
    times its orders (both of which the round computes anyway), a buyer's purchases by a sum of
    this round's shipments.  Three sums over the routes a round, where summing the flows afresh
    took four, and none after the last round.
    """
    s, n = world.states, world.n_states
    route, seller, buyer = energy_routes(world)
    openness = take(friction_e, route) * (1.0 - params.secondary_diversion * take(secondary_exposure(world), seller))
    by_buyer = lambda x: sum_by_buyer(x, buyer, n)  # noqa: E731
    by_seller = lambda x: sum_by_seller(x, seller, n)  # noqa: E731

    def clear(_, market):
        flow, bought, sold = market
        unmet = jnp.maximum(s.energy_demand - bought, 0.0)
        capacity = jnp.maximum(s.energy_supply - sold, 0.0)
        weight = take(capacity, seller) * openness
        desired = materialise(take(unmet, buyer) * weight / (take(by_buyer(weight), buyer) + _TINY))
        ordered = by_seller(desired)
        fill = jnp.minimum(1.0, capacity / (ordered + _TINY))
        shipped = desired * take(fill, seller)
        return flow + shipped, bought + by_buyer(shipped), sold + fill * ordered

    # unrolled on a GPU: a loop copies its carry every round, and its rounds' kernels cannot be fused across
    none = jnp.zeros(n, friction_e.dtype)
    start = (jnp.zeros(route.shape, friction_e.dtype), none, none)
    return jax.lax.fori_loop(0, MARKET_ROUNDS, clear, start, unroll=unrolled())


def energy_price(world: World, params: Params, flow: jax.Array) -> jax.Array:
    """World oil price from the shortfall of deliveries against demand: f32[], USD/bbl."""
    demand = world.states.energy_demand.sum()
    delivered = flow.sum()
    shortfall = jnp.clip(demand / (delivered + _TINY), 1.0, 2.0)
    shortfall = jnp.where(demand > 0, shortfall, 1.0)
    # in logs, so that a tiny elasticity cannot overflow f32 before the cap applies
    rise = jnp.minimum(jnp.log(shortfall) / params.energy_price_elasticity, jnp.log(PRICE_CAP))
    return params.energy_price_base * jnp.exp(rise)


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
    shipped, bought, sold = allocate_energy(world, params, friction_e)
    flow = jnp.zeros_like(d.energy_flow).at[world.energy_dyads].set(shipped, unique_indices=True)
    states = replace(s, energy_bought=bought, energy_sold=sold)
    return replace(
        world,
        dyads=replace(d, trade=trade, energy_flow=flow),
        states=states,
        energy_price=energy_price(world, params, flow),
    )
