"""Metrics of a world, per agent (reference of ``mechanisms.metrics.metrics``): the same names and values.

Scalars: energy_price, conflict_total (sum of conflict / 2), conflict_max,
polarisation (mean tension across blocs minus within), gdp_total, trade_total,
approval_mean, agreements_in_force, agreements_signed and agreements_violated
(slots whose status changed this step to in force / violated).  Per bloc:
cohesion_b = mean alliance weight over the dyads inside bloc b (0 with none).
Per watched dyad: tension, trust, alliance, trade, relation = trust - tension.
"""

from __future__ import annotations

import numpy as np

from diplosim.reference.common import F32, trust_mean
from diplosim.world import AGREEMENT_STATUS, World

IN_FORCE, VIOLATED = AGREEMENT_STATUS.index("in_force"), AGREEMENT_STATUS.index("violated")


def _mean(values: list) -> float:
    return sum(values) / max(len(values), 1)


def metrics(world: World, before: World | None = None) -> dict[str, np.ndarray]:
    """The metrics of ``world``, the world a step left from ``before`` (numpy values, float32 as in the core)."""
    d, s = world.dyads, world.states
    bloc = s.bloc.tolist()
    tension, alliance, trade = d.tension.tolist(), d.alliance.tolist(), d.trade.tolist()
    inside, across = [], []
    within_bloc = [[] for _ in range(world.n_blocs)]
    for e, (i, j) in enumerate(zip(d.src.tolist(), d.dst.tolist())):
        if bloc[i] == bloc[j]:
            inside.append(tension[e])
            within_bloc[bloc[i]].append(alliance[e])
        else:
            across.append(tension[e])
    status = world.agreements.status.tolist()
    old = status if before is None else before.agreements.status.tolist()
    changed_to = [new for new, was in zip(status, old) if new != was]
    watch = world.watch.tolist()
    trust = {e: trust_mean(float(d.trust_alpha[e]), float(d.trust_beta[e])) for e in watch}
    conflict = d.conflict.tolist()
    values = {
        "step": np.asarray(world.step, np.int32),
        "energy_price": F32(world.energy_price),
        "conflict_total": F32(0.5 * sum(conflict)),
        "conflict_max": F32(max([0.0, *conflict])),
        "polarisation": F32(_mean(across) - _mean(inside)),
        "gdp_total": F32(sum(s.gdp.tolist())),
        "trade_total": F32(sum(trade)),
        "approval_mean": F32(_mean(s.approval.tolist())),
        "agreements_in_force": np.int32(status.count(IN_FORCE)),
        "agreements_signed": np.int32(changed_to.count(IN_FORCE)),
        "agreements_violated": np.int32(changed_to.count(VIOLATED)),
        "cohesion": np.asarray([_mean(w) for w in within_bloc], F32),
        "watch_tension": np.asarray([tension[e] for e in watch], F32),
        "watch_trust": np.asarray([trust[e] for e in watch], F32),
        "watch_alliance": np.asarray([alliance[e] for e in watch], F32),
        "watch_trade": np.asarray([trade[e] for e in watch], F32),
        "watch_relation": np.asarray([trust[e] - tension[e] for e in watch], F32),
    }
    return values
