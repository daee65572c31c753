"""Gathers in rows (``world.take_rows``): the values a dyad reads from one state at once come from one
row of a table, in one read of memory, rather than one gather per array; the same values, bit for bit
(benchmarks/ROOFLINE.md, change 26)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diplosim import world as W
from diplosim.scenario import synthetic_scenario

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import variants  # noqa: E402


@pytest.mark.parametrize("n_columns", [1, 7, 8, 9])
def test_take_rows_is_take_column_by_column(n_columns):
    """Any number of columns (padded to rows of 8 or 16 floats), indices repeated and at both ends."""
    rng = np.random.default_rng(n_columns)
    columns = [jnp.asarray(rng.normal(size=50).astype(np.float32)) for _ in range(n_columns)]
    index = jnp.asarray(np.concatenate([[0, 49, 49], rng.integers(0, 50, 200)]).astype(np.int32))
    got = jax.jit(W.take_rows)(columns, index)
    assert len(got) == n_columns
    for column, value in zip(columns, got):
        assert value.dtype == jnp.float32 and value.shape == index.shape
        np.testing.assert_array_equal(np.asarray(value), np.asarray(column)[np.asarray(index)])


def test_the_position_distance_is_the_same_as_with_a_gather_per_array():
    """Bit for bit, and the docstring's formula in float64 to float32's precision."""
    world = synthetic_scenario(500).world
    s, d = world.states, world.dyads
    got = np.asarray(jax.jit(W.dyad_position_distance)(s, d))
    by_array = jax.jit(variants._position_distance_by_array)(s.position, s.salience, d.src, d.dst)  # before change 26
    np.testing.assert_array_equal(got, np.asarray(by_array))
    x, w = np.asarray(s.position, np.float64), np.asarray(s.salience, np.float64)
    i, j = np.asarray(d.src), np.asarray(d.dst)
    gap = np.abs(x[i] - x[j])
    expected = 0.5 * ((w[i] * gap).sum(1) / (w[i].sum(1) + 1e-6) + (w[j] * gap).sum(1) / (w[j].sum(1) + 1e-6))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_the_position_distance_gathers_one_row_at_each_end():
    """The compiled distance holds two gathers, each of a row of 8 floats: not one per array."""
    world = synthetic_scenario(500).world
    text = jax.jit(W.dyad_position_distance).lower(world.states, world.dyads).compile().as_text()
    gathers = [line for line in text.splitlines() if re.search(r"\bgather\(", line)]
    assert len(gathers) == 2, gathers
    assert all("slice_sizes={1,8}" in line for line in gathers), gathers
