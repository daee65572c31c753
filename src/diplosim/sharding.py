"""One world split across JAX devices: ``engine.sharding = states``.

A world too large for one device runs with its per-state arrays (leading
axis N) and per-dyad arrays (leading axis E) split into equal blocks, one per
device, on a 1-D ``jax.sharding.Mesh`` over every device of the platform the
world lives on.  Everything else (envoys, agreement slots, the event
schedule, the watched dyads, the oil routes, the scalars) is small and is
copied to every device.  The model code does not change: XLA's SPMD
partitioner follows the input shardings through the compiled scan and
inserts the collectives itself (the per-dyad gathers of state values read
them from every device; the segment sums add per-device partial sums).

A sharded array's axis must divide evenly by the number of devices D, so the
world is padded on the host to ``N' = D * ceil(N / D)`` states and
``E' = D * ceil(E / D)`` dyads.  The padding is never computed on: each
compiled chunk crops the world back to N and E first (XLA pads its blocks
internally), runs the unchanged steps, and writes the result back into the
padded arrays; the sampled state and dyad snapshots are padded the same way
on the device and cropped on the host.  The results equal the unsharded
run's within float32 rounding (sums over dyads are added in a different
order; see tests/test_sharding.py).

The world is built and calibrated on one device (or the host) as before; only
the steps, which need far more memory than the world itself, are split.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from diplosim.world import World

SHARDING_MODES = ("off", "states")
AXIS = "shard"  # the mesh axis the state and dyad blocks are laid along


def check_mode(mode: str) -> str:
    """``mode`` if it is an ``engine.sharding`` value, else a one-line ValueError."""
    if mode not in SHARDING_MODES:
        raise ValueError(f"engine.sharding = {mode!r}: allowed values are {', '.join(SHARDING_MODES)}")
    return mode


def devices_used(mode: str, platform: str) -> int:
    """How many devices a run with ``engine.sharding = mode`` on ``platform`` computes on: every device
    of the platform when the world is split (``layout_for``), else one."""
    return len(jax.devices(platform)) if check_mode(mode) == "states" else 1


def _pad_to(size: int, parts: int) -> int:
    return -(-size // parts) * parts


@dataclass(frozen=True)
class Layout:
    """How one world lies on the devices: the mesh, the true sizes and the padded ones.

    Hashable, so it is a static argument of the compiled chunk (a new layout
    compiles a new program).
    """

    mesh: Mesh
    n_states: int
    n_dyads: int

    @property
    def n_devices(self) -> int:
        return self.mesh.devices.size

    @property
    def padded_states(self) -> int:
        return _pad_to(self.n_states, self.n_devices)

    @property
    def padded_dyads(self) -> int:
        return _pad_to(self.n_dyads, self.n_devices)

    @property
    def split(self) -> NamedSharding:
        """Leading axis split into one block per device."""
        return NamedSharding(self.mesh, PartitionSpec(AXIS))

    @property
    def copied(self) -> NamedSharding:
        """The whole array on every device."""
        return NamedSharding(self.mesh, PartitionSpec())

    def split_at(self, axis: int) -> NamedSharding:
        """Axis ``axis`` split into one block per device."""
        return NamedSharding(self.mesh, PartitionSpec(*([None] * axis), AXIS))


def layout_for(world: World, devices: list[jax.Device] | None = None) -> Layout:
    """The layout of ``world`` over ``devices`` (default: every device of the platform the world is on)."""
    if devices is None:
        devices = jax.devices(_platform(world))
    return Layout(Mesh(np.asarray(devices), (AXIS,)), world.n_states, world.n_dyads)


def _platform(world: World) -> str:
    leaf = jax.tree.leaves(world)[0]
    if isinstance(leaf, jax.Array):
        return next(iter(leaf.devices())).platform
    return jax.default_backend()


def _map_blocks(world: World, states_fn, dyads_fn, rest_fn) -> World:
    """``world`` with ``states_fn`` applied to every state array, ``dyads_fn`` to every dyad array, ``rest_fn`` to the rest."""
    mapped = {
        f.name: jax.tree.map(rest_fn, getattr(world, f.name))
        for f in dataclasses.fields(world)
        if f.name not in ("states", "dyads", "n_blocs")
    }
    return world.replace(
        states=jax.tree.map(states_fn, world.states), dyads=jax.tree.map(dyads_fn, world.dyads), **mapped
    )


def _pad_host(values: Any, size: int) -> np.ndarray:
    values = np.asarray(values)
    return np.pad(values, [(0, size - values.shape[0])] + [(0, 0)] * (values.ndim - 1))


def shard_world(world: World, layout: Layout) -> World:
    """``world`` padded on the host and placed on the mesh: state and dyad arrays split, the rest copied.

    The padding (zeros) is never read; ``crop`` removes it inside the compiled chunk.
    """
    return _map_blocks(
        world,
        lambda x: jax.device_put(_pad_host(x, layout.padded_states), layout.split),
        lambda x: jax.device_put(_pad_host(x, layout.padded_dyads), layout.split),
        lambda x: jax.device_put(x, layout.copied),
    )


def crop(padded: World, layout: Layout) -> World:
    """The true world inside a padded one (traceable; a no-op when nothing was padded)."""
    return _map_blocks(
        padded, lambda x: x[: layout.n_states], lambda x: x[: layout.n_dyads], lambda x: x
    )


def refill(padded: World, world: World, layout: Layout) -> World:
    """``world`` written back into the padded arrays of ``padded``, kept split over the mesh (traceable)."""

    def put(old, new):
        out = new if new.shape == old.shape else jax.lax.dynamic_update_slice(old, new, (0,) * old.ndim)
        return jax.lax.with_sharding_constraint(out, layout.split)

    states = jax.tree.map(put, padded.states, world.states)
    dyads = jax.tree.map(put, padded.dyads, world.dyads)
    rest = {
        f.name: getattr(world, f.name)
        for f in dataclasses.fields(world)
        if f.name not in ("states", "dyads", "n_blocs")
    }
    return padded.replace(states=states, dyads=dyads, **rest)


def pad_snapshots(snaps: dict, layout: Layout) -> dict:
    """Snapshots ``[S, N]`` / ``[S, E]`` padded to ``[S, N']`` / ``[S, E']`` and split on axis 1 (traceable)."""
    sizes = {"states": layout.padded_states, "dyads": layout.padded_dyads}
    out = dict(snaps)
    for table, size in sizes.items():
        if table in snaps:
            out[table] = {
                name: jax.lax.with_sharding_constraint(
                    jnp.pad(x, [(0, 0), (0, size - x.shape[1])] + [(0, 0)] * (x.ndim - 2)), layout.split_at(1)
                )
                for name, x in snaps[table].items()
            }
    return out


def crop_snapshots(snaps: dict, layout: Layout) -> dict:
    """Host-side inverse of ``pad_snapshots``."""
    sizes = {"states": layout.n_states, "dyads": layout.n_dyads}
    out = dict(snaps)
    for table, size in sizes.items():
        if table in snaps:
            out[table] = {name: x[:, :size] for name, x in snaps[table].items()}
    return out


def is_split(values: jax.Array, layout: Layout) -> bool:
    """Whether ``values`` lies split over the mesh: one distinct block of its leading axis per device."""
    shards = values.addressable_shards
    return (
        len(shards) == layout.n_devices
        and len({s.device for s in shards}) == layout.n_devices
        and all(s.data.shape[0] * layout.n_devices == values.shape[0] for s in shards)
        and len({repr(s.index) for s in shards}) == layout.n_devices  # slices hash only from Python 3.12
    )


__all__ = ["SHARDING_MODES", "Layout", "check_mode", "layout_for", "shard_world", "crop", "refill", "is_split"]
