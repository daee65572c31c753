"""The reference engine's step: the mechanisms in the core's order, with the core's random draws.

``step(world, params, key, mechanisms, overrides)`` mirrors
``diplosim.engine.step``: the same process order (``PIPELINE``, the order of
``diplosim.engine._pipeline``), the same mechanism switches, the same
``decide()`` overrides, and each mechanism's key is
``jax.random.fold_in(key, KEY_STREAM[name])``, so each draws exactly the
arrays the core draws.  Every mechanism reads the world it is given and
returns a new one (synchronous update); the world between mechanisms holds
host numpy arrays of the core's dtypes.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from diplosim.engine import KEY_STREAM
from diplosim.mechanisms.decisions import Actions
from diplosim.params import Mechanisms, Params
from diplosim.reference import (
    agreements,
    alliances,
    approval,
    decisions,
    economy,
    events,
    negotiation,
    tension,
    trade,
    trust,
)
from diplosim.reference.common import host
from diplosim.reference.metrics import metrics
from diplosim.world import World

PIPELINE = (
    ("events", events.scheduled_events),
    ("decisions", decisions.decisions),
    ("negotiation", negotiation.negotiation),
    ("agreements", agreements.agreements),
    ("trade", trade.trade_and_energy),
    ("economy", economy.economy),
    ("tension", tension.tension_and_conflict),
    ("alliances", alliances.alliances),
    ("trust", trust.trust),
    ("approval", approval.approval),
)


def plain_params(params: Params) -> Params:
    """``params`` with every coefficient a Python float (the reference's arithmetic is plain Python)."""
    return Params(**{f.name: float(getattr(params, f.name)) for f in dataclasses.fields(Params)})


def step(
    world: World, params: Params, key: jax.Array, mechanisms: Mechanisms = Mechanisms(),
    overrides: tuple[Actions, Actions] | None = None,
) -> tuple[World, dict]:
    """Advance the world by one step (one week), as ``diplosim.engine.step`` does; returns it and its metrics.

    ``world`` may hold JAX or numpy arrays; the returned world holds numpy
    arrays.  ``overrides`` = (values, mask), two ``Actions`` (the Mesa
    layer's ``decide()`` hooks), as for the core.
    """
    world = host(world)
    params = plain_params(params)
    new = world
    for name, mechanism in PIPELINE:
        if not getattr(mechanisms, name):
            continue
        mechanism_key = jax.random.fold_in(key, KEY_STREAM[name])
        if name == "decisions":
            new = mechanism(new, params, mechanism_key, None if overrides is None else host(overrides))
        else:
            new = mechanism(new, params, mechanism_key)
    new = new.replace(step=np.asarray(world.step + 1, np.int32))
    return new, metrics(new, before=world)
