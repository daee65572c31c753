import jax
import numpy as np
import pytest

from diplosim.mechanisms.events import apply_exclusions, scheduled_events
from diplosim.params import params_from
from diplosim.world import replace
from worlds import TINY_INDEX

KEY = jax.random.key(0)
A_C, C_A = TINY_INDEX[(0, 2)], TINY_INDEX[(2, 0)]
B_A, A_B = TINY_INDEX[(1, 0)], TINY_INDEX[(0, 1)]
B_C, C_B = TINY_INDEX[(1, 2)], TINY_INDEX[(2, 1)]


def test_sanction_fires_on_its_step_only(world):
    params = params_from()
    after = scheduled_events(world, params, KEY)  # step 0: A sanctions C at 0.8
    assert after.dyads.sanction[A_C] == pytest.approx(0.8)
    assert float(after.dyads.sanction.sum()) == pytest.approx(0.8)
    later = scheduled_events(world.replace(step=world.step + 5), params, KEY)
    assert float(later.dyads.sanction.sum()) == 0.0


def test_excluded_stakeholder_loses_alliance_and_trust(world):
    # summit at step 1: A and C participate on issue 0, B excluded with salience 0.5 on it
    params = params_from({"exclusion_alliance": 0.2, "exclusion_trust": 3.0})
    after = apply_exclusions(world.replace(step=world.step + 1), params)
    a, b = np.asarray(after.dyads.alliance), np.asarray(after.dyads.trust_beta)
    assert a[B_A] == pytest.approx(0.8 - 0.5 * 0.2) and a[A_B] == pytest.approx(a[B_A])
    assert a[B_C] == pytest.approx(0.1 - 0.5 * 0.2) and a[C_B] == pytest.approx(a[B_C])
    assert b[B_A] == pytest.approx(2.0 + 0.5 * 3.0) and b[B_C] == pytest.approx(2.0 + 0.5 * 3.0)
    # participants' own ties and beliefs are untouched, and nothing happens on other steps
    assert a[A_C] == pytest.approx(0.1) and b[A_B] == pytest.approx(2.0)
    quiet = apply_exclusions(world, params)
    np.testing.assert_array_equal(quiet.dyads.alliance, world.dyads.alliance)


@pytest.mark.parametrize(
    "kind, field, expected_forward, expected_back",
    [
        ("military_signal", "tension", 0.2 + 0.5 * 0.25, 0.2 + 0.5 * 0.25),
        ("conflict_onset", "conflict", 0.5, 0.5),
        ("secondary_sanction", "secondary_sanction", 0.5, 0.0),
    ],
)
def test_other_event_kinds(world, kind, field, expected_forward, expected_back):
    from diplosim.world import EVENT_KINDS

    events = replace(world.events, kind=world.events.kind.at[1].set(EVENT_KINDS.index(kind)), magnitude=world.events.magnitude.at[1].set(0.5))
    after = scheduled_events(world.replace(events=events), params_from(), KEY)
    values = np.asarray(getattr(after.dyads, field))
    assert values[A_C] == pytest.approx(expected_forward)
    assert values[C_A] == pytest.approx(expected_back)


def test_incentive_raises_trade_potential_and_target_trust(world):
    from diplosim.world import EVENT_KINDS

    events = replace(world.events, kind=world.events.kind.at[1].set(EVENT_KINDS.index("incentive")), magnitude=world.events.magnitude.at[1].set(1.0))
    params = params_from({"incentive_trade": 0.3, "incentive_trust": 2.0})
    after = scheduled_events(world.replace(events=events), params, KEY)
    assert after.dyads.trade_potential[A_C] == pytest.approx(13.0)
    assert after.dyads.trade_potential[C_A] == pytest.approx(13.0)
    assert after.dyads.trust_alpha[C_A] == pytest.approx(4.0)  # C now trusts A more
    assert after.dyads.trust_alpha[A_C] == pytest.approx(2.0)


def test_events_jit_equals_eager(world):
    params = params_from()
    eager = scheduled_events(world, params, KEY)
    jitted = jax.jit(scheduled_events)(world, params, KEY)
    for x, y in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6)


def test_a_sanction_event_of_magnitude_zero_lifts_the_sanction(world):
    sanctioned = world.replace(dyads=replace(world.dyads, sanction=world.dyads.sanction.at[A_C].set(0.9)))
    events = replace(world.events, magnitude=world.events.magnitude.at[1].set(0.0))
    after = scheduled_events(sanctioned.replace(events=events), params_from(), KEY)
    assert float(after.dyads.sanction[A_C]) == 0.0
