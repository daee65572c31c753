"""Domestic approval, per state: the economy and war move a leader's standing (reference of ``mechanisms.approval``).

  target_i = clip(A0_i + b_g (g_i - g0) - b_C (C_i - C0_i), 0, 1)
  A_i     <- A_i + rho (target_i - A_i)
with C_i the state's highest conflict intensity and C0_i its value at step 0.
"""

from __future__ import annotations

from diplosim.params import Params
from diplosim.reference.common import clip, floats, highest_conflict
from diplosim.world import World, replace


def approval(world: World, params: Params, key=None) -> World:
    """Each leader's approval relaxes toward the level the economy and conflict justify."""
    s = world.states
    conflict = highest_conflict(world.dyads.conflict.tolist(), world.dyads.dst.tolist(), world.n_states)
    new = []
    for i, (a, baseline, growth, start) in enumerate(
        zip(s.approval.tolist(), s.approval_baseline.tolist(), s.growth.tolist(), s.conflict_baseline.tolist())
    ):
        target = clip(
            baseline + params.approval_growth * (growth - params.growth_base) - params.approval_conflict * (conflict[i] - start)
        )
        new.append(a + params.approval_relax * (target - a))
    return replace(world, states=replace(s, approval=floats(new)))
