import re
import sys
from pathlib import Path

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


def _gathers_per_loop(text: str, n_states: int, n_dyads: int) -> dict[str, tuple[int, int]]:
    """For each computation of a compiled program: its gathers of dyad length from a table of dyads and
    from a table of states (or bins of a few per state), as ``benchmarks/program.py`` tells them apart."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from program import computations, gathers

    comps = computations(text)
    found = {name: gathers({name: lines}, name, n_states, n_dyads) for name, lines in comps.items()}
    return {name: (c["dyad_gathers"], c["state_gathers"]) for name, c in found.items() if any(c.values())}


@pytest.mark.parametrize("gpu", [False, True])
def test_on_a_cpu_the_reverse_trust_is_gathered_in_a_loop_of_its_own(monkeypatch, gpu):
    """Change 32: on a CPU the reverse trust's random reads (a 40 MB table at 10^6 states) cost less alone
    than inside the target's loop with its gathers of the blocs' threats at both ends.  On a CPU the gather
    is written into memory (a second ``materialise``, a scatter) and no loop of the compiled alliances
    gathers from a table of dyads and from one of states both; the GPU's program keeps the gather as
    ``reverse_of`` gives it.  Either way the alliances are those of the gather left in the target, bit for bit."""
    from diplosim import world as world_module
    from diplosim.mechanisms import alliances as alliances_module
    from diplosim.scenario import synthetic_scenario
    from diplosim.world import trust_mean

    world = synthetic_scenario(300).world
    params = params_from({})
    monkeypatch.setattr(world_module, "GPU_PROGRAM", gpu)  # read while tracing: each jit below is a new lambda
    jaxpr = jax.make_jaxpr(lambda d: alliances_module.reverse_trust(trust_mean(d), d))(world.dyads)
    assert len(re.findall(r"= scatter-max\[", str(jaxpr))) == (1 if gpu else 2)  # reverse_of's materialise, and the CPU's own
    compiled = jax.jit(lambda w: alliances(w, params, KEY, n_blocs=world.n_blocs)).lower(world).compile()
    if not gpu:
        loops = _gathers_per_loop(compiled.as_text(), world.n_states, world.n_dyads)
        assert sum(dyad for dyad, _ in loops.values()) >= 2, loops  # the reverse trust, the alliance's symmetry
        assert [name for name, (dyad, state) in loops.items() if dyad and state] == [], loops
    ours = compiled(world)
    monkeypatch.setattr(alliances_module, "reverse_trust", world_module.reverse_of)
    fused = jax.jit(lambda w: alliances(w, params, KEY, n_blocs=world.n_blocs))(world)
    np.testing.assert_array_equal(np.asarray(ours.dyads.alliance), np.asarray(fused.dyads.alliance))
    assert np.asarray(ours.dyads.alliance).std() > 0  # alliances that differ between dyads
