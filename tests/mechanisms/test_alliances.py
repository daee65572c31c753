import jax
import numpy as np
import pytest

from diplosim.mechanisms.alliances import alliances, bloc_threat, shared_threat
from diplosim.params import params_from
from diplosim.world import replace
from worlds import TINY_INDEX

KEY = jax.random.key(0)
A_B, B_A, A_C, C_A, B_C, C_B = (TINY_INDEX[p] for p in [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)])


def test_bloc_threat_is_mean_hostility_received_per_bloc(world):
    tension = world.dyads.tension.at[C_A].set(0.9).at[C_B].set(0.5)
    threat = np.asarray(bloc_threat(world.replace(dyads=replace(world.dyads, tension=tension)), 2)).T  # [N, B]
    # A receives from B (bloc 0) 0.2 and from C (bloc 1) 0.9; C receives 0.2 from A and B (bloc 0)
    np.testing.assert_allclose(threat, [[0.2, 0.9], [0.2, 0.5], [0.2, 0.0]], rtol=1e-6)
    shared = np.asarray(shared_threat(world.replace(dyads=replace(world.dyads, tension=tension)), 2))
    assert shared[A_B] == pytest.approx(0.9 * 0.5)  # A and B, both in bloc 0, both threatened by bloc 1
    assert shared[A_C] == 0.0  # no third bloc


def test_alliance_moves_toward_target_and_stays_symmetric(world):
    params = params_from({"alliance_relax": 0.5, "alliance_bloc": 0.5, "alliance_threat": 0.0,
                          "alliance_trust": 0.6, "alliance_distance": 0.8})
    alpha = world.dyads.trust_alpha.at[A_C].set(6.0)  # A trusts C: 0.75; C trusts A: 0.5
    after = alliances(world.replace(dyads=replace(world.dyads, trust_alpha=alpha)), params, KEY, n_blocs=2)
    a = np.asarray(after.dyads.alliance)
    target_ac = max(0.0, 0.6 * (0.625 - 0.5) - 0.8 * 0.7)
    assert a[A_C] == pytest.approx(0.1 + 0.5 * (target_ac - 0.1)) and a[C_A] == pytest.approx(a[A_C])
    target_ab = 0.5 - 0.8 * 0.075
    assert a[A_B] == pytest.approx(0.8 + 0.5 * (target_ab - 0.8), rel=1e-5)
    np.testing.assert_allclose(a, a[np.asarray(world.dyads.reverse)])
