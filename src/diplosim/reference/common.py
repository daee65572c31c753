"""Helpers the reference mechanisms share: per-agent formulas over plain Python values.

The reference engine reads a world's arrays as Python lists (``tolist``),
updates every agent in a plain loop, and writes float32 arrays back, so a
mechanism's output is a ``World`` of the same dtypes as the JAX core's.
Arithmetic inside a mechanism is Python float (float64); the world is
float32 between mechanisms, as in the core.
"""

from __future__ import annotations

from bisect import bisect_left

import jax
import numpy as np

F32 = np.float32


def f32(x: float) -> float:
    """``x`` rounded to float32, as a Python float.

    Used only where the core compares a float32 result or constant exactly
    (ties, thresholds given as Python literals): there float64 arithmetic
    could decide differently from float32.
    """
    return float(F32(x))


def floats(values) -> np.ndarray:
    """A list of Python floats as the world's float32 array."""
    return np.asarray(values, dtype=F32)


def ints(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int32)


def clip(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return min(max(x, lo), hi)


def host(tree):
    """Any pytree (a World, Params, Actions) with every array as a host numpy array."""
    return jax.tree.map(np.asarray, jax.device_get(tree))


def draw(sampler, key: jax.Array, shape, *args) -> list:
    """The core's random draw ``sampler(key, shape)`` (one ``jax.random`` call), as a nested list of floats."""
    return np.asarray(sampler(key, shape, *args)).tolist()


def trust_mean(alpha: float, beta: float) -> float:
    """i's expected reliability of j: alpha / (alpha + beta)."""
    return alpha / (alpha + beta)


def position_distance(x_i: list, s_i: list, total_i: float, x_j: list, s_j: list, total_j: float) -> float:
    """Salience-weighted distance of two states' positions, symmetrised, in [0, 1].

    d_ij = 1/2 (sum_k s_ik |x_ik - x_jk| / (sum_k s_ik + 1e-6) + same with s_j);
    ``total_i`` = sum_k s_ik + 1e-6 (``salience_totals``).
    """
    weighted_i = weighted_j = 0.0
    for k in range(len(x_i)):
        gap = abs(x_i[k] - x_j[k])
        weighted_i += s_i[k] * gap
        weighted_j += s_j[k] * gap
    return 0.5 * (weighted_i / total_i + weighted_j / total_j)


def salience_totals(salience: list) -> list:
    """sum_k s_ik + 1e-6 for every state (the denominators of ``position_distance``)."""
    return [sum(row) + 1e-6 for row in salience]


def highest_conflict(conflict: list, dst: list, n_states: int) -> list:
    """Each state's highest conflict intensity over the dyads arriving at it (0 if none), in [0, 1]."""
    worst = [0.0] * n_states
    for e, j in enumerate(dst):
        worst[j] = max(worst[j], conflict[e])
    return [clip(c) for c in worst]


def find_dyad(src: list, dst: list, i: int, j: int) -> int | None:
    """Index of the dyad i -> j, or None: a binary search, since dyads are sorted by (dst, src)."""
    e = bisect_left(range(len(src)), (j, i), key=lambda e: (dst[e], src[e]))
    return e if e < len(src) and src[e] == i and dst[e] == j else None
