import jax
import numpy as np
import pytest

from diplosim.mechanisms.tension import capped_by_ceasefires, ceasefire_cap, tension_and_conflict, tension_drive
from diplosim.params import params_from
from diplosim.world import AGREEMENT_KINDS, AGREEMENT_STATUS, replace
from worlds import TINY_INDEX

KEY = jax.random.key(0)
A_B, A_C, C_A = TINY_INDEX[(0, 1)], TINY_INDEX[(0, 2)], TINY_INDEX[(2, 0)]
B_C, C_B = TINY_INDEX[(1, 2)], TINY_INDEX[(2, 1)]
QUIET = {"tension_noise": 0.0}


def test_drive_by_hand(world):
    params = params_from({**QUIET, "tension_base": 0.05, "tension_sanction": 0.3, "tension_distance": 0.4,
                          "tension_alliance": 0.4, "tension_trust": 0.3, "tension_conflict": 0.5})
    w = world.replace(dyads=replace(world.dyads, sanction=world.dyads.sanction.at[C_A].set(0.5)))
    drive = np.asarray(tension_drive(w, params))
    # A->C: positions 0.2 vs 0.9 on issue 0; A's salience (1, 0), C's (1, 0): distance 0.7
    assert drive[A_C] == pytest.approx(0.05 + 0.3 * 0.5 + 0.4 * 0.7 - 0.4 * 0.1, abs=1e-6)
    # A->B: distance 1/2 (0.1 + (0.5 * 0.1) / 1) = 0.075, alliance 0.8 pulls below 0: clipped
    assert drive[A_B] == 0.0


def test_conflict_escalates_only_against_a_weaker_coalition_and_stays_symmetric(world):
    params = params_from({**QUIET, "conflict_threshold": 0.6, "conflict_escalation": 0.2, "tension_relax": 0.0})
    tension = world.dyads.tension.at[A_C].set(0.9).at[C_A].set(0.7)
    after = tension_and_conflict(world.replace(dyads=replace(world.dyads, tension=tension)), params, KEY)
    c = np.asarray(after.dyads.conflict)
    # C's allies bring 0.1 * 100 + 0.1 * 50 = 15: A (100) is barely stronger than C (80) and its friends
    from_a = 0.2 * 0.3 * (2 * 100 / (100 + 80 + 15) - 1)
    # A's allies bring 0.8 * 50 + 0.1 * 80 = 48: C is deterred
    assert c[A_C] == pytest.approx(from_a, rel=1e-4) and c[C_A] == pytest.approx(c[A_C])
    assert c[A_B] == 0.0
    # with B as a strong ally of C, A is deterred too
    alliance = world.dyads.alliance.at[B_C].set(1.0).at[C_B].set(1.0)
    deterred = tension_and_conflict(world.replace(dyads=replace(world.dyads, tension=tension, alliance=alliance)), params, KEY)
    assert float(deterred.dyads.conflict.max()) == 0.0


def test_a_war_persists_while_tension_stays_high_and_calms_below_threshold(world):
    params = params_from({**QUIET, "conflict_threshold": 0.6, "conflict_deescalation": 0.05, "tension_relax": 0.0})
    conflict = world.dyads.conflict.at[A_C].set(0.5).at[C_A].set(0.5)
    hot = world.dyads.tension.at[A_C].set(0.9).at[C_A].set(0.9)
    kept = tension_and_conflict(world.replace(dyads=replace(world.dyads, tension=hot, conflict=conflict)), params, KEY)
    assert float(kept.dyads.conflict[A_C]) >= 0.5
    calm = tension_and_conflict(world.replace(dyads=replace(world.dyads, conflict=conflict)), params, KEY)
    assert calm.dyads.conflict[A_C] == pytest.approx(0.5 - 0.05 * (0.6 - 0.2))


def test_ceasefire_caps_conflict(world):
    params = params_from({**QUIET, "ceasefire_cap": 0.1})
    a = world.agreements
    agreements = replace(a, party_a=a.party_a.at[0].set(2), party_b=a.party_b.at[0].set(0),
                         kind=a.kind.at[0].set(AGREEMENT_KINDS.index("ceasefire")),
                         status=a.status.at[0].set(AGREEMENT_STATUS.index("in_force")))
    dyads = replace(world.dyads, conflict=world.dyads.conflict.at[A_C].set(0.8).at[C_A].set(0.8))
    after = tension_and_conflict(world.replace(agreements=agreements, dyads=dyads), params, KEY)
    assert after.dyads.conflict[A_C] == pytest.approx(0.1) and after.dyads.conflict[C_A] == pytest.approx(0.1)



def _with_ceasefire(world, status: str):
    a = world.agreements
    return world.replace(agreements=replace(a, party_a=a.party_a.at[0].set(2), party_b=a.party_b.at[0].set(0),
                                            kind=a.kind.at[0].set(AGREEMENT_KINDS.index("ceasefire")),
                                            status=a.status.at[0].set(AGREEMENT_STATUS.index(status))))


@pytest.mark.parametrize("status", ["in_force", "violated", "empty"])
def test_the_cap_is_taken_only_in_a_step_with_a_ceasefire_in_force(world, status):
    """``capped_by_ceasefires`` skips the pass where no ceasefire is in force: the same values as the
    cap taken at every dyad, capped only where one is."""
    params = params_from({**QUIET, "ceasefire_cap": 0.1})
    w = _with_ceasefire(world, status)
    conflict = world.dyads.conflict.at[A_C].set(0.8).at[C_A].set(0.8).at[A_B].set(0.6)
    got = np.asarray(jax.jit(capped_by_ceasefires)(w, params, conflict))
    np.testing.assert_array_equal(got, np.minimum(np.asarray(conflict), np.asarray(ceasefire_cap(w, params))))
    capped = status == "in_force"
    assert (got[A_C], got[C_A]) == ((np.float32(0.1),) * 2 if capped else (np.float32(0.8),) * 2)
    assert got[A_B] == (np.float32(0.1) if capped else np.float32(0.6))  # A is a party: its every dyad


def test_incidents_depend_on_the_key_and_stay_in_range(world):
    params = params_from({"tension_noise": 0.5})
    one = tension_and_conflict(world, params, jax.random.key(1)).dyads.tension
    two = tension_and_conflict(world, params, jax.random.key(2)).dyads.tension
    again = tension_and_conflict(world, params, jax.random.key(1)).dyads.tension
    assert not np.allclose(one, two)
    np.testing.assert_array_equal(one, again)
    assert float(one.min()) >= 0.0 and float(one.max()) <= 1.0
