"""Bugs the random-world properties found, each as its minimal example.

A bug not yet fixed is marked ``xfail(strict=True, reason=...)``; when the
fix lands the test passes, strict xfail turns that into a failure, and the
mark (and any entry in ``random_worlds.KNOWN_BUG_RANGES`` keeping the
properties away from the bug) goes: the test stays as a regression test.
"""

from __future__ import annotations

import jax
import numpy as np

from diplosim.mechanisms.economy import economy
from diplosim.mechanisms.trade import trade_and_energy
from diplosim.params import params_from
from diplosim.world import replace
from worlds import tiny_world

KEY = jax.random.key(0)


def _trade_and_economy(params):
    return jax.jit(lambda world: economy(trade_and_energy(world, params, KEY), params, KEY))


# found with the inf price it gave below elasticity ~0.008; fixed (price computed in logs, capped)
def test_oil_price_stays_finite_at_the_lowest_declared_elasticity():
    world = tiny_world()
    s = world.states
    world = world.replace(states=replace(s, energy_supply=s.energy_supply.at[2].set(1.5)))  # demand 2, supply 1.5
    params = params_from({"energy_price_elasticity": 1e-3})
    new = jax.jit(trade_and_energy)(world, params, KEY)
    assert np.isfinite(float(new.energy_price)), f"energy_price = {float(new.energy_price)}"


# found: an importer cut off from oil lost a fixed 0.365 P (D - bought) USD bn/yr however small its gdp,
# so growth = loss / gdp diverged as gdp halved each step, gdp underflowed to 0 and growth became -inf
# (default parameters, step 189 here); fixed (growth held in [GROWTH_FLOOR, GROWTH_CEILING], gdp floored)
def test_oil_starved_economy_stays_finite():
    world = tiny_world()
    s = world.states
    world = world.replace(states=replace(s, energy_supply=s.energy_supply.at[2].set(0.0)))  # the only seller stops
    run = _trade_and_economy(params_from())
    for step in range(1, 201):
        world = run(world)
        growth = np.asarray(world.states.growth)
        assert np.isfinite(growth).all(), f"step {step}: growth {growth}, gdp {np.asarray(world.states.gdp)}"


# found: growth_trade x trade gain compounded every step, so trade at 20x its step-0 level (reachable when
# step-0 sanctions, conflict and closed channels lift after calibrate_trade) overflowed gdp and power to inf
# (step 111 at growth_trade = 3, declared range [0, inf)); fixed (trade gains count up to a doubling)
def test_booming_trade_keeps_gdp_finite():
    world = tiny_world()
    d = world.dyads
    world = world.replace(dyads=replace(d, trade=20 * d.trade, trade_potential=20 * d.trade_potential))
    run = _trade_and_economy(params_from({"growth_trade": 3.0}))
    for step in range(1, 201):
        world = run(world)
        gdp = np.asarray(world.states.gdp)
        assert np.isfinite(gdp).all(), f"step {step}: gdp {gdp}"
