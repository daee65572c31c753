"""The Mesa layer: agents as views, decide() hooks, DataCollector, batch_run, networks."""

import jax
import mesa
import numpy as np
import pytest

from diplosim import programs
from diplosim.agents import DiplomacyModel, EnvoyAgent, StateAgent
from diplosim.world import trust_mean


class RefusesTalks(StateAgent):
    """A state that never sends its envoys."""

    def decide(self, observation):
        return {"envoys": {name: False for name in observation["envoys"]}}


class SanctionsEveryone(StateAgent):
    def decide(self, observation):
        return {"sanction": {partner: 1.0 for partner in observation["partners"]}}


@pytest.fixture(scope="module")
def model():
    m = DiplomacyModel("alaska_2025", seed=3)
    for _ in range(4):
        m.step()
    return m


def test_agents_are_views_of_the_current_world(model):
    states = model.agents_by_type[StateAgent]
    envoys = model.agents_by_type[EnvoyAgent]
    assert len(states) == len(model.scenario.states) and len(envoys) == len(model.scenario.envoys)
    russia, us = model.state_named("Russia"), model.state_named("United States")
    assert russia.gdp == pytest.approx(float(model.world.states.gdp[russia.index]))
    e = model.dyad_index[(us.index, russia.index)]
    assert us.trust_in(russia) == pytest.approx(float(trust_mean(model.world.dyads)[e]))
    assert us.tension_with(russia) == pytest.approx(float(model.world.dyads.tension[e]))
    assert {a.name for a in model.agents.select(lambda a: isinstance(a, StateAgent) and a.bloc == "nato_eu")} >= {"Germany", "Poland"}
    proxy = [v for v in envoys if v.channel == "proxy"]
    assert proxy and proxy[0].principal is russia


def test_datacollector_collects_every_step(model):
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 5 and "energy_price" in frame and "cohesion_nato_eu" in frame
    agents = model.datacollector.get_agenttype_vars_dataframe(StateAgent)
    assert set(agents.columns) >= {"gdp", "approval", "power"}


def test_same_seed_same_world_other_seed_other_world():
    a, b, c = (DiplomacyModel("alaska_2025", seed=s) for s in (5, 5, 6))
    for m in (a, b, c):
        for _ in range(3):
            m.step()
    np.testing.assert_array_equal(a.world.dyads.tension, b.world.dyads.tension)
    assert not np.array_equal(a.world.dyads.tension, c.world.dyads.tension)


def test_a_decide_hook_overrides_only_its_own_state():
    default = DiplomacyModel("alaska_2025", seed=1)
    hard = DiplomacyModel("alaska_2025", seed=1, policies={"Russia": RefusesTalks})
    for m in (default, hard):
        for _ in range(3):
            m.step()
    russian = [v for v in hard.agents_by_type[EnvoyAgent] if v.principal.name == "Russia"]
    assert russian and not any(v.active for v in russian)
    assert any(v.active for v in default.agents_by_type[EnvoyAgent] if v.principal.name == "Russia")
    us_envoys = [v for v in hard.agents_by_type[EnvoyAgent] if v.principal.name == "United States"]
    assert [v.active for v in us_envoys] == [v.active for v in default.agents_by_type[EnvoyAgent] if v.principal.name == "United States"]


def test_sanction_policy_raises_sanctions_on_its_partners():
    m = DiplomacyModel("alaska_2025", seed=1, policies={"India": SanctionsEveryone})
    before = m.state_named("India").sanction_on(m.state_named("China"))
    m.step()
    assert m.state_named("India").sanction_on(m.state_named("China")) > before


def test_bad_decisions_are_reported_clearly():
    class Confused(StateAgent):
        def decide(self, observation):
            return {"invade": ["Atlantis"]}

    m = DiplomacyModel("alaska_2025", policies={"Poland": Confused})
    with pytest.raises(ValueError, match="unknown action"):
        m.step()
    with pytest.raises(ValueError, match="unknown state"):
        DiplomacyModel("alaska_2025", policies={"Atlantis": StateAgent})


def test_batch_run_sweeps_seeds_and_coefficients():
    results = mesa.batch_run(
        DiplomacyModel, parameters={"seed": [1, 2], "secondary_diversion": [0.2, 0.9]},
        max_steps=2, number_processes=1, display_progress=False,
    )
    assert len(results) == 4
    assert {r["secondary_diversion"] for r in results} == {0.2, 0.9}
    assert all("energy_price" in r for r in results)


def test_networks_reflect_current_weights(model):
    alliance = model.network("alliance")
    us, germany = model.state_named("United States"), model.state_named("Germany")
    assert alliance["United States"]["Germany"]["weight"] == pytest.approx(us.alliance_with(germany))
    trade = model.network("trade")
    assert trade["China"]["United States"]["weight"] == pytest.approx(model.state_named("China").exports_to(us))


def test_engine_is_jax_or_reference():
    with pytest.raises(ValueError, match=r"^engine = 'numpy': allowed values are jax, reference$"):
        DiplomacyModel("alaska_2025", engine="numpy")


def test_reference_engine_drives_the_same_mesa_model():
    """engine="reference": agents, decide() hooks, DataCollector and networks work as with the core."""
    m = DiplomacyModel("alaska_2025", seed=3, engine="reference", policies={"Russia": RefusesTalks})
    for _ in range(3):
        m.step()
    assert m.engine == "reference" and int(m.world.step) == 3 and isinstance(m.world.states.gdp, np.ndarray)
    russia, us = m.state_named("Russia"), m.state_named("United States")
    assert russia.gdp == pytest.approx(float(m.world.states.gdp[russia.index]))
    assert us.trust_in(russia) == pytest.approx(float(trust_mean(m.world.dyads)[m.dyad_index[(us.index, russia.index)]]))
    assert not any(v.active for v in m.agents_by_type[EnvoyAgent] if v.principal is russia)
    frame = m.datacollector.get_model_vars_dataframe()
    assert len(frame) == 4 and frame["energy_price"].notna().all() and frame["cohesion_nato_eu"].notna().all()
    assert m.network("alliance")["United States"]["Germany"]["weight"] == pytest.approx(us.alliance_with(m.state_named("Germany")))


def test_a_new_model_releases_compiled_programs_when_the_maps_run_short(monkeypatch):
    """mesa.batch_run builds model after model, each compiling its own step: a new model releases
    them past half of vm.max_map_count (see diplosim.programs.release_when_crowded)."""
    twice = jax.jit(lambda x: 2 * x)
    twice(1.0)
    DiplomacyModel("alaska_2025", seed=1)
    assert twice._cache_size() == 1  # far from the limit: kept
    monkeypatch.setattr(programs, "_maps_in_use", lambda: 40_000)
    monkeypatch.setattr(programs, "_map_limit", lambda: 65_530)
    DiplomacyModel("alaska_2025", seed=1)
    assert twice._cache_size() == 0
