import jax
import numpy as np
import pytest

from diplosim.mechanisms.decisions import apply_actions, decisions, default_actions, reversed_masks
from diplosim.params import params_from
from diplosim.world import AGREEMENT_KINDS, AGREEMENT_STATUS, replace
from worlds import TINY_INDEX, with_agreement

KEY = jax.random.key(0)
A_C, C_A, B_A, A_B = (TINY_INDEX[p] for p in [(0, 2), (2, 0), (1, 0), (0, 1)])
QUIET = {"signal_rate": 0.0}


def _tense(world, pairs, level):
    tension = world.dyads.tension
    for e in pairs:
        tension = tension.at[e].set(level)
    return world.replace(dyads=replace(world.dyads, tension=tension))


def test_sanctions_rise_on_hostile_non_allies_only(world):
    params = params_from({**QUIET, "sanction_impose_tension": 0.75, "sanction_rate": 0.05, "sanction_ally_limit": 0.3})
    after = decisions(_tense(world, [A_C, B_A], 0.9), params, KEY)
    assert after.dyads.sanction[A_C] == pytest.approx(0.05)
    assert after.dyads.sanction[B_A] == 0.0  # B and A are allies (0.8)


def test_sanctions_lift_when_calm_and_hold_in_between(world):
    params = params_from({**QUIET, "sanction_lift_tension": 0.3, "sanction_rate": 0.05})
    sanctioned = world.replace(dyads=replace(world.dyads, sanction=world.dyads.sanction.at[C_A].set(0.5).at[A_C].set(0.5)))
    after = decisions(_tense(sanctioned, [A_C], 0.5), params, KEY)  # C->A calm (0.2), A->C in between (0.5)
    assert after.dyads.sanction[C_A] == pytest.approx(0.5 * 0.95)
    assert after.dyads.sanction[A_C] == pytest.approx(0.5)


def test_secondary_sanctions_threatened_by_the_stronger_sanctioner_and_dropped_under_a_ceasefire(world):
    params = params_from({**QUIET, "secondary_tension": 0.8, "secondary_rate": 0.1})
    w = _tense(world, [A_C], 0.9)
    w = w.replace(dyads=replace(w.dyads, sanction=w.dyads.sanction.at[A_C].set(0.6)))
    assert decisions(w, params, KEY).dyads.secondary_sanction[A_C] == pytest.approx(0.1)
    threatened = w.replace(dyads=replace(w.dyads, secondary_sanction=w.dyads.secondary_sanction.at[A_C].set(0.5)))
    ceasefire = with_agreement(threatened, 2, 1, "ceasefire")  # C has agreed a ceasefire (with B)
    assert decisions(ceasefire, params, KEY).dyads.secondary_sanction[A_C] == pytest.approx(0.45)


def test_envoys_go_when_tension_is_high_and_a_channel_is_open(world):
    params = params_from({**QUIET, "envoy_tension": 0.25, "envoy_channel": 0.05})
    assert not bool(decisions(world, params, KEY).envoys.active[0])  # tension 0.2
    assert bool(decisions(_tense(world, [C_A], 0.3), params, KEY).envoys.active[0])  # either direction counts
    closed = _tense(world, [A_C], 0.3)
    closed = closed.replace(dyads=replace(closed.dyads, channel=closed.dyads.channel.at[A_C].set(0.0)))
    assert not bool(decisions(closed, params, KEY).envoys.active[0])


def _at_war(world, approval):
    conflict = world.dyads.conflict.at[A_C].set(0.5).at[C_A].set(0.5)
    return world.replace(dyads=replace(world.dyads, conflict=conflict),
                         states=replace(world.states, approval=world.states.approval.at[0].set(approval[0]).at[2].set(approval[2])))


def test_mutual_ceasefire_proposals_sign_a_ceasefire(world):
    params = params_from({**QUIET, "ceasefire_approval": 0.45, "ceasefire_power_share": 0.4})
    after = decisions(_at_war(world, {0: 0.3, 2: 0.3}), params, KEY)
    a = after.agreements
    assert int(a.status[0]) == AGREEMENT_STATUS.index("in_force")
    assert (int(a.party_a[0]), int(a.party_b[0]), int(a.kind[0])) == (0, 2, AGREEMENT_KINDS.index("ceasefire"))
    assert float(a.verification[0]) == pytest.approx(0.8)
    assert int((np.asarray(a.status) == 1).sum()) == 1


def test_an_unanswered_ceasefire_offer_only_sheds_tension(world):
    params = params_from({**QUIET, "ceasefire_approval": 0.45, "goodwill_tension": 0.05})
    after = decisions(_at_war(world, {0: 0.3, 2: 0.9}), params, KEY)
    assert int((np.asarray(after.agreements.status) == 1).sum()) == 0
    assert after.dyads.tension[A_C] == pytest.approx(0.2 - 0.05)
    assert after.dyads.tension[C_A] == pytest.approx(0.2)


def test_military_signals_are_random_and_raise_tension_both_ways(world):
    params = params_from({"signal_rate": 1.0, "signal_threshold": 0.0, "signal_size": 0.3, "signal_tension": 0.25,
                          "sanction_impose_tension": 1.0})
    w = _tense(world, [A_C], 1.0)
    after = decisions(w, params, KEY)
    assert after.dyads.tension[A_C] == pytest.approx(1.0)  # capped
    assert after.dyads.tension[C_A] == pytest.approx(0.2 + 0.3 * 0.25)
    actions = [default_actions(_tense(world, range(6), 0.5), params_from({"signal_rate": 0.5, "signal_threshold": 0.0}), jax.random.key(k)).signal
               for k in range(20)]
    fired = np.mean([np.asarray(s).mean() for s in actions])
    assert 0.1 < fired < 0.4  # chance 0.5 * 0.5 = 0.25 per dyad and step


def test_apply_actions_carries_out_overridden_actions(world):
    params = params_from(QUIET)
    actions = default_actions(world, params, KEY)
    forced = replace(actions, sanction=actions.sanction.at[B_A].set(1.0), dispatch=actions.dispatch.at[0].set(True))
    after = apply_actions(world, params, forced)
    assert after.dyads.sanction[B_A] == pytest.approx(params.sanction_rate)
    assert bool(after.envoys.active[0])


def test_the_two_masks_read_at_the_reverse_dyad_come_back_apart(world):
    """``reversed_masks`` gathers the proposals and the signals at ``reverse`` as the bits of one
    array: each comes back as its own mask at the reverse dyad, every combination of the two bits."""
    rng = np.random.default_rng(0)
    n = world.n_dyads
    first, second = rng.random(n) < 0.5, rng.random(n) < 0.5
    first[:4], second[:4] = [True, True, False, False], [True, False, True, False]
    back_first, back_second = reversed_masks(jax.numpy.asarray(first), jax.numpy.asarray(second), world.dyads)
    reverse = np.asarray(world.dyads.reverse)
    assert back_first.dtype == bool and back_second.dtype == bool
    np.testing.assert_array_equal(np.asarray(back_first), first[reverse])
    np.testing.assert_array_equal(np.asarray(back_second), second[reverse])
