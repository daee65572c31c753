"""Metrics of the reference model, read from its agents (reference of ``mechanisms.metrics.metrics``): the same names and values.

Scalars: energy_price, conflict_total (sum of conflict / 2), conflict_max,
polarisation (mean tension across blocs minus within), gdp_total, trade_total,
approval_mean, agreements_in_force, agreements_signed and agreements_violated
(slots whose status changed this step to in force / violated).  Per bloc:
cohesion_b = mean alliance weight over the dyads inside bloc b (0 with none).
Per watched dyad: tension, trust, alliance, trade, relation = trust - tension.
"""

from __future__ import annotations

import numpy as np

from diplosim.reference.agreements import IN_FORCE, VIOLATED

F32 = np.float32


def _mean(values: list) -> float:
    return sum(values) / max(len(values), 1)


def metrics(model, before: list[int] | None = None) -> dict[str, np.ndarray]:
    """The metrics of ``model`` now; ``before``: its agreements' statuses before the step (numpy values, float32 as in the core)."""
    relations, states = list(model.relations), list(model.states)
    inside, across = [], []
    within_bloc = [[] for _ in range(model.n_blocs)]
    for relation in relations:
        bloc = relation.source.bloc
        if bloc == relation.target.bloc:
            inside.append(relation.tension)
            within_bloc[bloc].append(relation.alliance)
        else:
            across.append(relation.tension)
    status = [agreement.status for agreement in model.agreements]
    changed_to = [new for new, was in zip(status, before or status, strict=True) if new != was]
    watched = model.watched
    conflict = [relation.conflict for relation in relations]
    return {
        "step": np.asarray(model.week, np.int32),
        "energy_price": F32(model.energy_price),
        "conflict_total": F32(0.5 * sum(conflict)),
        "conflict_max": F32(max([0.0, *conflict])),
        "polarisation": F32(_mean(across) - _mean(inside)),
        "gdp_total": F32(sum(state.gdp for state in states)),
        "trade_total": F32(sum(relation.trade for relation in relations)),
        "approval_mean": F32(_mean([state.approval for state in states])),
        "agreements_in_force": np.int32(status.count(IN_FORCE)),
        "agreements_signed": np.int32(changed_to.count(IN_FORCE)),
        "agreements_violated": np.int32(changed_to.count(VIOLATED)),
        "cohesion": np.asarray([_mean(w) for w in within_bloc], F32),
        "watch_tension": np.asarray([r.tension for r in watched], F32),
        "watch_trust": np.asarray([r.trust for r in watched], F32),
        "watch_alliance": np.asarray([r.alliance for r in watched], F32),
        "watch_trade": np.asarray([r.trade for r in watched], F32),
        "watch_relation": np.asarray([r.trust - r.tension for r in watched], F32),
    }
