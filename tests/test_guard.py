"""The numerical guard (diplosim.guard): off changes nothing, stop raises naming field, agent and step, flag records.

The runs here switch every mechanism but the scheduled events off: the
guard wraps whatever the step computes, and the small program compiles in
seconds.  A NaN coefficient of incentives (``incentive_trade``) turns the
trade potential of the incentive's two dyads into NaN when it fires.
"""

from __future__ import annotations

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diplosim import engine, guard
from diplosim.engine import RunSpec, simulate, simulate_batch
from diplosim.guard import FIELD_NAMES, NumericalError, first_nonfinite, first_problem
from diplosim.params import params_from, stack_params
from diplosim.world import EVENT_KINDS, replace
from worlds import EVENTS_ONLY, TINY_INDEX, tiny_world

KEY = jax.random.key(0)
NAN_INCENTIVE = params_from({"incentive_trade": float("nan")})
INCENTIVE_STEP = 3  # fires during step 3 -> 4: the world after 4 steps holds the NaN
FIRST_BAD_DYAD = min(TINY_INDEX[(0, 2)], TINY_INDEX[(2, 0)])  # C -> A, dyad 1


def spec(mode: str) -> RunSpec:
    return RunSpec(mechanisms=EVENTS_ONLY, guard=mode, event_capacity=4)


@pytest.fixture
def incentive_world():
    """The tiny world, with its sanction (event 1) turned into an incentive A -> C at step 3."""
    world = tiny_world()
    ev = world.events
    kind = ev.kind.at[1].set(EVENT_KINDS.index("incentive"))
    return world.replace(events=replace(ev, kind=kind, step=ev.step.at[1].set(INCENTIVE_STEP)))


def with_nan(world, record: str, field: str, at):
    part = getattr(world, record)
    return world.replace(**{record: replace(part, **{field: getattr(part, field).at[at].set(jnp.nan)})})


# --- locating the first non-finite value -------------------------------------


def test_first_nonfinite_is_minus_one_on_a_finite_world(world):
    assert [int(x) for x in first_nonfinite(world)] == [-1, -1]


@pytest.mark.parametrize(("record", "field", "at", "agent"), [
    ("states", "gdp", 1, 1),
    ("states", "position", (2, 1), 2),  # f32[N, K]: the state is the row
    ("dyads", "tension", 4, 4),
    ("agreements", "terms", 3, 3),
    ("envoys", "credibility", 0, 0),
])
def test_first_nonfinite_names_the_field_and_the_agent(world, record, field, at, agent):
    bad, index = first_nonfinite(with_nan(world, record, field, at))
    assert (FIELD_NAMES[int(bad)], int(index)) == (f"{record}.{field}", agent)


def test_first_nonfinite_takes_the_earliest_field_then_the_lowest_agent(world):
    world = with_nan(with_nan(world, "dyads", "tension", 0), "states", "gdp", 2)
    world = with_nan(world, "states", "gdp", 1)
    bad, index = jax.jit(first_nonfinite)(world)
    assert (FIELD_NAMES[int(bad)], int(index)) == ("states.gdp", 1)


def test_an_infinite_scalar_has_no_agent(world):
    bad, index = first_nonfinite(world.replace(energy_price=jnp.asarray(jnp.inf, jnp.float32)))
    assert (FIELD_NAMES[int(bad)], int(index)) == ("energy_price", -1)


def test_the_error_is_one_line_with_the_scenario_names(world):
    scenario = SimpleNamespace(states=("Russia", "Ukraine", "USA"), world=world, envoys=(), events=())
    dyad = TINY_INDEX[(0, 1)]
    error = NumericalError(FIELD_NAMES.index("dyads.tension"), dyad, 42).named(scenario)
    assert str(error) == f"non-finite dyads.tension at dyad {dyad} (Russia -> Ukraine) at step 42"
    assert isinstance(error, ValueError)  # the command line reports it as a user error, one line


# --- guard off: nothing traced, nothing changed --------------------------------


def _lowered(world, mode: str) -> str:
    return engine._run_chunk.lower(world, params_from(), KEY, spec=RunSpec(guard=mode), samples=1, every=1).as_text()


def test_guard_off_traces_no_guard_code(world, monkeypatch):
    def traced(*args, **kwargs):
        raise AssertionError("guard code traced with engine.guard = off")

    monkeypatch.setattr(guard, "inspect_step", traced)
    monkeypatch.setattr(guard, "first_nonfinite", traced)
    off = _lowered(world, "off")  # the full model, lowered (not compiled)
    monkeypatch.undo()
    flagged = _lowered(world, "flag")
    assert "is_finite" not in off and "is_finite" in flagged
    assert len(flagged) > len(off)


def test_guard_does_not_change_a_finite_run(incentive_world):
    runs = {mode: simulate(incentive_world, params_from(), KEY, 8, spec(mode), chunk_steps=4) for mode in guard.GUARD_MODES}
    final_off, off = runs["off"]
    for mode in ("stop", "flag"):
        final, trajectory = runs[mode]
        for a, b in zip(jax.tree.leaves(final_off), jax.tree.leaves(final)):
            np.testing.assert_array_equal(a, b)
        for name, values in off.metrics.items():
            np.testing.assert_array_equal(trajectory.metrics[name], values)
    assert set(runs["flag"][1].metrics) - set(off.metrics) == set(guard.FLAG_METRICS)
    assert runs["flag"][1].metrics["finite"].all()


