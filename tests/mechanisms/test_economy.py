import jax
import numpy as np
import pytest

from diplosim.mechanisms.economy import economy, growth_rate
from diplosim.mechanisms.trade import trade_and_energy
from diplosim.params import params_from
from diplosim.world import DT, replace
from worlds import TINY_INDEX

KEY = jax.random.key(0)


def _settled(world, params):
    """The tiny world after the trade step: oil delivered at fair shares, trade at its baseline."""
    return trade_and_energy(world, params, KEY)


def test_trend_growth_when_nothing_is_disturbed(world):
    params = params_from({"growth_base": 0.02})
    w = _settled(world, params)
    np.testing.assert_allclose(growth_rate(w, params), [0.02, 0.02, 0.02], atol=1e-6)
    after = economy(w, params, KEY)
    np.testing.assert_allclose(after.states.gdp, np.array([1000.0, 500.0, 800.0]) * (1 + DT * 0.02), rtol=1e-6)


def test_conflict_and_lost_trade_cost_growth(world):
    params = params_from({"growth_base": 0.02, "growth_trade": 0.3, "conflict_gdp_cost": 0.15})
    w = _settled(world, params)
    a_c, c_a = TINY_INDEX[(0, 2)], TINY_INDEX[(2, 0)]
    dyads = replace(
        w.dyads,
        trade=w.dyads.trade.at[a_c].set(6.0).at[c_a].set(6.0),  # A and C each lose 8 of 40
        conflict=w.dyads.conflict.at[a_c].set(0.5).at[c_a].set(0.5),
    )
    g = np.asarray(growth_rate(w.replace(dyads=dyads), params))
    assert g[0] == pytest.approx(0.02 + 0.3 * (32 / 40 - 1) - 0.15 * 0.5, abs=1e-6)
    assert g[1] == pytest.approx(0.02, abs=1e-6)


def test_high_oil_price_helps_exporter_and_hurts_importers(world):
    params = params_from({"energy_price_base": 70.0})
    w = _settled(world, params).replace(energy_price=np.float32(100.0))
    g = np.asarray(growth_rate(w, params))
    # C sells 2 mb/d at 30 USD/bbl above base: +0.365 * 30 * 2 = 21.9 USD bn/yr on gdp 800
    assert g[2] - params.growth_base == pytest.approx(0.365 * 30 * 2 / 800, rel=1e-4)
    assert g[0] - params.growth_base == pytest.approx(-0.365 * 30 * 1 / 1000, rel=1e-4)


def test_power_follows_defence_spending_and_conflict_erodes_it(world):
    params = params_from({"power_relax": 0.1, "conflict_power_cost": 0.01, "growth_base": 0.0})
    w = _settled(world, params)
    after = economy(w, params, KEY)
    gdp = np.asarray(after.states.gdp)
    expected = np.array([100.0, 50.0, 80.0]) + 0.1 * (0.1 * gdp - np.array([100.0, 50.0, 80.0]))
    np.testing.assert_allclose(after.states.power, expected, rtol=1e-5)
