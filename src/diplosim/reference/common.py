"""What the reference engine's agents share: synchronous update, float32 storage, plain-Python helpers.

Every agent of the reference engine is a ``SynchronousAgent``: in a phase it
reads the current values of the world (its own and other agents') and
writes its new values into ``self.next``; once every agent has run the
phase, the model calls ``commit`` on each, which makes the new values
current.  So no agent ever reads a value another agent computed in the same
phase (synchronous update, as in the JAX core, where a mechanism maps one
world to the next).

Arithmetic inside a phase is Python float (float64); a committed float is
rounded to float32, the dtype of the world's arrays, because the core keeps
the world in float32 between mechanisms.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import jax
import mesa
import numpy as np

from diplosim.params import Params

_FLOAT32 = struct.Struct("f")


def float32(x: float) -> float:
    """``x`` rounded to float32, as a Python float (values beyond float32's range become +-inf, as in the core)."""
    try:
        return _FLOAT32.unpack(_FLOAT32.pack(x))[0]
    except OverflowError:
        return float(np.float32(x))


def stored(value: Any) -> Any:
    """A committed value as the world's arrays hold it: floats in float32, lists element-wise, the rest as is."""
    if type(value) is float:
        return float32(value)
    if type(value) is list:
        return [float32(x) for x in value]
    return value


class SynchronousAgent(mesa.Agent):
    """A Mesa agent updated synchronously: a phase writes its new values to ``next``, ``commit`` makes them current.

    ``next`` maps an attribute's name to its new value; attributes the phase
    does not change are not in it.
    """

    def __init__(self, model: mesa.Model):
        super().__init__(model)
        self.next: dict[str, Any] = {}

    def commit(self) -> None:
        """Take the values of the phase just run (floats rounded to float32)."""
        for name, value in self.next.items():
            setattr(self, name, stored(value))
        self.next.clear()


def clip(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return min(max(x, lo), hi)


def host(tree):
    """Any pytree (a World, Params, Actions) with every array as a host numpy array."""
    return jax.tree.map(np.asarray, jax.device_get(tree))


def plain_params(params: Params) -> Params:
    """``params`` with every coefficient a Python float (the agents' arithmetic is plain Python)."""
    return Params(**{f.name: float(getattr(params, f.name)) for f in dataclasses.fields(Params)})


def draw(sampler, key: jax.Array, shape, *args) -> list:
    """The core's random draw ``sampler(key, shape)`` (the same ``jax.random`` call), as a list of floats.

    Agents read their own entry: a dyad's draw is ``draws[relation.index]``.
    """
    return np.asarray(sampler(key, shape, *args)).tolist()
