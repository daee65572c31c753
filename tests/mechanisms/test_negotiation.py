import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diplosim.bargaining import bargain_round
from diplosim.mechanisms.negotiation import ENVOY_ROUNDS, SUMMIT_ROUNDS, negotiation
from diplosim.params import params_from
from diplosim.world import AGREEMENT_KINDS, AGREEMENT_STATUS, CHANNELS, replace
from worlds import TINY_INDEX

KEY = jax.random.key(0)
B_A = TINY_INDEX[(1, 0)]
IN_FORCE = AGREEMENT_STATUS.index("in_force")


def _quiet_envoys(world):
    return world.replace(envoys=replace(world.envoys, active=world.envoys.active & False))


def test_summit_participants_bargain_as_the_submodel_says_and_the_excluded_resent_it(world):
    params = params_from({"summit_speed": 0.8, "flexibility_floor": 0.3})
    w = _quiet_envoys(world).replace(step=world.step + 1)  # the summit (A, C on issue 0; B excluded) fires
    after = negotiation(w, params, KEY)
    s = w.states
    x, c, sal = s.position[jnp.array([0, 2]), 0], s.power[jnp.array([0, 2])], s.salience[jnp.array([0, 2]), 0]
    speed = 0.8 * (0.3 + 0.7 * s.approval[jnp.array([0, 2])])
    for _ in range(SUMMIT_ROUNDS):
        x = bargain_round(x, c, sal, jnp.array([True, True]), speed)
    np.testing.assert_allclose(after.states.position[jnp.array([0, 2]), 0], x, rtol=1e-6)
    gap_before = abs(0.2 - 0.9)
    assert abs(float(x[0] - x[1])) < gap_before
    assert after.states.position[1, 0] == pytest.approx(0.3)  # B is not at the table
    assert after.dyads.alliance[B_A] < world.dyads.alliance[B_A]  # and resents it


def test_close_positions_sign_the_issues_agreement_and_move_approval(world):
    params = params_from({"agreement_gap": 0.1, "approval_deal": 0.1})
    position = world.states.position.at[0, 0].set(0.5).at[2, 0].set(0.55)
    w = _quiet_envoys(world).replace(step=world.step + 1, states=replace(world.states, position=position))
    after = negotiation(w, params, KEY)
    a = after.agreements
    assert int(a.status[0]) == IN_FORCE
    assert (int(a.party_a[0]), int(a.party_b[0])) == (0, 2)
    assert int(a.kind[0]) == AGREEMENT_KINDS.index("ceasefire")  # issue 0 -> ceasefire in the tiny world
    assert float(a.verification[0]) == pytest.approx(params.verification_official)
    terms = float(a.terms[0])
    assert terms == pytest.approx(0.5 * float(after.states.position[0, 0] + after.states.position[2, 0]))
    # a deal near home is a gain: A started at 0.5 with salience 1
    expected_a = 0.5 + 0.1 * 1.0 * (1 - 2 * abs(0.5 - terms))
    assert float(after.states.approval[0]) == pytest.approx(expected_a, rel=1e-5)


def test_an_issue_without_an_agreement_kind_signs_nothing(world):
    position = world.states.position.at[0, 0].set(0.5).at[2, 0].set(0.52)
    w = _quiet_envoys(world).replace(step=world.step + 1, states=replace(world.states, position=position),
                                     issue_agreement=jnp.array([-1, -1], jnp.int32))
    after = negotiation(w, params_from(), KEY)
    assert int((np.asarray(after.agreements.status) == IN_FORCE).sum()) == 0


@pytest.mark.parametrize("approval", [0.9, 0.1])
def test_proxy_envoys_move_faster_than_official_ones_and_low_approval_slows_both(world, approval):
    moved = {}
    for channel in CHANNELS:
        envoys = replace(world.envoys, channel=jnp.array([CHANNELS.index(channel)], jnp.int32))
        states = replace(world.states, approval=jnp.full(3, approval, jnp.float32))
        after = negotiation(world.replace(envoys=envoys, states=states), params_from(), KEY)  # step 0: no summit
        moved[channel] = float(jnp.abs(after.states.position[jnp.array([0, 2]), 0] - world.states.position[jnp.array([0, 2]), 0]).sum())
    assert moved["proxy"] > moved["official"] > 0
    assert ENVOY_ROUNDS >= 1


def test_low_approval_means_smaller_concessions(world):
    def movement(approval):
        states = replace(world.states, approval=jnp.full(3, approval, jnp.float32))
        after = negotiation(world.replace(states=states), params_from(), KEY)
        return float(jnp.abs(after.states.position - world.states.position).sum())

    assert movement(0.1) < movement(0.9)


def test_negotiation_jit_equals_eager(world):
    w = world.replace(step=world.step + 1)
    eager = negotiation(w, params_from(), KEY)
    jitted = jax.jit(negotiation)(w, params_from(), KEY)
    for x, y in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
