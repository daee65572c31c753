"""Trade and energy, per dyad and per state: flows, the oil market, the price (reference of ``mechanisms.trade``).

For the dyad e = i->j with reverse r(e):
  friction_e = (1 - sigma max(s_e, s_r(e))) (1 - kappa c_e) (phi + (1 - phi) ch_e)
  T_e       <- T_e + rho (T*_e friction_e - T_e)
Oil flows on the routes from a state with supply to one with demand
(``world.energy_dyads``).  Seller i's exposure to secondary sanctions
X_i = min(1, sum_{a->i} q_ai); a route's openness o_e = friction_e (1 - psi X_i).
The market clears in MARKET_ROUNDS rounds, starting from no flow; in each round
  buyer j's unmet demand    U_j = max(D_j - sum_{e -> j} F_e, 0)
  seller i's capacity left  C_i = max(S_i - sum_{e from i} F_e, 0)
  desired_e = U_j C_i o_e / (sum_{e' -> j} C_i' o_e' + 1e-9)
  F_e      += desired_e min(1, C_i / (sum_{e' from i} desired_e' + 1e-9))
Price from scarcity (eps the price elasticity of demand):
  P = P0 exp(min(log(clip(sum_j D_j / (sum_e F_e + 1e-9), 1, 2)) / eps, log PRICE_CAP))   (P0 if no demand)
"""

from __future__ import annotations

import math

from diplosim.mechanisms.trade import MARKET_ROUNDS, PRICE_CAP
from diplosim.params import Params
from diplosim.reference.common import clip, floats
from diplosim.world import World, replace

TINY = 1e-9


def friction(sanction: list, conflict: list, channel: list, reverse: list, params: Params) -> list:
    """Share of trade potential that gets through each dyad, in [0, 1]."""
    return [
        (1.0 - params.sanction_trade_damping * max(sanction[e], sanction[r]))
        * (1.0 - params.conflict_trade_damping * conflict[e])
        * (params.closed_channel_trade + (1.0 - params.closed_channel_trade) * channel[e])
        for e, r in enumerate(reverse)
    ]


def secondary_exposure(world: World) -> list:
    """X_i: how far buyers of each state's oil risk secondary sanctions, in [0, 1]."""
    exposure = [0.0] * world.n_states
    for q, i in zip(world.dyads.secondary_sanction.tolist(), world.dyads.dst.tolist()):
        exposure[i] += q  # a -> i: a threatens buyers of i's oil
    return [clip(x) for x in exposure]


def clear_market(world: World, params: Params, friction_e: list) -> dict[int, float]:
    """Oil shipped on each route after MARKET_ROUNDS rounds of clearing, mb/d: {dyad: flow}."""
    s, d = world.states, world.dyads
    src, dst = d.src.tolist(), d.dst.tolist()
    demand, supply = s.energy_demand.tolist(), s.energy_supply.tolist()
    exposure = secondary_exposure(world)
    routes = world.energy_dyads.tolist()
    openness = {e: friction_e[e] * (1.0 - params.secondary_diversion * exposure[src[e]]) for e in routes}
    flow = dict.fromkeys(routes, 0.0)
    for _ in range(MARKET_ROUNDS):
        bought, sold = [0.0] * world.n_states, [0.0] * world.n_states
        for e in routes:
            bought[dst[e]] += flow[e]
            sold[src[e]] += flow[e]
        unmet = [max(demand[j] - bought[j], 0.0) for j in range(world.n_states)]
        capacity = [max(supply[i] - sold[i], 0.0) for i in range(world.n_states)]
        weight = {e: capacity[src[e]] * openness[e] for e in routes}
        offered = [0.0] * world.n_states  # sum of the weights of the routes into each buyer
        for e in routes:
            offered[dst[e]] += weight[e]
        desired = {e: unmet[dst[e]] * weight[e] / (offered[dst[e]] + TINY) for e in routes}
        ordered = [0.0] * world.n_states  # orders each seller receives
        for e in routes:
            ordered[src[e]] += desired[e]
        for e in routes:
            i = src[e]
            flow[e] += desired[e] * min(1.0, capacity[i] / (ordered[i] + TINY))
    return flow


def energy_price(world: World, params: Params, flow: dict[int, float]) -> float:
    """World oil price from the shortfall of deliveries against demand, USD/bbl."""
    demand = sum(world.states.energy_demand.tolist())
    if not demand > 0:
        return params.energy_price_base
    shortfall = clip(demand / (sum(flow.values()) + TINY), 1.0, 2.0)
    return params.energy_price_base * math.exp(min(math.log(shortfall) / params.energy_price_elasticity, math.log(PRICE_CAP)))


def trade_and_energy(world: World, params: Params, key=None) -> World:
    """Relax each dyad's trade toward its frictional target; clear the oil market; set the price."""
    d, s = world.dyads, world.states
    src, dst, reverse = d.src.tolist(), d.dst.tolist(), d.reverse.tolist()
    friction_e = friction(d.sanction.tolist(), d.conflict.tolist(), d.channel.tolist(), reverse, params)
    trade = [t + params.trade_relax * (potential * f - t)
             for t, potential, f in zip(d.trade.tolist(), d.trade_potential.tolist(), friction_e)]
    flow = clear_market(world, params, friction_e)
    energy_flow = [0.0] * len(src)
    bought, sold = [0.0] * world.n_states, [0.0] * world.n_states
    for e, shipped in flow.items():
        energy_flow[e] = shipped
        bought[dst[e]] += shipped
        sold[src[e]] += shipped
    return replace(
        world,
        dyads=replace(d, trade=floats(trade), energy_flow=floats(energy_flow)),
        states=replace(s, energy_bought=floats(bought), energy_sold=floats(sold)),
        energy_price=floats(energy_price(world, params, flow)),
    )
