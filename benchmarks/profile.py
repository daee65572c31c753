"""Where a step's time goes: the compiled step's kernels, timed by JAX's profiler, by mechanism.

    .venv/bin/python benchmarks/profile.py                  # synthetic 10^6 states, 10 steps
    .venv/bin/python benchmarks/profile.py --states 100000 --top 40
    .venv/bin/python benchmarks/profile.py --batch 10000     # simulate_batch: 10^4 Alaska runs, 52 steps

Runs the full model (every mechanism on, as ``suite.py`` does) for ``--steps`` steps under
``jax.profiler.trace``, reads the trace back (``jax.profiler.ProfileData``) and adds up the time
of every executed XLA operation (a fused kernel on a GPU, a fusion or a thunk on a CPU).  Each
operation is attributed to the mechanism whose ``jax.named_scope`` (``diplosim.engine.step``)
its op_name carries, and the totals are given per mechanism, per mechanism and primitive (the
last part of the op_name: ``scatter-add``, ``gather``, ``add``...) and per operation.  With
``--batch R`` it profiles ``simulate_batch``'s program instead: R runs of the Alaska scenario
vmapped, ``--steps`` steps (52 unless given), the setting of the suite's ``batch`` rows.

Writes ``benchmarks/results/profile_<backend>.md`` for the 10^6-state step (``profile_<backend>_<states>.md``
for another ``--states``, ``profile_<backend>_batch.md`` with ``--batch``;
another folder with ``--results``): the machine, the JAX version, the world, the
step time under the profiler and the tables.  The profiler adds a little time per operation, so
the per-step figure is for the shares, not for the record (``suite.py`` gives that).
"""

from __future__ import annotations

import collections
import glob
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from suite import SMALLEST_WORLD, _common, arguments, markdown_table, step_program, step_world, whole_number  # noqa: E402

