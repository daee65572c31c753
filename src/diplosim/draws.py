"""Random draws over dyads: ``jax.random``'s own numbers, generated in one pass.

``uniform(key, shape)`` and ``normal(key, shape)`` return exactly (bit for bit) what
``jax.random.uniform`` and ``jax.random.normal`` return for the same threefry key.  Only the
way the random bits are computed differs.  On a CPU, JAX lowers the threefry hash as a loop of
five rounds, each reading and writing two uint32 arrays of the draw's length: for the 10^7
incidents of a 10^6-state world that is 125 ms of memory traffic a draw, a tenth of the step.
Here the same hash is written out round by round (``threefry2x32``), so XLA computes it
inside one fused loop, without the round trips to memory (benchmarks/ROOFLINE.md).

The numbers are the same because the key is wrapped, unchanged, in a PRNG implementation
(``jax.extend.random.define_prng_impl``) that is threefry's in all but its ``random_bits``; the
uniform and normal transforms are then ``jax.random``'s.  The reference engine draws with
``jax.random`` itself, and the docking tests compare the two engines step by step.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import define_prng_impl, threefry_prng_impl

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _rotate_left(value: jax.Array, bits: int) -> jax.Array:
    return (value << np.uint32(bits)) | (value >> np.uint32(32 - bits))


def threefry2x32(k1: jax.Array, k2: jax.Array, x1: jax.Array, x2: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The Threefry-2x32 hash (20 rounds) of the counter pairs (x1, x2) under the key (k1, k2),
    as ``jax.extend.random.threefry2x32_p`` computes it, written out as elementwise operations."""
    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for group in range(5):
        for rotation in _ROTATIONS[group % 2]:
            x1 = x1 + x2
            x2 = x1 ^ _rotate_left(x2, rotation)
        x1 = x1 + ks[(group + 1) % 3]
        x2 = x2 + ks[(group + 2) % 3] + np.uint32(group + 1)
    return x1, x2


def _random_bits(key: jax.Array, bit_width: int, shape: tuple[int, ...]) -> jax.Array:
    """``jax.random.bits`` of a threefry key with ``jax_threefry_partitionable`` (JAX's default):
    the hash of each element's flat index, as a (high, low) pair of uint32 words."""
    size = math.prod(shape)
    if bit_width != 32 or size >= 2**32 or not jax.config.jax_threefry_partitionable:
        return threefry_prng_impl.random_bits(key, bit_width, shape)
    low = jax.lax.iota(np.uint32, size).reshape(shape)  # indices below 2^32: the high words are 0
    bits1, bits2 = threefry2x32(key[0], key[1], jnp.zeros_like(low), low)
    return bits1 ^ bits2


FUSED_THREEFRY = define_prng_impl(
    key_shape=threefry_prng_impl.key_shape,
    seed=threefry_prng_impl.seed,
    split=threefry_prng_impl.split,
    random_bits=_random_bits,
    fold_in=threefry_prng_impl.fold_in,
    name="diplosim_fused_threefry2x32",
    tag="dfry",
)


def _fused(key: jax.Array) -> jax.Array:
    return jax.random.wrap_key_data(jax.random.key_data(key), impl=FUSED_THREEFRY)


def uniform(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """``jax.random.uniform(key, shape, dtype)`` for a threefry ``key``, bit for bit."""
    return jax.random.uniform(_fused(key), shape, dtype)


def normal(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """``jax.random.normal(key, shape, dtype)`` for a threefry ``key``, bit for bit."""
    return jax.random.normal(_fused(key), shape, dtype)
