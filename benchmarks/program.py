"""What the compiled step does with the dyad arrays: a census of XLA's optimised program.

    .venv/bin/python benchmarks/program.py [--states 10000] [--label "after change 19"]

Compiles the chunk program of the full model (``engine._run_chunk``, every mechanism on, the
suite's spec) for a synthetic world of ``--states`` states (about 10 dyads each) and reads the
loop body of the scan, the step, from XLA's optimised program text:

- ``copies``: whole copies of a dyad-length array (``copy(`` of an ``[E]`` shape), each a pass
  that only moves memory; XLA adds one before a scatter into an array whose old value is still
  read (benchmarks/ROOFLINE.md, "whole-array copies");
- ``index_arrays``: int32 arrays of dyad length the loop carries (the networks' ``src``, ``dst``
  and ``reverse``, and what XLA hoisted out of the loop: a copy per gather that indexes by
  ``x[index]``, change 18);
- ``state_gathers`` and ``dyad_gathers``: gathers of dyad length in the body and the computations
  it calls (its fusions, conditionals, inner loops), from a table of states (a state array, or
  bins of a few per state) or from a dyad array (at ``reverse``).  At 10^6 states each costs the
  2-core CPU about 5 ms (a float table of 4 MB, at random rows) or 24 ms (40 MB) above a plain pass
  over the dyads (``gathers.py``; benchmarks/ROOFLINE.md, "The operations and the gathers");
- ``instructions``: the body's instructions (fusions, scatters, copies, ...);
- ``traffic_gb``: the bytes the body's instructions read and write, each operand and result
  counted whole, scaled to a 10^6-state world (x 10^6 / ``--states``): a model of the memory
  traffic of a step, which ignores caches and counts a gather's table whole.  The floor of
  ``suite.py`` (each array of the world read once and written once) is 1.29 GB.

Appends to ``results/program.csv`` and rewrites ``results/program.md``.  The figures are
counts, not times: they change with the code and the JAX version, not with the machine's load.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from suite import SMALLEST_WORLD, _common, arguments, record, step_world, whole_number  # noqa: E402

RESULTS = Path(__file__).parent / "results"
COLUMNS = ["date", "machine", "jax", "backend", "commit", "label", "states", "dyads", "copies", "index_arrays",
           "instructions", "traffic_gb", "state_gathers", "dyad_gathers"]
_BYTES = {"f32": 4, "s32": 4, "u32": 4, "pred": 1, "s8": 1, "u8": 1, "f16": 2, "bf16": 2, "s64": 8, "u64": 8, "f64": 8}
_SHAPE = re.compile(r"\b(" + "|".join(_BYTES) + r")\[([0-9,]*)\]")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?(%[\w.\-]+) = (.*?) ([a-z][\w\-]*)\((.*)$")


def _bytes(shapes: str) -> int:
    total = 0
    for dtype, dims in _SHAPE.findall(shapes):
        count = 1
        for dim in filter(None, dims.split(",")):
            count *= int(dim)
        total += count * _BYTES[dtype]
    return total


def computations(text: str) -> dict[str, list[str]]:
    """The optimised program's computations: name -> its instruction lines."""
    found, name = {}, None
    for line in text.splitlines():
        start = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
        if start and not line.startswith(" "):
            name = start.group(1)
            found[name] = []
        elif name is not None and line.strip() and line.strip() != "}":
            found[name].append(line)
    return found


def _called(comps: dict[str, list[str]], root: str) -> set[str]:
    """``root`` and every computation it calls, directly or not (fusions, branches, loops, reducers)."""
    seen, todo = set(), [root]
    while todo:
        name = todo.pop()
        if name in seen or name not in comps:
            continue
        seen.add(name)
        for line in comps[name]:
            for group in re.findall(r"(?:calls|to_apply|body|condition|branch_computations)=\{?([^}=]*?)(?:\}|, [a-z_]+=|$)", line):
                todo += [c.strip().lstrip("%") for c in group.split(",") if c.strip()]
    return seen