RESULTS = Path(__file__).parent / "results"
# name = shape opcode(: the shape one token, or a tuple (a multi-output fusion's: a GPU's costliest kernels)
INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(?:\(.*?\)|\S+)(?:\s*\{[^}]*\})?\s+([\w\-]+)\(")
OP_NAME = re.compile(r'op_name="([^"]*)"')
CONTAINERS = {"while", "conditional", "call", "async-start", "async-done"}  # their kernels are counted


def instructions(hlo_text: str, scopes: set[str]) -> dict[str, tuple[str, str, str]]:
    """HLO instruction name -> (opcode, mechanism, op_name); the mechanism is the first of ``scopes``
    in the op_name ("(scan)" for the loop's own work: sampling, the event log, the carry)."""
    found = {}
    for line in hlo_text.splitlines():
        match = INSTRUCTION.match(line)
        if not match:
            continue
        name, opcode = match.groups()
        op = OP_NAME.search(line)
        op_name = op.group(1) if op else ""
        mechanism = next((part for part in op_name.split("/") if part in scopes), "(scan)")
        found[name] = found[name.replace(".", "_")] = (opcode, mechanism, op_name)  # a GPU kernel: fusion_3 for fusion.3
    return found


def kernel_times(trace_dir: str, known: dict[str, tuple[str, str, str]]) -> collections.Counter:
    """Total nanoseconds per HLO instruction name over every event in the trace."""
    import jax

    (path,) = glob.glob(f"{trace_dir}/**/*.xplane.pb", recursive=True)
    data = jax.profiler.ProfileData.from_file(path)
    totals: collections.Counter = collections.Counter()
    device_planes = [p for p in data.planes if "/device:" in p.name]
    for plane in device_planes or data.planes:
        lines = [line for line in plane.lines if line.name == "XLA Ops"] or [  # a GPU's: one event per HLO op
            line for line in plane.lines if line.name != "python" and "Modules" not in line.name and "Steps" not in line.name]
        for line in lines:
            for event in line.events:
                name = event.name.split(":")[0].strip()
                if name in known and known[name][0] not in CONTAINERS:
                    totals[name] += event.duration_ns
    if not totals:  # say what the trace holds, so that the matching can be fixed
        for plane in data.planes:
            for line in plane.lines:
                names = collections.Counter(event.name for event in line.events)
                print(f"trace: {plane.name} / {line.name}: {names.most_common(5)}", file=sys.stderr)
    return totals


def timeline(data, steps: int, top: int = 15) -> list[str]:
    """Markdown lines on when the device works and when it waits, from the same trace.

    The device's own activity lines (a GPU's ``Stream #...`` lines: every kernel and copy as it
    ran) give the busy time (the union of their intervals) against the window from the first
    activity to the last; the idle time between them is listed by the pair of activities on
    either side of each gap, so that a wait for the host (a synchronisation, a copy to the host,
    launches slower than the kernels) shows where it happens.  The host threads busiest in that
    window are listed with their costliest events.  ``data``: a ``jax.profiler.ProfileData``.  On a
    CPU (no stream lines) this returns [].
    """
    device = [p for p in data.planes if "/device:" in p.name and "CPU" not in p.name]
    spans = sorted((e.start_ns, e.end_ns, e.name) for p in device for line in p.lines
                   if line.name.startswith("Stream") for e in line.events)
    if not spans:
        return []
    start, end = spans[0][0], max(e for _, e, _ in spans)
    busy = 0
    gaps: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    merged_start, reach, before = start, spans[0][1], spans[0][2]  # the busy interval being merged
    for s, e, name in spans[1:]:
        if s > reach:  # a gap: the device did nothing from reach to s
            busy += reach - merged_start
            gaps[(before, name)].append(s - reach)
            merged_start = s
        if e >= reach:
            reach, before = e, name
    busy += reach - merged_start
    short = lambda name: name.split("(")[0].strip()[:60]  # noqa: E731
    per_step = lambda ns: round(ns / steps / 1e6, 3)  # noqa: E731
    idle = sum(sum(v) for v in gaps.values())
    rows = sorted(gaps.items(), key=lambda kv: -sum(kv[1]))[:top]
    lines = [
        "## The timeline", "",
        f"Device activity (kernels and copies, `{len(spans)}` in {steps} steps: {len(spans) / steps:.0f} a step) "
        f"from the first to the last: {per_step(end - start)} ms a step, busy {per_step(busy)} ms, idle "
        f"{per_step(idle)} ms in {sum(len(v) for v in gaps.values()) / steps:.0f} gaps a step.", "",
        "Idle time by the activities before and after each gap:", "",
        *markdown_table(["before", "after", "gaps_per_step", "idle_ms_per_step", "longest_us"], [
            {"before": short(a), "after": short(b), "gaps_per_step": round(len(v) / steps, 1),
             "idle_ms_per_step": per_step(sum(v)), "longest_us": round(max(v) / 1e3, 1)} for (a, b), v in rows]), "",
    ]
    by_name: collections.Counter = collections.Counter()
    for s, e, name in spans:
        by_name[short(name)] += e - s
    lines += ["The device's activities by name, every kernel and copy, attributed to the model or not:", "",
              *markdown_table(["activity", "ms_per_step", "count_per_step"], [
                  {"activity": n, "ms_per_step": per_step(ns), "count_per_step": round(sum(short(x) == n for _, _, x in spans) / steps, 1)}
                  for n, ns in by_name.most_common(top)]), ""]
    hosts = []
    for plane in data.planes:
        if "/host:" not in plane.name:
            continue
        for line in plane.lines:
            inside = [e for e in line.events if e.end_ns > start and e.start_ns < end]
            if inside:
                hosts.append((sum(min(e.end_ns, end) - max(e.start_ns, start) for e in inside), line.name, inside))
    hosts.sort(key=lambda h: -h[0])
    host_rows = []
    for total, name, inside in hosts[:3]:
        names = collections.Counter()
        for e in inside:
            names[short(e.name)] += e.duration_ns
        host_rows += [{"thread": name[:40], "thread_ms_per_step": per_step(total), "event": n, "ms_per_step": per_step(ns),
                       "count_per_step": round(sum(short(e.name) == n for e in inside) / steps, 1)}
                      for n, ns in names.most_common(6)]
    if host_rows:
        lines += ["Host threads busiest in that window (events nest, so a thread's events add up to more than it):", "",
                  *markdown_table(["thread", "thread_ms_per_step", "event", "ms_per_step", "count_per_step"], host_rows), ""]
    return lines


def main() -> None:
    from diplosim.process import use_huge_pages

    use_huge_pages()  # as the diplosim command does (diplosim.process)
    import jax

    from diplosim.engine import RunSpec, _pipeline, _run_chunk_batch, _runs_of
    from diplosim.mechanisms.trade import calibrate_trade
    from diplosim.params import params_from, stack_params
    from diplosim.scenario import load_scenario_file

    parser = arguments(__doc__)
    parser.add_argument("--states", type=whole_number(SMALLEST_WORLD), default=1_000_000, help="states of the synthetic world (about 10 dyads each)")
    parser.add_argument("--batch", type=whole_number(1), help="profile simulate_batch: this many Alaska runs (instead of --states)")
    parser.add_argument("--steps", type=whole_number(1), help="steps profiled (default 10; 52 with --batch)")
    parser.add_argument("--top", type=whole_number(1), default=30, help="operations listed")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where profile_<backend>.md goes")
    args = parser.parse_args()
    args.steps = args.steps or (52 if args.batch else 10)

    params = params_from()
    if args.batch:  # as suite.py's batch rows: the world shared, one row of params and one key per run
        world = calibrate_trade(load_scenario_file(Path(__file__).parents[1] / "conf/scenario/alaska_2025.yaml").world, params)
        inputs = (_runs_of(world, n_runs=args.batch),  # the structure and clock once, as simulate_batch passes them
                  stack_params([params] * args.batch), jax.random.split(jax.random.key(0), args.batch))
        spec = RunSpec(every=args.steps, sample_states=False, event_capacity=0)
        compiled = _run_chunk_batch.lower(*inputs, spec=spec, samples=1, every=args.steps, shared=True).compile()
    else:
        world, params, spec = step_world(args.states)  # the suite's step rows', run as simulate runs them
        compiled, inputs, _ = step_program(world, params, jax.random.key(0), spec, args.steps)
    known = instructions(compiled.as_text(), {name for name, _ in _pipeline(world.n_blocs)} | {"metrics"})
    jax.block_until_ready(compiled(*inputs))  # warm
    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir):
            started = time.perf_counter()
            jax.block_until_ready(compiled(*inputs))
            step_ms = (time.perf_counter() - started) / args.steps * 1e3
        totals = kernel_times(trace_dir, known)
        (trace,) = glob.glob(f"{trace_dir}/**/*.xplane.pb", recursive=True)
        waits = timeline(jax.profiler.ProfileData.from_file(trace), args.steps, args.top)
    total = sum(totals.values()) or 1
    per_step = lambda ns: round(ns / args.steps / 1e6, 3)  # noqa: E731  (ms per step)

    top = [{"operation": name, "opcode": known[name][0], "mechanism": known[name][1], "ms_per_step": per_step(ns),
            "share": f"{ns / total:.1%}", "op_name": known[name][2].split("closed_call/")[-1][-80:]}
           for name, ns in totals.most_common(args.top)]
    by: dict[str, collections.Counter] = {"mechanism": collections.Counter(), "primitive": collections.Counter()}
    for name, ns in totals.items():
        _, mechanism, op_name = known[name]
        by["mechanism"][mechanism] += ns
        by["primitive"][f"{mechanism}: {op_name.split('/')[-1] or '?'}"] += ns
    grouped = {kind: [{kind: k, "ms_per_step": per_step(ns), "share": f"{ns / total:.1%}"} for k, ns in c.most_common(args.top)]
               for kind, c in by.items()}

    common = _common()
    what = f"--batch {args.batch}" if args.batch else f"--states {args.states}"
    runs = f"{args.batch} runs of the Alaska scenario vmapped, each with " if args.batch else ""
    lines = [
        f"# Where the step's time goes ({common['backend']}{', simulate_batch' if args.batch else ''})", "",
        f"Written by `benchmarks/profile.py {what} --steps {args.steps}` on {common['date']}: "
        f"{common['machine']}, JAX {common['jax']} ({common['backend']}).  World: {runs}{world.n_states} states, "
        f"{world.n_dyads} dyads, every mechanism on.  Step under the profiler: {step_ms:.3f} ms; "
        f"operations timed: {per_step(total)} ms per step ({len(totals)} distinct operations).", "",
        "## By mechanism", "", *markdown_table(["mechanism", "ms_per_step", "share"], grouped["mechanism"]), "",
        "## By mechanism and primitive", "", *markdown_table(["primitive", "ms_per_step", "share"], grouped["primitive"]), "",
        "## The costliest operations", "",
        *markdown_table(["operation", "opcode", "mechanism", "ms_per_step", "share", "op_name"], top), "",
        *waits,
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    suffix = "_batch" if args.batch else "" if args.states == 1_000_000 else f"_{args.states}"  # the 10^6-state step's unsuffixed
    out = args.results / f"profile_{common['backend']}{suffix}.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
