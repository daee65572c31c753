"""diplosim.draws gives jax.random's numbers bit for bit, from one fused pass."""

import jax
import numpy as np
import pytest

from diplosim import draws

SHAPES = [(0,), (1,), (2,), (7,), (1000,), (33, 5)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2**31 - 1])
def test_same_numbers_as_jax_random(shape, seed):
    key = jax.random.fold_in(jax.random.key(seed), 7)
    for ours, theirs in [(draws.uniform, jax.random.uniform), (draws.normal, jax.random.normal)]:
        got = jax.jit(ours, static_argnums=1)(key, shape)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(theirs(key, shape)))


def test_same_numbers_under_vmap():
    keys = jax.random.split(jax.random.key(5), 4)
    got = jax.vmap(lambda key: draws.normal(key, (50,)))(keys)
    want = jax.vmap(lambda key: jax.random.normal(key, (50,)))(keys)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_same_numbers_without_partitionable_threefry():
    key = jax.random.key(9)
    with jax.threefry_partitionable(False):  # the other counter scheme: jax.random's own bits are used
        np.testing.assert_array_equal(np.asarray(draws.uniform(key, (9,))), np.asarray(jax.random.uniform(key, (9,))))


def test_the_hash_compiles_without_a_loop():
    """JAX's CPU lowering of threefry is a loop of five rounds over memory; ours must stay one pass."""
    theirs = jax.jit(lambda key: jax.random.normal(key, (4096,))).lower(jax.random.key(0)).compile().as_text()
    ours = jax.jit(lambda key: draws.normal(key, (4096,))).lower(jax.random.key(0)).compile().as_text()
    if jax.default_backend() == "cpu":
        assert " while(" in theirs  # what this module exists to avoid; if JAX changes, so may this module
    assert " while(" not in ours
