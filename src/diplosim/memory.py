"""Will a world fit?  Memory estimates checked before anything large is allocated.

A run holds the world (every array once), XLA's working set for one step, and
the sampled history of a chunk.  The working set is linear in the world: the
compiled chunk of synthetic worlds of 5,000 to 10^5 states needs 0.98 to 1.04
bytes of temporaries per byte of world, and its outputs (the world out and the
history) 1.15 (``Compiled.memory_analysis()``, JAX 0.10.2 on a CPU, after
change 26 of benchmarks/ROOFLINE.md; 2.79 and 1.47 bytes of temporaries before
earlier changes).  ``WORKING_SET`` rounds the temporaries and the history up.
On an H200 the device's peak was 2.83 to 2.87 times the world at 10^6 and 10^7
states (benchmarks/results/suite.md), under the estimate's 4.  The limit is the device's free memory (a
GPU's ``bytes_limit`` less what is in use) or, on a CPU, the memory the operating system reports
available now; there the estimate counts the process around the run too (``HOST_OVERHEAD``: Python,
JAX, the compiled programs, the history and the tables as they are written).

    from diplosim.memory import check_fits, world_bytes
    check_fits(world_bytes(n_states=10**7, n_dyads=10**8), device, what="synthetic world of 10^7 states")

raises ``MemoryTooLarge`` (a ``ValueError`` with a one-line message giving
the estimate and the limit) when the run cannot fit.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import jax

WORKING_SET = 2.0  # XLA temporaries of one step and the history, per byte of world (measured 1.2, see above)
GENERATION = 2.5  # host memory while the synthetic generator builds a world, per byte of world
GIB = 2**30
OVERHEAD = 256 * 2**20  # on a GPU: the runtime, the compiled program and small buffers, whatever the world
# on a CPU the run's memory is the whole process's: Python, JAX and its compiled programs, the history and the
# tables as they are written.  The diplosim command's peak resident memory, less four times the world
# (2026-11-28, benchmarks/ROOFLINE.md change 31): Alaska 0.59 GB, a synthetic world of 3,000 states with its dyads
# sampled 1.04 GB, of 10^5 states 0.62 to 0.81 GB, of 10^6 states 0.44 to 0.70 GB
HOST_OVERHEAD = 3 * GIB // 2


class MemoryTooLarge(ValueError):
    """A run that cannot fit in the memory it would run in."""


@functools.lru_cache(maxsize=8)
def _row_bytes(n_issues: int) -> dict[str, float]:
    """Bytes per state, per dyad, per envoy and per agreement slot, read off a small generated world."""
    from diplosim.scenario.synthetic import synthetic_scenario

    world = synthetic_scenario(40, 4, n_issues=n_issues, n_envoys=4, agreement_slots=4).world
    return {
        group: sum(leaf.nbytes for leaf in jax.tree.leaves(getattr(world, group))) / max(rows, 1)
        for group, rows in (("states", world.n_states), ("dyads", world.n_dyads), ("envoys", 4), ("agreements", 4))
    }


def world_bytes(n_states: int, n_dyads: int, *, n_issues: int = 3, n_envoys: int = 0, agreement_slots: int = 16) -> int:
    """Bytes of a world of these sizes (every array once; the event schedule is negligible)."""
    rows = _row_bytes(n_issues)
    return int(
        n_states * rows["states"] + n_dyads * rows["dyads"] + n_envoys * rows["envoys"]
        + agreement_slots * rows["agreements"]
    )


def run_bytes(world: int, batch: int = 1, *, platform: str) -> int:
    """Bytes a run of ``batch`` worlds of ``world`` bytes needs on a device of ``platform`` (``jax.Device.platform``:
    "cpu", "gpu"...): worlds, working set and output, and on a CPU the process around them (``HOST_OVERHEAD``).
    No default: the two differ by more than a gigabyte for a small world."""
    overhead = HOST_OVERHEAD if platform == "cpu" else OVERHEAD
    return int(batch * world * (2 + WORKING_SET)) + overhead  # the world in, the world out, the step's temporaries


def available_bytes(device: jax.Device) -> tuple[int, str]:
    """How much memory a run on ``device`` may use, and a name for it."""
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0)), f"free on {device.device_kind}"
    return host_available_bytes(), "available host memory"


def host_available_bytes() -> int:
    """Memory the operating system can give this process now (MemAvailable), else the physical total."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**63 - 1  # unknown: do not refuse


def check_fits(needed: int, device: jax.Device, *, what: str, hint: str = "use a smaller world") -> None:
    """Raise ``MemoryTooLarge`` when ``needed`` bytes exceed what ``device`` has."""
    limit, name = available_bytes(device)
    if needed > limit:
        raise MemoryTooLarge(
            f"{what}: needs about {needed / GIB:.1f} GiB, {limit / GIB:.1f} GiB {name}; {hint}"
        )


def check_synthetic(spec, device: jax.Device, *, agreement_slots: int = 16, batch: int = 1) -> None:
    """Refuse a synthetic world (``SyntheticSpec``-like: n_states, dyads_per_state, n_issues, n_envoys)
    too large to generate on the host or to run on ``device``, before it is generated."""
    size = world_bytes(spec.n_states, spec.n_states * spec.dyads_per_state, n_issues=spec.n_issues,
                       n_envoys=spec.n_envoys, agreement_slots=agreement_slots)
    what = f"scenario.n_states = {spec.n_states} (x {spec.dyads_per_state} dyads per state)"
    hint = "lower scenario.n_states or scenario.dyads_per_state, or use a device with more memory"
    check_fits(int(size * GENERATION), jax.devices("cpu")[0], what=what + ", generating the world", hint=hint)
    check_fits(run_bytes(size, batch, platform=device.platform), device, what=what + f", running on {device.platform}", hint=hint)