# --- stop ---------------------------------------------------------------------


def test_stop_names_field_agent_and_step(incentive_world):
    with pytest.raises(NumericalError) as caught:
        simulate(incentive_world, NAN_INCENTIVE, KEY, 8, spec("stop"), chunk_steps=4)
    assert str(caught.value) == f"non-finite dyads.trade_potential at dyad {FIRST_BAD_DYAD} at step {INCENTIVE_STEP + 1}"
    assert (caught.value.field_name, caught.value.index, caught.value.step) == ("dyads.trade_potential", FIRST_BAD_DYAD, 4)


def test_stop_on_a_nan_gdp_in_the_initial_world(incentive_world):
    with pytest.raises(NumericalError, match=r"^non-finite states\.gdp at state 1 at step 0$"):
        simulate(with_nan(incentive_world, "states", "gdp", 1), params_from(), KEY, 8, spec("stop"), chunk_steps=4)


def test_stop_in_a_batch_names_the_first_failing_run(incentive_world):
    params = stack_params([params_from(), NAN_INCENTIVE, NAN_INCENTIVE])
    with pytest.raises(NumericalError, match=r"at step 4 in run 1$"):
        simulate_batch(incentive_world, params, jax.random.split(KEY, 3), 8, spec("stop"), chunk_steps=4)


def test_an_unknown_guard_mode_is_a_one_line_error(world):
    with pytest.raises(ValueError, match=r"^engine.guard = 'loud': allowed values are off, stop, flag$"):
        simulate(world, params_from(), KEY, 2, RunSpec(guard="loud"))


# --- flag ---------------------------------------------------------------------


def test_flag_records_every_step_and_the_first_problem(incentive_world):
    _, trajectory = simulate(incentive_world, NAN_INCENTIVE, KEY, 8, spec("flag"), chunk_steps=4)
    m = trajectory.metrics
    np.testing.assert_array_equal(m["finite"], np.arange(9) < INCENTIVE_STEP + 1)
    assert FIELD_NAMES[int(m["nonfinite_field"][-1])] == "dyads.trade_potential"
    assert int(m["nonfinite_index"][-1]) == FIRST_BAD_DYAD
    assert (m["nonfinite_field"][:4] == -1).all()
    names = SimpleNamespace(states=("A", "B", "C"), world=incentive_world, envoys=(), events=())
    assert first_problem(m, names) == f"non-finite dyads.trade_potential at dyad {FIRST_BAD_DYAD} (C -> A) at step 4"


def test_first_problem_of_a_clean_or_unflagged_run_is_none():
    assert first_problem({"step": np.arange(3)}) is None
    clean = {"step": np.arange(3), "finite": np.ones(3, bool), "nonfinite_field": -np.ones(3), "nonfinite_index": -np.ones(3)}
    assert first_problem(clean) is None


def test_first_problem_of_a_batch_takes_the_earliest_step_then_the_lowest_run():
    finite = np.array([[True, True, False], [True, False, False], [True, False, False]])
    field = np.where(finite, -1, FIELD_NAMES.index("states.gdp"))
    metrics = {"step": np.tile(np.arange(3), (3, 1)), "finite": finite, "nonfinite_field": field, "nonfinite_index": np.where(finite, -1, 0)}
    assert first_problem(metrics) == "non-finite states.gdp at state 0 at step 1 in run 1"


# --- the app ------------------------------------------------------------------


def _config(*overrides):
    from hydra import compose, initialize_config_module

    from diplosim.config import register_configs

    register_configs()
    with initialize_config_module(config_module="diplosim.conf", version_base="1.3"):
        quiet = ["engine.compile_cache=", "engine.progress=false", "output.plot=false", "steps=2"]
        return compose(config_name="config", overrides=quiet + list(overrides))


def test_the_app_passes_the_guard_and_names_the_agent(tmp_path, monkeypatch):
    from diplosim import app

    seen = {}

    def blows_up(world, params, key, steps, spec, **kwargs):
        seen["guard"] = spec.guard
        d = world.dyads
        dyad = int(np.flatnonzero((np.asarray(d.src) == 1) & (np.asarray(d.dst) == 2))[0])
        seen["dyad"] = dyad
        raise NumericalError(FIELD_NAMES.index("dyads.tension"), dyad, 42)

    monkeypatch.setattr(app, "simulate", blows_up)
    with pytest.raises(NumericalError) as caught:
        app.run(_config("engine.guard=stop"), tmp_path)
    assert seen["guard"] == "stop"
    scenario = app.load_scenario(app.as_dict(_config())["scenario"])
    names = f"{scenario.states[1]} -> {scenario.states[2]}"
    assert str(caught.value) == f"non-finite dyads.tension at dyad {seen['dyad']} ({names}) at step 42"
