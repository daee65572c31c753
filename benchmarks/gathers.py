"""The step's gathers alone: a state's or a dyad's value read at every dyad, at the world's own indices.

    .venv/bin/python benchmarks/gathers.py [--states 1000000] [--repeats 20]

The step reads, at every dyad, values of its two states (``x[src]``, ``x[dst]``: a table of one
value per state) and of its reverse dyad (``x[reverse]``: a table of one value per dyad);
``benchmarks/program.py`` counts how many of each the compiled step holds (``state_gathers``,
``dyad_gathers``).  On a synthetic world of ``--states`` states (about 10 dyads each), this times
one of each kind alone, ``min(table[index], v)`` over the dyads, jitted alone, against the same pass
without the gather (``min(v, w)``):

- a state's value at ``dst`` (sorted: the dyads are ordered by destination) and at ``src`` (random);
- a dyad's value at ``reverse`` (random), and at ``e ^ 1``: the reverse if the dyads were ordered in
  pairs, each next to its own (benchmarks/ROOFLINE.md, "What is left").

``over_pass_ms`` is a row's time less the plain pass's: what the gather adds to a pass over the
dyads the step makes anyway.  Each figure is the median of ``--repeats`` calls.  Appends to
``results/gathers.csv`` and rewrites ``results/gathers.md``, with the machine, JAX version, backend
and date.  Runs unchanged on a GPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from scatters import median_ms, run  # noqa: E402
from suite import _common  # noqa: E402

COLUMNS = ["date", "machine", "jax", "backend", "states", "dyads", "table", "indices", "table_mb", "ms", "over_pass_ms"]


def measure(n_states: int, repeats: int) -> list[dict]:
    import jax
    import jax.numpy as jnp

    from diplosim.scenario import synthetic_scenario
    from diplosim.world import take

    world = synthetic_scenario(n_states).world
    d, n = world.dyads, world.n_states
    n_dyads = d.src.shape[0]
    v, w = jax.random.uniform(jax.random.key(0), (n_dyads,)), jax.random.uniform(jax.random.key(1), (n_dyads,))
    state = jax.random.uniform(jax.random.key(2), (n,))
    paired = jnp.arange(n_dyads, dtype=d.reverse.dtype) ^ 1
    cases = [
        ("none (the plain pass)", "", None, None),
        ("state", "dst (sorted)", state, d.dst),
        ("state", "src (random)", state, d.src),
        ("dyad", "reverse (random)", w, d.reverse),
        ("dyad", "e ^ 1 (dyads in pairs)", w, paired[: n_dyads - n_dyads % 2]),
    ]
    common = {**_common(), "states": n, "dyads": n_dyads}
    rows, plain = [], None
    for table_kind, indices, table, index in cases:
        if table is None:
            ms = median_ms(jnp.minimum, v, w, repeats=repeats)
            plain = ms
        else:
            values = v[: index.shape[0]]
            ms = median_ms(lambda t, i, x: jnp.minimum(take(t, i), x), table, index, values, repeats=repeats)
        row = {**common, "table": table_kind, "indices": indices, "ms": round(ms, 3),
               "table_mb": "" if table is None else round(table.nbytes / 2**20, 3),
               "over_pass_ms": "" if table is None else round(ms - plain, 3)}
        rows.append(row)
        print(f"{table_kind} {indices}: {ms:.3f} ms", flush=True)
    return rows


def main() -> None:
    run("gathers", __doc__, COLUMNS, measure, "Gathers alone, by table and index", "`over_pass_ms`: the row less the plain pass over the dyads.")


if __name__ == "__main__":
    main()
