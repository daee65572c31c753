"""``materialise`` must really make XLA compute an array once before a gather reads it.

Without it, XLA on a CPU fuses an array's producer into the gather that reads
it and recomputes the producer at every gathered index: the tension update
ran 7x slower on a 10^5-state world that way, because XLA's simplifier had
deleted an earlier, single-update version of ``materialise``.  The check
reads the compiled program: inside each fused computation, the array a
gather reads may only be a parameter or a cheap view of one.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np

from diplosim.mechanisms.tension import tension_and_conflict
from diplosim.params import params_from
from diplosim.scenario import synthetic_scenario
from diplosim.world import materialise, take

CHEAP = {"parameter", "constant", "bitcast", "broadcast", "slice", "reshape", "dynamic-update-slice", "convert", "iota"}


def recomputed_by_gathers(fn, *args) -> int:
    """The most non-trivial operations any gather of the compiled ``fn`` evaluates to get the array it reads."""
    text = jax.jit(fn).lower(*args).compile().as_text()
    worst = 0
    for body in re.findall(r"^%\S+ .*?\{\n(.*?)^\}", text, re.S | re.M):
        defs = dict(re.findall(r"^\s*(%[\w.\-]+) = (.*)$", body, re.M))
        for rhs in defs.values():
            if " gather(" not in rhs:
                continue
            seen, stack, cost = set(), [re.search(r"gather\((%[\w.\-]+)", rhs).group(1)], 0
            while stack:
                name = stack.pop()
                if name in seen or name not in defs:
                    continue
                seen.add(name)
                op = re.search(r"\s([\w\-]+)\(", defs[name]).group(1)
                cost += op not in CHEAP
                if op != "parameter":
                    stack += re.findall(r"(%[\w.\-]+)", defs[name].split("(", 1)[1])
            worst = max(worst, cost)
    return worst


def test_materialise_keeps_the_producer_out_of_the_gather():
    x = jnp.asarray(np.random.default_rng(0).random(4096, dtype=np.float32))
    order = jnp.asarray(np.random.default_rng(1).permutation(4096).astype(np.int32))

    def plain(x, order):
        y = jnp.sin(jnp.cos(x) * 2.0 + 1.0)
        return jnp.maximum(y, y[order])

    def settled(x, order):
        y = materialise(jnp.sin(jnp.cos(x) * 2.0 + 1.0))
        return jnp.maximum(y, y[order])

    assert recomputed_by_gathers(plain, x, order) >= 3, "the check no longer sees XLA's fusion; revisit it"
    assert recomputed_by_gathers(settled, x, order) == 0
    np.testing.assert_array_equal(jax.jit(settled)(x, order), jax.jit(plain)(x, order))


def test_tension_gathers_read_computed_arrays():
    world = synthetic_scenario(200, n_envoys=4).world
    cost = recomputed_by_gathers(lambda w, p, k: tension_and_conflict(w, p, k).dyads.conflict, world, params_from(), jax.random.key(0))
    assert cost <= 2, f"a gather in the tension update recomputes {cost} operations per read"


def test_materialise_leaves_values_unchanged():
    """Bit for bit, at the two rows it writes too: NaN, infinities, -0.0 and the lowest integer included."""
    for values in (jnp.arange(5.0), jnp.array([True, False]), jnp.arange(6, dtype=jnp.int32).reshape(3, 2), jnp.zeros(0),
                   jnp.array([np.nan, 1.0, -np.inf]), jnp.array([-0.0, np.inf, -0.0]), jnp.array([-0.0]),
                   jnp.array([np.iinfo(np.int32).min, 0, np.iinfo(np.int32).min], jnp.int32), jnp.array([False, True, False]),
                   jnp.array([[np.nan, -0.0], [1.0, 2.0]]), jnp.array([3, 0], jnp.uint32)):
        for fn in (materialise, jax.jit(materialise)):
            got = np.asarray(fn(values))
            assert got.dtype == values.dtype and got.shape == values.shape
            np.testing.assert_array_equal(got.view(np.uint8), np.asarray(values).view(np.uint8))


def test_materialise_is_the_only_reader_of_what_it_writes():
    """Its scatter writes a constant (the maximum with the lowest value), so nothing but the scatter reads
    the array: with a gather of the two rows as its update (the former way), XLA gave the producer of
    the position distance a second reader, kept its two halves as separate arrays, and copied arrays
    before scattering into them in place (benchmarks/ROOFLINE.md, change 19)."""
    for values in (jnp.arange(5.0), jnp.array([True, False]), jnp.arange(6, dtype=jnp.int32).reshape(3, 2)):
        jaxpr = jax.make_jaxpr(materialise)(values).jaxpr
        readers = [eqn.primitive.name for eqn in jaxpr.eqns if any(v is jaxpr.invars[0] for v in eqn.invars)]
        assert readers == ["scatter-max"], readers


def test_take_is_indexing_without_the_negative_index_map():
    values = jnp.arange(12.0).reshape(6, 2)
    index = jnp.array([5, 0, 3, 3], jnp.int32)
    np.testing.assert_array_equal(take(values, index), values[index])
    jaxpr = str(jax.make_jaxpr(take)(values, index))
    assert "select_n" not in jaxpr and "lt " not in jaxpr  # no index + n where index < 0
