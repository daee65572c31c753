"""Traced programs kept on disk next to the compiled ones, so that a new process does not trace the model again.

JAX's persistent compilation cache (``engine.compile_cache``) lets a process skip compiling a
program that an earlier process compiled. It does not skip tracing: the Python model runs
once more, symbolically, to find the program, which is then lowered to StableHLO and looked up.
For the batched Alaska chunk that takes about 1.5 s on a 2-core CPU, longer than simulating it.

``call`` keeps the lowered program itself (``jax.export``, serialized) in
``<compile cache>/diplosim-programs``. It is keyed by everything a trace depends on:

- diplosim's source text;
- the versions of JAX, jaxlib and numpy;
- JAX's settings;
- the device platform;
- the program's static arguments;
- the structure, shapes and dtypes of its inputs.

A later process loads the program in milliseconds and calls it. Compiling it then hits the
compilation cache as before. The numbers are the same, because it is the same program
(``tests/test_programs.py``).

Without a compile cache, or without ``flatbuffers`` (which ``jax.export`` serializes with),
``call`` is the jitted function's own call; so is it for a program ``jax.export`` cannot export.

The directory is trusted as JAX's own cache is (its files are loaded with ``pickle``). An edit to
diplosim leaves the programs of the earlier sources behind: the directory can be deleted at any
time, and is filled again as programs are traced.

``release_when_crowded`` keeps a process that compiles many programs alive: each compiled
XLA:CPU program of the model holds about 1,500 memory maps (its kernels' code) for as long as
JAX's in-memory caches hold it, and Linux allows a process ``vm.max_map_count`` of them (65,530
by default). Past that, the next map fails inside XLA and the process dies with a segfault: after
a few dozen distinct programs (a multirun over mechanism switches or sizes in one process, the
test suite). ``engine`` calls it before each run, and ``agents.DiplomacyModel`` as it is made.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import pickle
from collections.abc import Callable
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import jax
import numpy as np

from diplosim import world

log = logging.getLogger(__name__)

SUBDIR = "diplosim-programs"
_loaded: dict[tuple[str, int], tuple[Callable, Any] | None] = {}  # (key, leaves donated) -> (the program's jitted call,
# its output's tree structure); None: not exportable


_DONATING: dict[int, int] = {}  # id of a function made by ``donating`` -> how many leading arguments it donates


def donating(function: Callable, donate: int, **options: Any) -> Callable:
    """``jax.jit(function, donate_argnums=range(donate), **options)``, its donation known to ``call``, so
    that the program kept in the compile cache, loaded, donates the same arrays.  For functions that
    live as long as the process (module level): they are known by their ``id``."""
    jitted = jax.jit(function, donate_argnums=tuple(range(donate)), **options)
    _DONATING[id(jitted)] = donate
    return jitted


def call(jitted: Callable, *args: Any, **static: Any) -> Any:
    """``jitted(*args, **static)``, with its program traced once per compile cache (see the module's docstring).

    ``static``: the static arguments (hashable, with a ``repr`` that says all they hold).  A function
    made by ``donating`` donates its leading arguments whether its program is traced or loaded.
    """
    directory = _directory()
    if directory is None:
        return jitted(*args, **static)
    flat, in_tree = jax.tree.flatten(args)
    platform = _platform(flat)
    key = _key(jitted, static, in_tree, flat, platform)
    donated = len(jax.tree.leaves(args[:_DONATING.get(id(jitted), 0)]))  # the leading leaves of ``flat``
    if (key, donated) not in _loaded:
        path = directory / f"{key}.exported"
        program = _load(path, flat, donated)
        if program is None:
            try:
                program = _export(jitted, static, in_tree, flat, platform, path, donated)
            except Exception as err:  # noqa: BLE001 - not exportable here: traced in each process, as without a cache
                log.info(f"program {getattr(jitted, '__name__', jitted)} not kept ({' '.join(str(err).split())[:200]})")
        _loaded[(key, donated)] = program
    program = _loaded[(key, donated)]
    if program is None:
        return jitted(*args, **static)
    function, out_tree = program
    return jax.tree.unflatten(out_tree, function(*flat))


def _directory() -> Path | None:
    cache = jax.config.jax_compilation_cache_dir
    if not cache or not _can_serialize():
        return None
    return Path(cache) / SUBDIR


@functools.cache
def _can_serialize() -> bool:
    try:
        import flatbuffers  # noqa: F401  (what jax.export serializes with)
    except ImportError:
        return False
    return True


def _platform(flat: list) -> str:
    for leaf in flat:
        devices = getattr(leaf, "devices", None)
        if callable(devices):
            return next(iter(devices())).platform
    return jax.default_backend()


def _key(jitted: Callable, static: dict, in_tree, flat: list, platform: str) -> str:
    parts = [
        _environment(),
        _settings(),
        platform,
        f"gpu_program={world.gpu_program()}",  # read while tracing (diplosim.world.gpu_program)
        getattr(jitted, "__module__", ""),
        getattr(jitted, "__qualname__", repr(jitted)),
        repr(sorted(static.items())),
        str(in_tree),
        ";".join(str(jax.typeof(x)) for x in flat),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]


def _settings() -> str:
    """JAX's settings as they are now (a setting can change in a process, or in a ``with`` block),
    all but where things are cached and what is logged: they leave the trace as it is."""
    return repr(sorted((name, repr(getattr(jax.config, name, value))) for name, value in jax.config.values.items()
                       if "cache" not in name and "log" not in name and "explain" not in name))


@functools.cache
def _environment() -> str:
    """What every trace depends on, but its arguments and JAX's settings: diplosim's sources, the versions, the devices."""
    sources = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        sources.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    versions = [jax.__version__, np.__version__]
    for name in ("jaxlib", "jax-cuda12-plugin", "jax-cuda12-pjrt"):
        try:
            versions.append(f"{name}={importlib_metadata.version(name)}")
        except importlib_metadata.PackageNotFoundError:
            pass
    devices = [(d.platform, d.device_kind) for d in jax.devices()]
    return repr((sources.hexdigest(), versions, devices))


def _runnable(exported: jax.export.Exported, donated: int) -> Callable:
    """A kept program, exported or loaded, as a jitted call of its flat inputs, the first ``donated`` of them donated."""
    return jax.jit(exported.call, donate_argnums=tuple(range(donated)))


def _load(path: Path, flat: list, donated: int = 0) -> tuple[Callable, Any] | None:
    try:
        with open(path, "rb") as file:
            serialized, out_tree = pickle.load(file)
        exported = jax.export.deserialize(bytearray(serialized))
    except FileNotFoundError:
        return None
    except Exception as err:  # noqa: BLE001 - a damaged or foreign file: traced again and replaced
        log.debug(f"{path}: not a usable program ({err}); tracing again")
        return None
    if [(tuple(a.shape), a.dtype) for a in exported.in_avals] != [(tuple(np.shape(x)), jax.typeof(x).dtype) for x in flat]:
        return None  # not this program's inputs (cannot happen but by a hash collision): traced again
    return _runnable(exported, donated), out_tree


def _export(jitted: Callable, static: dict, in_tree, flat: list, platform: str, path: Path, donated: int = 0) -> tuple[Callable, Any]:
    out_trees = []

    def flat_program(*leaves):
        outputs, out_tree = jax.tree.flatten(jitted(*jax.tree.unflatten(in_tree, leaves), **static))
        out_trees.append(out_tree)
        return outputs

    # the default platform by its own name (jax.export wants "cuda" where a device says "gpu")
    platforms = None if platform == jax.default_backend() else (platform,)
    exported = jax.export.export(jax.jit(flat_program), platforms=platforms)(*flat)
    from diplosim.io import atomic_write  # (diplosim.io imports the engine, which imports this module)

    data = pickle.dumps((bytes(exported.serialize()), out_trees[0]))
    try:  # whole or not at all: a reader never sees part of it
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    except OSError as err:  # a read-only or full cache: this process still runs the program
        log.warning(f"traced program not kept in {path.parent}: {err}")
    return _runnable(exported, donated), out_trees[0]


def release_when_crowded(fraction: float = 0.5) -> bool:
    """Drop JAX's in-memory compiled programs when this process holds more than ``fraction`` of the
    memory maps the kernel allows it; True if it did (see the module's docstring).

    The programs come back when next called: from the compile cache when there is one (a load,
    not a compile), else compiled again. Where ``/proc`` is not there (not Linux) it does nothing.
    """
    used, limit = _maps_in_use(), _map_limit()
    if used is None or limit is None or used <= fraction * limit:
        return False
    jax.clear_caches()
    log.info(f"{used} of {limit} memory maps in use (vm.max_map_count), most of them compiled programs: "
             f"released them; now {_maps_in_use()}")
    return True


def _maps_in_use() -> int | None:
    try:
        with open("/proc/self/maps", "rb") as maps:
            return sum(block.count(b"\n") for block in iter(lambda: maps.read(1 << 20), b""))
    except OSError:
        return None


def _map_limit() -> int | None:
    try:
        return int(Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        return None


__all__ = ["call", "release_when_crowded"]
