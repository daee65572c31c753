import jax
import numpy as np
import pytest

from diplosim.mechanisms.approval import approval
from diplosim.mechanisms.trust import trust
from diplosim.params import params_from
from diplosim.world import replace
from worlds import TINY_INDEX

KEY = jax.random.key(0)


def test_trust_counts_decay_toward_prior(world):
    e = TINY_INDEX[(0, 2)]
    dyads = replace(world.dyads, trust_alpha=world.dyads.trust_alpha.at[e].set(4.0), trust_beta=world.dyads.trust_beta.at[e].set(1.0))
    after = trust(world.replace(dyads=dyads), params_from({"trust_decay": 0.1, "trust_prior": 2.0}), KEY)
    assert after.dyads.trust_alpha[e] == pytest.approx(2.0 + 0.9 * 2.0)
    assert after.dyads.trust_beta[e] == pytest.approx(2.0 - 0.9 * 1.0)


def test_approval_follows_growth_and_conflict(world):
    params = params_from({"approval_relax": 0.5, "approval_growth": 5.0, "approval_conflict": 0.3, "growth_base": 0.02})
    e, r = TINY_INDEX[(0, 2)], TINY_INDEX[(2, 0)]
    states = replace(world.states, growth=np.array([0.04, 0.02, 0.02], np.float32))
    dyads = replace(world.dyads, conflict=world.dyads.conflict.at[e].set(0.5).at[r].set(0.5))
    after = approval(world.replace(states=states, dyads=dyads), params, KEY)
    target_a = 0.5 + 5.0 * 0.02 - 0.3 * 0.5
    target_c = 0.7 - 0.3 * 0.5
    np.testing.assert_allclose(after.states.approval, [0.5 + 0.5 * (target_a - 0.5), 0.6, 0.7 + 0.5 * (target_c - 0.7)], rtol=1e-6)
