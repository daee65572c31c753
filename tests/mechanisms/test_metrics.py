import numpy as np
import pytest

from diplosim.mechanisms.metrics import ENDOGENOUS_EVENTS, bloc_cohesion, detect_events, metrics
from diplosim.world import replace, trust_mean
from worlds import TINY_INDEX


def test_cohesion_and_polarisation_by_hand(world):
    np.testing.assert_allclose(bloc_cohesion(world), [0.8, 0.0])
    tension = world.dyads.tension.at[TINY_INDEX[(0, 2)]].set(0.6)
    m = metrics(world.replace(dyads=replace(world.dyads, tension=tension)))
    # across blocs: four dyads, tensions 0.6, 0.2, 0.2, 0.2; within: two at 0.2
    assert float(m["polarisation"]) == pytest.approx(0.3 - 0.2)
    assert float(m["watch_tension"][0]) == pytest.approx(0.6)
    assert float(m["watch_relation"][0]) == pytest.approx(0.5 - 0.6)


def test_watched_trust_is_the_beta_mean_at_the_watched_dyads(world):
    """Taken at the watched dyads alone, the same numbers as over every dyad and then indexed."""
    alpha = world.dyads.trust_alpha.at[TINY_INDEX[(0, 2)]].set(7.0)
    world = world.replace(dyads=replace(world.dyads, trust_alpha=alpha))
    expected = np.asarray(trust_mean(world.dyads))[np.asarray(world.watch)]
    np.testing.assert_array_equal(np.asarray(trust_mean(world.dyads, at=world.watch)), expected)
    m = metrics(world)
    np.testing.assert_array_equal(np.asarray(m["watch_trust"]), expected)
    np.testing.assert_array_equal(np.asarray(m["watch_relation"]), expected - np.asarray(world.dyads.tension)[np.asarray(world.watch)])
    assert float(m["watch_trust"][0]) != 0.5  # the changed dyad is watched


def test_detect_events_records_crossings_with_actor_and_target(world):
    e = TINY_INDEX[(0, 2)]
    after = world.replace(dyads=replace(world.dyads, sanction=world.dyads.sanction.at[e].set(0.9),
                                        conflict=world.dyads.conflict.at[e].set(0.5).at[TINY_INDEX[(2, 0)]].set(0.5)))
    log = detect_events(world, after, capacity=4)
    kinds = [ENDOGENOUS_EVENTS[k] for k in np.asarray(log["kind"]) if k >= 0]
    assert sorted(kinds) == ["conflict_onset", "sanction_imposed"]
    first = int(np.argmax(np.asarray(log["kind"]) == ENDOGENOUS_EVENTS.index("sanction_imposed")))
    assert (int(log["actor"][first]), int(log["target"][first])) == (0, 2)
    assert int(log["dropped"]) == 0
    assert int(detect_events(world, after, capacity=1)["dropped"]) == 0  # both events are on one dyad
    b_a = TINY_INDEX[(1, 0)]
    more = after.replace(dyads=replace(after.dyads, sanction=after.dyads.sanction.at[b_a].set(0.7)))
    assert int(detect_events(world, more, capacity=1)["dropped"]) == 1


def test_detect_events_reports_agreement_changes(world):
    from worlds import with_agreement

    signed = with_agreement(world, 0, 2, "sanctions_relief", channel="proxy")
    log = detect_events(world, signed, capacity=2)
    kinds = np.asarray(log["kind"])
    (record,) = np.flatnonzero(kinds >= 0)
    assert ENDOGENOUS_EVENTS[kinds[record]] == "agreement_signed"
    assert (int(log["actor"][record]), int(log["target"][record]), int(log["subject"][record])) == (0, 2, 0)
    assert int(log["detail"][record]) == 2 * 2 + 1  # sanctions_relief through a proxy