def gathers(comps: dict[str, list[str]], body: str, n_states: int, n_dyads: int) -> dict:
    """Gathers of dyad length under ``body``, by their table: of states (``n_states`` rows, or a few
    per state: bins) or of dyads (``n_dyads``)."""
    counts = {"state_gathers": 0, "dyad_gathers": 0}
    for name in _called(comps, body):
        shapes, found = {}, []
        for line in comps[name]:
            match = _INSTRUCTION.match(line)
            if match:
                shapes[match.group(1)] = match.group(2)
                if match.group(3) == "gather" and re.match(rf"^\w+\[{n_dyads}(,1)?\]", match.group(2)):
                    found.append(re.findall(r"%[\w.\-]+", match.group(4))[0])
        for table in found:
            rows = re.match(r"^\w+\[(\d+)", shapes.get(table, ""))
            rows = int(rows.group(1)) if rows else 0
            if rows == n_dyads:  # first: a table of bins with exactly as many rows would count here
                counts["dyad_gathers"] += 1
            elif rows and rows % n_states == 0:
                counts["state_gathers"] += 1
    return counts


def census(text: str, n_dyads: int, scale: float, n_states: int = 0) -> dict:
    """The figures of the module docstring for the loop body in ``text`` (the largest computation a
    ``while`` runs: the scan over steps); the gathers' only where ``n_states`` is given."""
    bodies = {m.group(1) for m in re.finditer(r" while\(.*?body=%?([\w.\-]+)", text)}
    comps = computations(text)
    body = max((c for c in bodies if c in comps), key=lambda c: len(comps[c]))
    lines = comps[body]
    shapes = {}
    parsed = []
    for line in lines:
        match = _INSTRUCTION.match(line)
        if match:
            name, shape, op, rest = match.groups()
            shapes[name] = shape
            parsed.append((name, shape, op, rest))
    dyad_array = re.compile(rf"^(f32|s32|u32|pred)\[{n_dyads}\]")
    traffic = 0
    for _, shape, op, rest in parsed:
        if op in ("parameter", "get-tuple-element", "tuple", "bitcast", "constant"):
            continue
        operands = re.findall(r"%[\w.\-]+", rest.split("), ")[0])
        traffic += _bytes(shape) + sum(_bytes(shapes.get(o, "")) for o in operands)
    return {
        "copies": sum(1 for _, shape, op, _ in parsed if op == "copy" and dyad_array.match(shape)),
        "index_arrays": sum(1 for _, shape, op, _ in parsed
                            if op == "get-tuple-element" and re.match(rf"^s32\[{n_dyads}\]\{{0\}}$", shape)),
        "instructions": len(parsed),
        "traffic_gb": round(traffic * scale / 1e9, 2),
        **(gathers(comps, body, n_states, n_dyads) if n_states else {}),
    }


def measure(n_states: int) -> dict:
    import jax

    from diplosim.engine import _run_chunk

    world, params, spec = step_world(n_states)
    text = _run_chunk.lower(world, params, jax.random.key(0), spec=spec, samples=2, every=1).compile().as_text()
    return {**_common(), "states": world.n_states, "dyads": world.n_dyads,
            **census(text, world.n_dyads, scale=1e6 / world.n_states, n_states=world.n_states)}


def _commit() -> str:
    import subprocess

    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--states", type=whole_number(SMALLEST_WORLD), default=10_000, help="states of the synthetic world (about 10 dyads each)")
    parser.add_argument("--label", default="", help="what the row is (a change, a variant)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where program.csv and program.md go")
    args = parser.parse_args()
    row = {**measure(args.states), "commit": _commit(), "label": args.label}
    print(", ".join(f"{k} {row[k]}" for k in ("states", "copies", "index_arrays", "instructions", "traffic_gb",
                                              "state_gathers", "dyad_gathers")))
    record(args.results, "program", [
        "# The compiled step, counted", "",
        "Written by `benchmarks/program.py` (its docstring says what each column counts): the loop body of the "
        "compiled chunk program. `traffic_gb` is scaled to 10^6 states; the floor of `suite.py` moves 1.29 GB.", "",
    ], COLUMNS, [row])


if __name__ == "__main__":
    main()
