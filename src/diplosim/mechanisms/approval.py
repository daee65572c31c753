"""Domestic approval: the economy and war move a leader's standing around its baseline.

Reads states' ``approval``, ``approval_baseline``, ``growth``; dyads'
``conflict``.  Writes states' ``approval``.
  target_i = clip(A0_i + b_g (g_i - g0) - b_C (C_i - C0_i), 0, 1)
with C0_i the conflict at step 0, which the initial approval already reflects.
Deals signed move approval directly (negotiation mechanism).
  A_i <- A_i + rho (target_i - A_i)
"""

from __future__ import annotations

import jax

from diplosim.params import Params
from diplosim.world import World, replace, state_max_conflict


def approval(world: World, params: Params, key: jax.Array) -> World:
    """Relax approval toward the level the economy and conflict justify."""
    del key  # deterministic
    s = world.states
    target = (
        s.approval_baseline
        + params.approval_growth * (s.growth - params.growth_base)
        - params.approval_conflict * (state_max_conflict(world.dyads, world.n_states) - s.conflict_baseline)
    ).clip(0.0, 1.0)
    return replace(world, states=replace(s, approval=s.approval + params.approval_relax * (target - s.approval)))
