"""Economy: gdp growth from trade and oil, losses from conflict and secondary sanctions; power follows gdp.

Reads states' ``gdp``, ``power``, ``military_share``, ``trade_baseline``,
``energy_*``; dyads' ``trade``, ``energy_flow``, ``conflict``,
``secondary_sanction``; ``energy_price``.  Writes states' ``gdp``,
``growth``, ``power``.

Annual growth of state i (all money in USD bn/yr, oil in mb/d, 0.365 turns
mb/d x USD/bbl into USD bn/yr):
  g_i = clip(g0 + g_T min(T_i / T0_i - 1, 1) - c_C (C_i - C0_i) + O_i / Y_i, -26, 2)
  O_i = 0.365 [ (P - P0)(sold_i - bought_i)              price gain or loss
               - P (share_i - sold_i)^+                    unsold exports
               - P (D_i - bought_i)^+                      unmet demand
               - c_q P sum_{e = k->i} F_e X_k ]            secondary-sanction penalties
with T_i the trade of i (exports + imports), T0_i = trade_baseline (its trade
at step 0), C_i its highest conflict
intensity (C0_i at step 0: the observed gdp already carries it, so a
ceasefire pays a peace dividend); trade gains count up to a doubling, and
growth is held in [-26, 2] per year (GROWTH_FLOOR, GROWTH_CEILING), so that a
state cut off from oil or booming trade cannot overflow; share_i = S_i min(1, sum D / sum S) its share of world demand.
  Y_i <- max(Y_i (1 + g_i / 52), 0.001)    (at most halved in one step; never below USD 1 million)
  power_i <- max(power_i + lambda (m_i Y_i - power_i) - c_P C_i power_i, 0)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diplosim.mechanisms.trade import energy_routes, secondary_exposure
from diplosim.params import Params
from diplosim.world import (
    DT,
    WEEKS_PER_YEAR,
    World,
    bloc_conflict_state_max,
    replace,
    segment_sum_dst,
    segment_sum_src,
    take,
)

BBL_PER_DAY_TO_BN_PER_YEAR = 0.365  # 1 mb/d at 1 USD/bbl = 0.365 USD bn/yr


def oil_income(world: World, params: Params) -> jax.Array:
    """Change of each state's income from oil against a frictionless market: f32[N], USD bn/yr."""
    s, d = world.states, world.dyads
    n, price = world.n_states, world.energy_price
    market = jnp.minimum(1.0, s.energy_demand.sum() / (s.energy_supply.sum() + 1e-9))
    fair_share = s.energy_supply * market
    route, seller, buyer = energy_routes(world)
    penalised = take(d.energy_flow, route) * take(secondary_exposure(world), seller)
    penalty_volume = jax.ops.segment_sum(penalised, buyer, n)
    income = (
        (price - params.energy_price_base) * (s.energy_sold - s.energy_bought)
        - price * jnp.maximum(fair_share - s.energy_sold, 0.0)
        - price * jnp.maximum(s.energy_demand - s.energy_bought, 0.0)
        - params.secondary_cost * price * penalty_volume
    )
    return BBL_PER_DAY_TO_BN_PER_YEAR * income


GROWTH_FLOOR = -0.5 * WEEKS_PER_YEAR  # 1/yr: gdp at most halves in one step
GROWTH_CEILING = 2.0  # 1/yr
GDP_FLOOR = 1e-3  # USD bn/yr: an economy never vanishes (so growth = income / gdp stays finite)


def growth_rate(world: World, params: Params) -> jax.Array:
    """Annual gdp growth of each state, held in [GROWTH_FLOOR, GROWTH_CEILING]: f32[N], 1/yr."""
    s, d = world.states, world.dyads
    n = world.n_states
    trade = segment_sum_dst(d.trade, d, n) + segment_sum_src(d.trade, d, n)
    trade_gain = jnp.where(s.trade_baseline > 0, trade / jnp.maximum(s.trade_baseline, 1e-9) - 1.0, 0.0)
    growth = (
        params.growth_base
        + params.growth_trade * jnp.minimum(trade_gain, 1.0)
        - params.conflict_gdp_cost * (bloc_conflict_state_max(world) - s.conflict_baseline)
        + oil_income(world, params) / s.gdp
    )
    return jnp.clip(growth, GROWTH_FLOOR, GROWTH_CEILING)


def economy(world: World, params: Params, key: jax.Array) -> World:
    """Grow gdp; move power toward defence spending; conflict erodes power."""
    del key  # deterministic
    s = world.states
    growth = growth_rate(world, params)
    gdp = jnp.maximum(s.gdp * (1.0 + DT * growth), GDP_FLOOR)
    conflict = bloc_conflict_state_max(world)  # shared with tension's scatter (world.conflict_by_bloc)
    power = s.power + params.power_relax * (s.military_share * gdp - s.power) - params.conflict_power_cost * conflict * s.power
    return replace(world, states=replace(s, gdp=gdp, growth=growth, power=jnp.maximum(power, 0.0)))
