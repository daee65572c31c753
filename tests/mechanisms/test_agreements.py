import jax
import numpy as np
import pytest

from diplosim.mechanisms.agreements import Candidates, agreements, sign
from diplosim.params import params_from
from diplosim.world import AGREEMENT_STATUS, replace
from worlds import TINY_INDEX, with_agreement

KEY = jax.random.key(3)
A_C, C_A, A_B = TINY_INDEX[(0, 2)], TINY_INDEX[(2, 0)], TINY_INDEX[(0, 1)]
IN_FORCE, VIOLATED, EXPIRED = (AGREEMENT_STATUS.index(s) for s in ("in_force", "violated", "expired"))


def _reliability(world, value):
    return world.replace(states=replace(world.states, reliability=world.states.reliability * 0 + value))


def test_a_detected_violation_costs_trust_raises_tension_and_snaps_sanctions_back(world):
    params = params_from({"violation_rate": 1.0, "violation_trust": 4.0, "violation_tension": 0.3, "snapback_sanction": 0.8})
    w = _reliability(with_agreement(world, 0, 2, "ceasefire", verification=1.0), 0.0)
    after = agreements(w, params, KEY)
    d = after.dyads
    assert int(after.agreements.status[0]) == VIOLATED
    assert d.trust_beta[A_C] == pytest.approx(6.0) and d.trust_beta[C_A] == pytest.approx(6.0)
    assert d.tension[A_C] == pytest.approx(0.5) and d.tension[C_A] == pytest.approx(0.5)
    assert d.sanction[A_C] == pytest.approx(0.8) and d.sanction[C_A] == pytest.approx(0.8)
    assert d.tension[A_B] == pytest.approx(0.2)


@pytest.mark.parametrize("channel, gain", [("official", 0.2), ("proxy", 0.1)])
def test_compliance_earns_trust_less_through_a_proxy(world, channel, gain):
    params = params_from({"compliance_trust": 0.2, "proxy_trust_factor": 0.5})
    after = agreements(_reliability(with_agreement(world, 0, 2, "territorial", channel=channel), 1.0), params, KEY)
    assert int(after.agreements.status[0]) == IN_FORCE and int(after.agreements.age[0]) == 1
    assert after.dyads.trust_alpha[A_C] == pytest.approx(2.0 + gain) and after.dyads.trust_alpha[C_A] == pytest.approx(2.0 + gain)


def test_unverified_violations_go_unseen(world):
    params = params_from({"violation_rate": 1.0})
    after = agreements(_reliability(with_agreement(world, 0, 2, "ceasefire", verification=0.0), 0.0), params, KEY)
    assert int(after.agreements.status[0]) == IN_FORCE


def test_agreements_expire(world):
    params = params_from({"agreement_duration": 10.0})
    after = agreements(_reliability(with_agreement(world, 0, 2, "ceasefire", age=9), 1.0), params, KEY)
    assert int(after.agreements.status[0]) == EXPIRED


def test_relief_lowers_sanctions_and_restoration_opens_channels(world):
    params = params_from({"relief_rate": 0.2})
    d = replace(world.dyads, sanction=world.dyads.sanction.at[A_C].set(0.5), channel=world.dyads.channel.at[A_C].set(0.1).at[C_A].set(0.1))
    w = with_agreement(with_agreement(world.replace(dyads=d), 0, 2, "sanctions_relief"), 2, 0, "channel_restoration", slot=1)
    after = agreements(_reliability(w, 1.0), params, KEY)
    assert after.dyads.sanction[A_C] == pytest.approx(0.4)
    assert after.dyads.channel[A_C] == pytest.approx(0.9) and after.dyads.channel[C_A] == pytest.approx(0.9)


def test_proxy_commitments_break_more_often(world):
    params = params_from({"violation_rate": 0.2, "proxy_violation_factor": 3.0})
    keys = jax.random.split(KEY, 400)
    run = jax.vmap(agreements, in_axes=(None, None, 0))
    broken = {}
    for channel in ("official", "proxy"):
        w = _reliability(with_agreement(world, 0, 2, "territorial", channel=channel, verification=1.0), 0.5)
        broken[channel] = float((np.asarray(run(w, params, keys).agreements.status[:, 0]) == VIOLATED).mean())
    # P(either party breaks) = 1 - (1 - 0.2 * 0.5 * f)^2: 0.19 official, 0.51 proxy
    assert broken["official"] == pytest.approx(0.19, abs=0.06)
    assert broken["proxy"] == pytest.approx(0.51, abs=0.07)


def _candidates(pairs, kind=0):
    n = len(pairs)
    return Candidates(
        valid=np.ones(n, bool), party_a=np.array([p[0] for p in pairs], np.int32), party_b=np.array([p[1] for p in pairs], np.int32),
        kind=np.full(n, kind, np.int32), issue=np.zeros(n, np.int32), terms=np.full(n, 0.4, np.float32),
        verification=np.full(n, 0.7, np.float32), channel=np.zeros(n, np.int32),
    )


def test_sign_fills_free_slots_and_skips_duplicates(world):
    w = with_agreement(world, 0, 2, "ceasefire", slot=1)
    after, signed = sign(w, _candidates([(2, 0), (0, 1), (1, 0), (1, 2)]))
    # (2, 0) repeats the ceasefire in force; (1, 0) repeats (0, 1) in the same batch
    np.testing.assert_array_equal(signed, [False, True, False, True])
    a = after.agreements
    np.testing.assert_array_equal(a.status, [IN_FORCE, IN_FORCE, IN_FORCE, 0])
    assert (int(a.party_a[0]), int(a.party_b[0])) == (0, 1) and (int(a.party_a[2]), int(a.party_b[2])) == (1, 2)
    assert float(a.terms[0]) == pytest.approx(0.4)


def test_sign_drops_what_does_not_fit(world):
    full = world
    for slot in range(4):
        full = with_agreement(full, 0, 1, "territorial", slot=slot, issue=slot)
    _, signed = sign(full, _candidates([(0, 2)]))
    assert not bool(signed[0])


def test_a_broken_ceasefire_lets_the_breakers_wars_restart(world):
    params = params_from({"violation_rate": 1.0, "violation_relapse": 0.5, "conflict_threshold": 0.6})
    w = _reliability(with_agreement(world, 0, 1, "ceasefire", verification=1.0), 0.0)  # A and B agree, A breaks
    w = w.replace(states=replace(w.states, reliability=w.states.reliability.at[1].set(1.0),
                                 conflict_baseline=w.states.conflict_baseline.at[0].set(0.6).at[2].set(0.6)))
    w = w.replace(dyads=replace(w.dyads, tension=w.dyads.tension.at[A_C].set(0.9)))  # A is hostile to C
    after = agreements(w, params, KEY)
    assert int(after.agreements.status[0]) == VIOLATED
    assert after.dyads.conflict[A_C] == pytest.approx(0.5) and after.dyads.conflict[C_A] == pytest.approx(0.5)
    assert after.dyads.conflict[A_B] == 0.0  # tension 0.2 there: no war to restart
    # a hostile neighbour that was not at war at the start is not drawn in
    peaceful = w.replace(states=replace(w.states, conflict_baseline=w.states.conflict_baseline.at[2].set(0.0)))
    assert float(agreements(peaceful, params, KEY).dyads.conflict.max()) == 0.0
