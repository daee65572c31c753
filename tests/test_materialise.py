"""``materialise`` must really make XLA compute an array once before a gather reads it.

Without it, XLA on a CPU fuses the producer into the gather and recomputes it
at every gathered index (the tension update ran 7x slower that way).  The
check reads the compiled program: no fused computation may both gather and
evaluate the producer's (distinctive) sine.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np

from diplosim.world import materialise


def _fusions_gathering_sine(fn, *args) -> list[str]:
    text = jax.jit(fn).lower(*args).compile().as_text()
    bodies = re.findall(r"^(%\S+) .*?\{\n(.*?)^\}", text, re.S | re.M)
    return [name for name, body in bodies if " gather(" in body and " sine(" in body]


def test_materialise_keeps_the_producer_out_of_the_gather():
    x = jnp.asarray(np.random.default_rng(0).random(4096, dtype=np.float32))
    order = jnp.asarray(np.random.default_rng(1).permutation(4096).astype(np.int32))

    def plain(x, order):
        y = jnp.sin(x) * 2.0 + 1.0
        return jnp.maximum(y, y[order])

    def settled(x, order):
        y = materialise(jnp.sin(x) * 2.0 + 1.0)
        return jnp.maximum(y, y[order])

    assert _fusions_gathering_sine(plain, x, order), "the check no longer sees XLA's fusion; revisit it"
    assert not _fusions_gathering_sine(settled, x, order)
    np.testing.assert_array_equal(jax.jit(settled)(x, order), jax.jit(plain)(x, order))


def test_materialise_leaves_values_unchanged():
    for values in (jnp.arange(5.0), jnp.array([True, False]), jnp.arange(6, dtype=jnp.int32).reshape(3, 2), jnp.zeros(0)):
        np.testing.assert_array_equal(jax.jit(materialise)(values), values)
