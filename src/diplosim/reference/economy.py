"""Economy, per state: gdp growth from trade and oil, losses from conflict; power follows gdp (reference of ``mechanisms.economy``).

Annual growth of state i (money in USD bn/yr, oil in mb/d):
  g_i = clip(g0 + g_T min(T_i / T0_i - 1, 1) - c_C (C_i - C0_i) + O_i / Y_i, GROWTH_FLOOR, GROWTH_CEILING)
  O_i = 0.365 [ (P - P0)(sold_i - bought_i) - P (share_i - sold_i)^+ - P (D_i - bought_i)^+
               - c_q P sum_{e = k->i} F_e X_k ]
with T_i = exports + imports of i (the trade term is 0 when T0_i = 0), C_i its
highest conflict, share_i = S_i min(1, sum D / (sum S + 1e-9)), X_k seller k's
exposure to secondary sanctions, and then
  Y_i <- max(Y_i (1 + g_i / 52), GDP_FLOOR)
  power_i <- max(power_i + lambda (m_i Y_i - power_i) - c_P C_i power_i, 0)
"""

from __future__ import annotations

from diplosim.mechanisms.economy import BBL_PER_DAY_TO_BN_PER_YEAR, GDP_FLOOR, GROWTH_CEILING, GROWTH_FLOOR
from diplosim.params import Params
from diplosim.reference.common import clip, floats, highest_conflict
from diplosim.reference.trade import secondary_exposure
from diplosim.world import DT, World, replace


def oil_income(world: World, params: Params) -> list:
    """O_i: change of each state's income from oil against a frictionless market, USD bn/yr."""
    s, d = world.states, world.dyads
    src, dst, flow = d.src.tolist(), d.dst.tolist(), d.energy_flow.tolist()
    supply, demand = s.energy_supply.tolist(), s.energy_demand.tolist()
    sold, bought = s.energy_sold.tolist(), s.energy_bought.tolist()
    price, base = float(world.energy_price), params.energy_price_base
    market = min(1.0, sum(demand) / (sum(supply) + 1e-9))
    exposure = secondary_exposure(world)
    penalty_volume = [0.0] * world.n_states  # oil each buyer takes from sellers under secondary sanctions
    for e in world.energy_dyads.tolist():
        penalty_volume[dst[e]] += flow[e] * exposure[src[e]]
    return [
        BBL_PER_DAY_TO_BN_PER_YEAR * (
            (price - base) * (sold[i] - bought[i])
            - price * max(supply[i] * market - sold[i], 0.0)
            - price * max(demand[i] - bought[i], 0.0)
            - params.secondary_cost * price * penalty_volume[i]
        )
        for i in range(world.n_states)
    ]


def growth_rates(world: World, params: Params) -> list:
    """g_i: annual gdp growth of each state, 1/yr."""
    s, d = world.states, world.dyads
    n = world.n_states
    traded = [0.0] * n  # exports + imports
    for t, i, j in zip(d.trade.tolist(), d.src.tolist(), d.dst.tolist()):
        traded[i] += t
        traded[j] += t
    conflict = highest_conflict(d.conflict.tolist(), d.dst.tolist(), n)
    income = oil_income(world, params)
    baseline, gdp, conflict_start = s.trade_baseline.tolist(), s.gdp.tolist(), s.conflict_baseline.tolist()
    growth = []
    for i in range(n):
        trade_gain = traded[i] / max(baseline[i], 1e-9) - 1.0 if baseline[i] > 0 else 0.0
        g = (
            params.growth_base
            + params.growth_trade * min(trade_gain, 1.0)
            - params.conflict_gdp_cost * (conflict[i] - conflict_start[i])
            + income[i] / gdp[i]
        )
        growth.append(clip(g, GROWTH_FLOOR, GROWTH_CEILING))
    return growth


def economy(world: World, params: Params, key=None) -> World:
    """Each state grows its gdp, moves its power toward defence spending, and loses power to conflict."""
    s = world.states
    growth = growth_rates(world, params)
    conflict = highest_conflict(world.dyads.conflict.tolist(), world.dyads.dst.tolist(), world.n_states)
    gdp, power = [], []
    for i, (y, p, share) in enumerate(zip(s.gdp.tolist(), s.power.tolist(), s.military_share.tolist())):
        y = max(y * (1.0 + DT * growth[i]), GDP_FLOOR)
        gdp.append(y)
        power.append(max(p + params.power_relax * (share * y - p) - params.conflict_power_cost * conflict[i] * p, 0.0))
    return replace(world, states=replace(s, gdp=floats(gdp), growth=floats(growth), power=floats(power)))
