import jax
import numpy as np
import pytest

from diplosim.mechanisms.trade import friction, trade_and_energy
from diplosim.params import params_from
from diplosim.world import replace, with_energy_dyads
from worlds import TINY_INDEX

KEY = jax.random.key(0)
A_C, C_A, B_C, C_B = TINY_INDEX[(0, 2)], TINY_INDEX[(2, 0)], TINY_INDEX[(1, 2)], TINY_INDEX[(2, 1)]
B_A = TINY_INDEX[(1, 0)]


def _sanctioned(world, level=0.8):
    return world.replace(dyads=replace(world.dyads, sanction=world.dyads.sanction.at[A_C].set(level)))


def test_friction_by_hand(world):
    params = params_from({"sanction_trade_damping": 0.8, "conflict_trade_damping": 0.9, "closed_channel_trade": 0.6})
    w = _sanctioned(world)
    w = w.replace(dyads=replace(w.dyads, conflict=w.dyads.conflict.at[B_C].set(0.5), channel=w.dyads.channel.at[B_C].set(0.0)))
    f = np.asarray(friction(w, params))
    assert f[A_C] == pytest.approx(1 - 0.8 * 0.8)
    assert f[C_A] == pytest.approx(1 - 0.8 * 0.8)  # a sanction cuts trade both ways
    assert f[B_C] == pytest.approx((1 - 0.9 * 0.5) * 0.6)
    assert f[B_A] == pytest.approx(1.0)


def test_trade_relaxes_toward_frictional_target(world):
    params = params_from({"trade_relax": 0.2})
    after = trade_and_energy(_sanctioned(world), params, KEY)
    assert after.dyads.trade[A_C] == pytest.approx(10 + 0.2 * (10 * 0.36 - 10))
    assert after.dyads.trade[B_A] == pytest.approx(10.0)


def test_oil_goes_to_buyers_at_base_price_when_supply_suffices(world):
    after = trade_and_energy(world, params_from(), KEY)
    flow = np.asarray(after.dyads.energy_flow)
    assert flow[C_A] == pytest.approx(1.0) and flow[C_B] == pytest.approx(1.0)
    assert flow.sum() == pytest.approx(2.0)
    np.testing.assert_allclose(after.states.energy_bought, [1.0, 1.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(after.states.energy_sold, [0.0, 0.0, 2.0], rtol=1e-6)
    assert float(after.energy_price) == pytest.approx(68.0)  # the base price


def test_secondary_sanctions_divert_buyers_and_scarcity_raises_price(world):
    # B becomes a second seller with 1.0 mb/d; A threatens buyers of C's oil (A->C secondary sanction)
    states = replace(world.states, energy_supply=world.states.energy_supply.at[1].set(1.0))
    dyads = replace(world.dyads, secondary_sanction=world.dyads.secondary_sanction.at[A_C].set(1.0))
    params = params_from({"secondary_diversion": 0.7, "energy_price_base": 70.0, "energy_price_elasticity": 0.5})
    after = trade_and_energy(with_energy_dyads(world.replace(states=states, dyads=dyads)), params, KEY)
    flow = np.asarray(after.dyads.energy_flow)
    # A buys from B (weight 1.0) and C (weight 2.1 * 0.3 = 0.63)
    assert flow[B_A] == pytest.approx(1.0 / 1.63, rel=1e-5)
    assert flow[C_A] == pytest.approx(0.63 / 1.63, rel=1e-5)
    # B buys only from C (it cannot buy from itself): no diversion possible, full delivery
    assert flow[C_B] == pytest.approx(1.0, rel=1e-5)
    assert float(after.energy_price) == pytest.approx(70.0)
    # now C has no capacity left for A: deliveries fall short and the price rises
    states = replace(states, energy_supply=states.energy_supply.at[2].set(1.0).at[1].set(0.5))
    short = trade_and_energy(with_energy_dyads(world.replace(states=states, dyads=dyads)), params, KEY)
    delivered = float(short.dyads.energy_flow.sum())
    assert delivered < 2.0
    assert float(short.energy_price) == pytest.approx(70.0 * (2.0 / delivered) ** 2, rel=1e-4)


def test_flows_never_negative_and_jit_matches(world):
    params = params_from()
    eager = trade_and_energy(_sanctioned(world), params, KEY)
    jitted = jax.jit(trade_and_energy)(_sanctioned(world), params, KEY)
    assert (np.asarray(eager.dyads.trade) >= 0).all() and (np.asarray(eager.dyads.energy_flow) >= 0).all()
    for x, y in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6)


def test_calibrated_potential_reproduces_observed_trade(world):
    from diplosim.mechanisms.trade import calibrate_trade

    params = params_from()
    w = calibrate_trade(_sanctioned(world), params)
    assert w.dyads.trade_potential[A_C] == pytest.approx(10.0 / 0.36)
    after = trade_and_energy(w, params, KEY)
    np.testing.assert_allclose(after.dyads.trade, w.dyads.trade, rtol=1e-5)  # observed trade is the fixed point


def test_oil_flows_only_on_routes_from_sellers_to_buyers(world):
    np.testing.assert_array_equal(with_energy_dyads(world).energy_dyads, world.energy_dyads)
    after = trade_and_energy(world, params_from(), KEY)
    flow = np.asarray(after.dyads.energy_flow)
    off_route = np.setdiff1d(np.arange(flow.size), np.asarray(world.energy_dyads))
    assert (flow[off_route] == 0).all()


def test_purchases_and_sales_are_the_sums_of_the_flows():
    """The market keeps each state's purchases and sales as running sums over its rounds: after the
    last, they must equal the flows summed by buyer and by seller, in a market where sellers run
    short (fills below 1) and secondary sanctions divert buyers."""
    from diplosim.scenario import synthetic_scenario

    world = synthetic_scenario(3_000).world
    d = world.dyads
    rng = np.random.default_rng(3)
    tight = world.states.energy_supply * 0.7  # total supply below demand: every round leaves orders unfilled
    dyads = replace(d, secondary_sanction=d.secondary_sanction * 0 + (rng.random(d.src.shape[0]) < 0.05).astype(np.float32))
    world = world.replace(states=replace(world.states, energy_supply=tight), dyads=dyads)
    after = jax.jit(trade_and_energy)(world, params_from({"secondary_diversion": 0.5}), KEY)
    flow, src, dst = (np.asarray(x, np.float64) for x in (after.dyads.energy_flow, d.src, d.dst))
    n = world.n_states
    assert flow.sum() > 0 and float(after.states.energy_sold.sum()) < float(world.states.energy_demand.sum())
    np.testing.assert_allclose(after.states.energy_bought, np.bincount(dst.astype(int), flow, n), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(after.states.energy_sold, np.bincount(src.astype(int), flow, n), rtol=1e-5, atol=1e-7)
