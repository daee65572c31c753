"""build_world: a hand-written spec becomes a World with the documented shapes, order and defaults."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diplosim.params import Params
from diplosim.scenario import Scenario, build_world, load_scenario
from diplosim.scenario.build import GRAVITY_TRADE
from diplosim.scenario.schema import ScenarioSpec
from diplosim.world import EVENT_KINDS, Agreements, Dyads, Envoys, States, describe

STATES = {
    "A": {
        "bloc": "west",
        "gdp": 100.0,
        "military_share": 0.02,
        "approval": 0.5,
        "reliability": 0.8,
        "energy_demand": 1.0,
        "position": {"border": 0.2},
        "salience": {"border": 0.9},
    },
    "B": {
        "bloc": "west",
        "gdp": 50.0,
        "military_share": 0.04,
        "approval": 0.6,
        "reliability": 0.7,
        "energy_demand": 0.5,
    },
    "C": {
        "bloc": "east",
        "gdp": 50.0,
        "military_share": 0.05,
        "approval": 0.7,
        "reliability": 0.4,
        "energy_supply": 2.0,
        "position": {"border": 0.9, "trade_deal": 0.1},
        "salience": {"trade_deal": 0.4},
    },
}
SPEC = {
    "kind": "file",
    "name": "tiny",
    "description": "three states",
    "issues": ["border", "trade_deal"],
    "blocs": ["west", "east"],
    "energy_price": 80.0,
    "states": [{"name": name, **fields} for name, fields in STATES.items()],
    "alliances": [{"a": "A", "b": "B", "weight": 0.8}],
    "trade": [{"from": "A", "to": "B", "value": 7.0}],
    "tension": [{"a": "C", "b": "A", "value": 0.6}],
    "conflict": [{"a": "B", "b": "C", "intensity": 0.3}],
    "sanctions": [{"from": "A", "to": "C", "level": 0.5}],
    "channels": [{"a": "A", "b": "C", "level": 0.2}],
    "trust": [{"from": "A", "to": "C", "alpha": 1.0, "beta": 5.0}],
    "envoys": [{"name": "Envoy", "principal": "A", "counterpart": "C", "channel": "proxy", "credibility": 0.4}],
    "events": [
        {
            "name": "talks",
            "step": 2,
            "kind": "summit",
            "actor": "A",
            "target": "C",
            "issue": "trade_deal",
            "participants": ["A", "C"],
            "excluded": ["B"],
        },
        {"step": 1, "kind": "sanction", "actor": "C", "target": "A", "magnitude": 0.3},
    ],
    "watch": [{"name": "a_c", "from": "A", "to": "C"}],
}
A, B, C = 0, 1, 2


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_world(ScenarioSpec.model_validate(SPEC), agreement_slots=5, source="test")


def dyad(scenario: Scenario, i: int, j: int) -> int:
    d = scenario.world.dyads
    (found,) = np.flatnonzero((np.asarray(d.src) == i) & (np.asarray(d.dst) == j))
    return int(found)


def test_names_and_metadata(scenario):
    assert scenario.states == ("A", "B", "C")
    assert scenario.blocs == ("west", "east") and scenario.issues == ("border", "trade_deal")
    assert scenario.envoys == ("Envoy",) and scenario.watch == ("a_c",)
    assert scenario.events == ("talks", "e1_sanction")
    assert (scenario.name, scenario.source, scenario.description) == ("tiny", "test", "three states")


def test_shapes_and_dtypes(scenario):
    w = scenario.world
    n, e, k = 3, 6, 2
    sizes = {States: n, Dyads: e, Envoys: 1, Agreements: 5}
    for record, cls in ((w.states, States), (w.dyads, Dyads), (w.envoys, Envoys), (w.agreements, Agreements)):
        for f in dataclasses.fields(cls):
            value = getattr(record, f.name)
            assert isinstance(value, jax.Array), f.name
            assert value.shape[0] == sizes[cls], f.name
            assert value.dtype in (jnp.float32, jnp.int32, jnp.bool_), f.name
    assert w.states.position.shape == (n, k) and w.states.salience.shape == (n, k)
    assert w.states.bloc.dtype == jnp.int32 and w.dyads.src.dtype == jnp.int32
    assert w.envoys.active.dtype == jnp.bool_
    assert w.events.step.shape == (2,) and w.events.member_state.shape == (3,)
    assert w.watch.shape == (1,) and w.watch.dtype == jnp.int32
    assert w.energy_price.shape == () and w.energy_price.dtype == jnp.float32
    assert w.step.shape == () and w.step.dtype == jnp.int32
    assert w.n_blocs == 2
    jax.jit(lambda world: world)(w)  # a valid pytree


def test_dyads_sorted_with_reverse(scenario):
    d = scenario.world.dyads
    src, dst, reverse = (np.asarray(x) for x in (d.src, d.dst, d.reverse))
    assert np.array_equal(np.lexsort((src, dst)), np.arange(len(src)))
    assert np.all(np.diff(dst) >= 0)
    assert np.array_equal(reverse[reverse], np.arange(len(src)))
    assert np.array_equal(src[reverse], dst) and np.array_equal(dst[reverse], src)
    assert set(zip(src.tolist(), dst.tolist())) == {(i, j) for i in range(3) for j in range(3) if i != j}


def test_symmetric_ties_are_symmetric(scenario):
    d = scenario.world.dyads
    for name in ("alliance", "tension", "conflict", "channel"):
        values = np.asarray(getattr(d, name))
        assert np.array_equal(values, values[np.asarray(d.reverse)]), name


def test_listed_ties_and_defaults(scenario):
    d = scenario.world.dyads
    at = lambda field, i, j: float(getattr(d, field)[dyad(scenario, i, j)])  # noqa: E731
    assert at("alliance", A, B) == at("alliance", B, A) == pytest.approx(0.8)
    assert at("alliance", A, C) == 0.0
    assert at("tension", A, C) == at("tension", C, A) == pytest.approx(0.6)
    assert at("tension", A, B) == pytest.approx(0.05)
    assert at("conflict", C, B) == pytest.approx(0.3) and at("conflict", A, B) == 0.0
    assert at("channel", C, A) == pytest.approx(0.2) and at("channel", A, B) == 1.0
    assert at("sanction", A, C) == pytest.approx(0.5) and at("sanction", C, A) == 0.0
    assert (at("trust_alpha", A, C), at("trust_beta", A, C)) == (1.0, 5.0)
    assert (at("trust_alpha", C, A), at("trust_beta", C, A)) == (2.0, 2.0)
    assert np.all(np.asarray(d.secondary_sanction) == 0) and np.all(np.asarray(d.energy_flow) == 0)


def test_trade_listed_or_gravity(scenario):
    d = scenario.world.dyads
    potential = np.asarray(d.trade_potential)
    assert potential[dyad(scenario, A, B)] == pytest.approx(7.0)
    assert potential[dyad(scenario, B, A)] == pytest.approx(GRAVITY_TRADE * 50 * 100 / 200)
    assert potential[dyad(scenario, B, C)] == pytest.approx(GRAVITY_TRADE * 50 * 50 / 200)
    assert np.array_equal(np.asarray(d.trade), potential)
    baseline = np.asarray(scenario.world.states.trade_baseline)
    src, dst = np.asarray(d.src), np.asarray(d.dst)
    for i in range(3):
        assert baseline[i] == pytest.approx(potential[src == i].sum() + potential[dst == i].sum())


def test_state_columns(scenario):
    s = scenario.world.states
    np.testing.assert_allclose(s.power, [2.0, 2.0, 2.5], rtol=1e-6)
    np.testing.assert_allclose(s.energy_bought, [1.0, 0.5, 0.0])
    np.testing.assert_allclose(s.energy_supply, [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(s.bloc, [0, 0, 1])
    np.testing.assert_allclose(s.position, [[0.2, 0.5], [0.5, 0.5], [0.9, 0.1]])
    np.testing.assert_allclose(s.salience, [[0.9, 0.0], [0.0, 0.0], [0.0, 0.4]])


def test_envoys_events_watch(scenario):
    w = scenario.world
    a_c, c_a = dyad(scenario, A, C), dyad(scenario, C, A)
    assert (int(w.envoys.principal[0]), int(w.envoys.counterpart[0]), int(w.envoys.dyad[0])) == (A, C, a_c)
    assert int(w.envoys.channel[0]) == 1 and bool(w.envoys.active[0])
    ev = w.events
    np.testing.assert_array_equal(ev.kind, [EVENT_KINDS.index("summit"), EVENT_KINDS.index("sanction")])
    np.testing.assert_array_equal(ev.step, [2, 1])
    np.testing.assert_array_equal(ev.dyad, [a_c, c_a])
    np.testing.assert_array_equal(ev.issue, [1, 0])
    np.testing.assert_allclose(ev.magnitude, [1.0, 0.3])
    np.testing.assert_array_equal(ev.member_event, [0, 0, 0])
    np.testing.assert_array_equal(ev.member_state, [A, C, B])
    np.testing.assert_array_equal(ev.member_role, [0, 0, 1])
    np.testing.assert_array_equal(w.watch, [a_c])
    assert float(w.energy_price) == 80.0 and int(w.step) == 0


def test_agreement_slots_are_free(scenario):
    for f in dataclasses.fields(Agreements):
        assert not np.any(np.asarray(getattr(scenario.world.agreements, f.name))), f.name


def test_values_inside_declared_ranges(scenario):
    assert_in_declared_ranges(scenario)


def test_defaults_without_optional_tables():
    bare = {"bloc": "b", "gdp": 10.0, "military_share": 0.02, "approval": 0.5, "reliability": 0.5}
    scenario = load_scenario({"name": "bare", "blocs": ["b"], "states": [{"name": "X", **bare}, {"name": "Y", **bare}]})
    w = scenario.world
    assert float(w.energy_price) == pytest.approx(Params.__dataclass_fields__["energy_price_base"].default)
    assert w.envoys.principal.shape == (0,) and w.envoys.active.dtype == jnp.bool_
    assert w.events.step.shape == (0,) and w.events.member_role.shape == (0,) and w.watch.shape == (0,)
    assert w.states.position.shape == (2, 0)
    assert scenario.events == () and scenario.watch == ()
    np.testing.assert_allclose(w.dyads.tension, 0.05)
    np.testing.assert_allclose(w.dyads.trade_potential, GRAVITY_TRADE * 10 * 10 / 20)


def test_single_state_has_no_dyads():
    alone = {"name": "X", "bloc": "b", "gdp": 10.0, "military_share": 0.02, "approval": 0.5, "reliability": 0.5}
    scenario = load_scenario({"name": "alone", "blocs": ["b"], "states": [alone]})
    assert scenario.world.n_states == 1 and scenario.world.n_dyads == 0
    assert float(scenario.world.states.trade_baseline[0]) == 0.0


def assert_in_declared_ranges(scenario: Scenario) -> None:
    """Every float field of States and Dyads lies inside the range world.py declares."""
    for record, cls in ((scenario.world.states, States), (scenario.world.dyads, Dyads)):
        for name, _, _, (lo, hi) in describe(cls):
            values = np.asarray(getattr(record, name))
            if values.dtype != np.float32 or values.size == 0:
                continue
            assert np.all(np.isfinite(values)), name
            assert lo is None or values.min() >= lo, (name, values.min(), lo)
            assert hi is None or values.max() <= hi, (name, values.max(), hi)
