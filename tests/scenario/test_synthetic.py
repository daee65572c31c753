"""synthetic_scenario: shapes, determinism, graph structure, ranges and the oil balance."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from diplosim.scenario import Scenario, ScenarioError, synthetic_scenario
from diplosim.scenario.synthetic import ALLIANCE_ACROSS, ALLIANCE_WITHIN, SUPPLY_MARGIN, TRADE_SHARE, WORLD_GDP
from diplosim.world import EVENT_KINDS, Dyads, States, describe


@pytest.fixture(scope="module")
def small() -> Scenario:
    """Exact edge sampling (few possible pairs)."""
    return synthetic_scenario(
        1000, dyads_per_state=10, n_blocs=4, n_issues=5, n_envoys=6, generator_seed=3, agreement_slots=7
    )


@pytest.fixture(scope="module")
def large() -> Scenario:
    """Chung-Lu sampling with top-up (many possible pairs)."""
    return synthetic_scenario(20_000, dyads_per_state=8, n_blocs=3, n_envoys=2, generator_seed=1)


def arrays(world) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(world)]


def test_shapes_and_names(small):
    w = small.world
    assert w.n_states == 1000 and w.states.position.shape == (1000, 5) and w.states.salience.shape == (1000, 5)
    assert w.envoys.dyad.shape == (6,) and w.agreements.status.shape == (7,) and w.watch.shape == (1,)
    assert w.n_blocs == 4
    assert len(small.states) == 1000 and small.states[42] == "S0000042"
    assert small.blocs == ("bloc_0", "bloc_1", "bloc_2", "bloc_3") and len(small.issues) == 5
    assert len(small.envoys) == 6 and len(small.events) == w.events.step.shape[0] and small.events[1] == "e1_summit"
    assert small.source == "synthetic"
    for leaf in jax.tree.leaves(w):
        assert leaf.dtype in (np.float32, np.int32, np.bool_)


def test_same_seed_same_world():
    first = synthetic_scenario(500, 6, generator_seed=7, n_envoys=3)
    second = synthetic_scenario(500, 6, generator_seed=7, n_envoys=3)
    assert first.states == second.states and first.watch == second.watch
    for a, b in zip(arrays(first.world), arrays(second.world)):
        np.testing.assert_array_equal(a, b)


def test_different_seeds_differ():
    first = synthetic_scenario(500, 6, generator_seed=7)
    second = synthetic_scenario(500, 6, generator_seed=8)
    assert not np.array_equal(np.asarray(first.world.states.gdp), np.asarray(second.world.states.gdp))
    assert first.world.n_dyads != second.world.n_dyads or not np.array_equal(
        np.asarray(first.world.dyads.src), np.asarray(second.world.dyads.src)
    )


@pytest.mark.parametrize("which, per_state", [("small", 10), ("large", 8)])
def test_mean_degree_close_to_request(which, per_state, request):
    world = request.getfixturevalue(which).world
    assert world.n_dyads / world.n_states == pytest.approx(per_state, rel=0.02)


@pytest.mark.parametrize("which", ["small", "large"])
def test_graph_structure(which, request):
    d = request.getfixturevalue(which).world.dyads
    n = request.getfixturevalue(which).world.n_states
    src, dst, reverse = (np.asarray(x) for x in (d.src, d.dst, d.reverse))
    keys = dst.astype(np.int64) * n + src
    assert np.all(np.diff(keys) > 0)  # sorted by (dst, src), no duplicates
    assert np.all(src != dst)
    assert np.array_equal(src[reverse], dst) and np.array_equal(dst[reverse], src)
    assert np.array_equal(reverse[reverse], np.arange(len(src)))
    degree = np.bincount(dst, minlength=n)
    assert degree.min() >= 1  # every state has a partner
    assert degree.max() > 10 * degree.mean()  # hubs: scale-free, not Erdos-Renyi


@pytest.mark.parametrize("which", ["small", "large"])
def test_symmetric_ties_and_blocs(which, request):
    scenario = request.getfixturevalue(which)
    d, bloc = scenario.world.dyads, np.asarray(scenario.world.states.bloc)
    reverse = np.asarray(d.reverse)
    for name in ("alliance", "tension", "conflict", "channel"):
        values = np.asarray(getattr(d, name))
        np.testing.assert_array_equal(values, values[reverse], err_msg=name)
    same = bloc[np.asarray(d.src)] == bloc[np.asarray(d.dst)]
    np.testing.assert_allclose(d.alliance, np.where(same, ALLIANCE_WITHIN, ALLIANCE_ACROSS), rtol=1e-6)
    tension = np.asarray(d.tension)
    assert tension[~same].min() > tension[same].max()
    assert set(np.unique(bloc)) <= set(range(scenario.world.n_blocs))


@pytest.mark.parametrize("which", ["small", "large"])
def test_values_inside_declared_ranges(which, request):
    world = request.getfixturevalue(which).world
    for record, cls in ((world.states, States), (world.dyads, Dyads)):
        for name, _, _, (lo, hi) in describe(cls):
            values = np.asarray(getattr(record, name))
            if values.dtype != np.float32:
                continue
            assert np.all(np.isfinite(values)), name
            assert lo is None or values.min() >= lo, (name, values.min(), lo)
            assert hi is None or values.max() <= hi, (name, values.max(), hi)


@pytest.mark.parametrize("which", ["small", "large"])
def test_economy_totals(which, request):
    world = request.getfixturevalue(which).world
    s = world.states
    supply, demand = np.asarray(s.energy_supply, np.float64), np.asarray(s.energy_demand, np.float64)
    assert supply.sum() == pytest.approx(SUPPLY_MARGIN * demand.sum(), rel=1e-5)
    assert np.all((supply == 0) | (demand == 0))  # a state exports or imports
    assert 0 < (supply > 0).sum() < world.n_states
    gdp = np.asarray(s.gdp, np.float64)
    assert gdp.sum() == pytest.approx(WORLD_GDP, rel=1e-4)
    assert np.asarray(world.dyads.trade_potential, np.float64).sum() == pytest.approx(TRADE_SHARE * WORLD_GDP, rel=1e-4)
    np.testing.assert_array_equal(world.dyads.trade, world.dyads.trade_potential)
    np.testing.assert_allclose(s.power, np.asarray(s.military_share) * np.asarray(s.gdp), rtol=1e-5)
    share = np.asarray(s.military_share)
    assert share.min() >= 0.01 and share.max() <= 0.05


@pytest.mark.parametrize("which", ["small", "large"])
def test_oil_market_can_clear_along_the_dyads(which, request):
    """Every importer has an exporting partner; buyers spreading demand by supply oversubscribe no seller."""
    world = request.getfixturevalue(which).world
    supply = np.asarray(world.states.energy_supply, np.float64)
    demand = np.asarray(world.states.energy_demand, np.float64)
    src, dst = np.asarray(world.dyads.src), np.asarray(world.dyads.dst)
    sells = (supply[src] > 0) & (demand[dst] > 0)
    offered = np.bincount(dst[sells], weights=supply[src[sells]], minlength=world.n_states)
    assert np.all(offered[demand > 0] > 0)
    orders = np.bincount(
        src[sells], weights=demand[dst[sells]] * supply[src[sells]] / offered[dst[sells]], minlength=world.n_states
    )
    assert np.all(orders <= supply * 1.001)  # no seller oversubscribed: every buyer is served in full


@pytest.mark.parametrize("which", ["small", "large"])
def test_events_watch_and_envoys_point_at_their_dyads(which, request):
    scenario = request.getfixturevalue(which)
    w = scenario.world
    src, dst = np.asarray(w.dyads.src), np.asarray(w.dyads.dst)
    ev = w.events
    np.testing.assert_array_equal(src[np.asarray(ev.dyad)], ev.actor)
    np.testing.assert_array_equal(dst[np.asarray(ev.dyad)], ev.target)
    kinds = [EVENT_KINDS[k] for k in np.asarray(ev.kind)]
    assert {"summit", "sanction", "military_signal", "secondary_sanction"} <= set(kinds)
    largest = np.argsort(-np.asarray(w.states.gdp))[:2]
    watched = int(w.watch[0])
    assert (src[watched], dst[watched]) == tuple(largest)
    summit = kinds.index("summit")
    role = np.asarray(ev.member_role)
    members = np.asarray(ev.member_state)[np.asarray(ev.member_event) == summit]
    assert set(members[role == 0]) == set(largest)
    pairs = set(zip(src.tolist(), dst.tolist()))
    assert all((x, p) in pairs for x in members[role == 1] for p in largest)  # exclusion needs the dyads
    env = w.envoys
    np.testing.assert_array_equal(src[np.asarray(env.dyad)], env.principal)
    np.testing.assert_array_equal(dst[np.asarray(env.dyad)], env.counterpart)
    assert int(env.dyad[0]) == watched and int(env.channel[1]) == 1


@pytest.mark.parametrize("n_states, per_state", [(2, 1), (3, 2), (5, 4), (40, 39)])
def test_tiny_and_complete_worlds(n_states, per_state):
    scenario = synthetic_scenario(n_states, per_state, n_envoys=3)
    assert scenario.world.n_dyads == n_states * per_state
    assert len(scenario.events) == 4


def test_ten_thousand_states_build():
    scenario = synthetic_scenario(10_000, 10, n_envoys=4)
    assert scenario.world.n_states == 10_000


@pytest.mark.parametrize(
    "arguments, field",
    [
        ((1,), "n_states"),
        ((10, 10), "dyads_per_state"),
        ((10, 0), "dyads_per_state"),
        ((10, 2, 0), "n_blocs"),
        ((10, 2, 1, 1, -1), "n_envoys"),
    ],
)
def test_bad_arguments(arguments, field):
    with pytest.raises(ScenarioError, match=f"^scenario synthetic: {field}"):
        synthetic_scenario(*arguments)


@pytest.mark.slow
def test_a_million_states():
    scenario = synthetic_scenario(1_000_000, 10, n_envoys=4)
    world = scenario.world
    assert world.n_states == 1_000_000
    assert world.n_dyads / world.n_states == pytest.approx(10, rel=0.02)
    reverse = np.asarray(world.dyads.reverse)
    assert np.array_equal(reverse[reverse], np.arange(world.n_dyads))
