"""Effects the article argues, as directions of ensemble means on the Alaska scenario.

All variants run in one vmapped batch (one compilation): ENSEMBLE seeds per
variant, STEPS weekly steps.  Run ``python tests/test_effects.py`` to print the
means and spreads.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diplosim.engine import RunSpec, simulate_batch
from diplosim.mechanisms.trade import calibrate_trade
from diplosim.params import params_from, stack_params
from diplosim.scenario import load_scenario_file
from diplosim.world import CHANNELS, EVENT_KINDS, EVENT_ROLES, replace
from worlds import with_agreement

ENSEMBLE = 64
STEPS = 104
SPEC = RunSpec(every=4, sample_dyads=True, event_capacity=16)


@functools.cache
def scenario():
    return load_scenario_file("conf/scenario/alaska_2025.yaml")


def _index(name):
    return scenario().states.index(name)


def _dyad(a, b):
    d = scenario().world.dyads
    return int(np.flatnonzero((np.asarray(d.src) == _index(a)) & (np.asarray(d.dst) == _index(b)))[0])


def allies_at_the_table(world):
    ev = world.events
    return world.replace(events=replace(ev, member_role=jnp.zeros_like(ev.member_role) + EVENT_ROLES.index("participant")))


def all_envoys(world, channel):
    m = world.envoys
    return world.replace(envoys=replace(m, channel=jnp.full_like(m.channel, CHANNELS.index(channel))))


def no_secondary_threat(world):
    ev = world.events
    scheduled = ev.kind == EVENT_KINDS.index("secondary_sanction")
    return world.replace(events=replace(ev, magnitude=jnp.where(scheduled, 0.0, ev.magnitude)))


def reliable_ceasefire(world):
    agreed = with_agreement(world, _index("United States"), _index("Russia"), "ceasefire", verification=1.0)
    return agreed.replace(states=replace(agreed.states, reliability=agreed.states.reliability.at[_index("Russia")].set(1.0)))


FROZEN_TALKS = {"agreement_gap": 0.0, "ceasefire_approval": 0.0, "ceasefire_power_share": 0.0}
VARIANTS = {
    "allies_excluded": (lambda w: w, {}),
    "allies_included": (allies_at_the_table, {}),
    "official_envoys": (lambda w: all_envoys(w, "official"), {}),
    "proxy_envoys": (lambda w: all_envoys(w, "proxy"), {}),
    "secondary_on": (lambda w: w, {}),
    "secondary_off": (no_secondary_threat, {"secondary_tension": 1.0}),
    "no_ceasefire": (lambda w: w, {**FROZEN_TALKS, "violation_rate": 0.0}),
    "ceasefire": (reliable_ceasefire, {**FROZEN_TALKS, "violation_rate": 0.0}),
}


@functools.cache
def ensemble():
    """Run every variant ENSEMBLE times in one batch; return name -> trajectory (arrays [ENSEMBLE, ...])."""
    base = scenario().world
    worlds, params = [], []
    for make_world, overrides in VARIANTS.values():
        p = params_from(overrides)
        w = calibrate_trade(make_world(base), p)
        worlds += [w] * ENSEMBLE
        params += [p] * ENSEMBLE
    stacked_world = jax.tree.map(lambda *xs: jnp.stack(xs), *worlds)
    keys = jax.random.split(jax.random.key(2025), len(worlds))
    keys = jnp.concatenate([keys[:ENSEMBLE]] * len(VARIANTS))  # common random numbers across variants
    _, traj = simulate_batch(stacked_world, stack_params(params), keys, STEPS, SPEC, world_batched=True)
    out = {}
    for v, name in enumerate(VARIANTS):
        rows = slice(v * ENSEMBLE, (v + 1) * ENSEMBLE)
        out[name] = {
            "metrics": {k: np.asarray(x)[rows] for k, x in traj.metrics.items()},
            "dyads": {k: np.asarray(x)[rows] for k, x in traj.dyads.items()},
            "events": {k: np.asarray(x)[rows] for k, x in traj.events.items()},
        }
    return out


def nato_cohesion(run):
    bloc = scenario().blocs.index("nato_eu")
    return run["metrics"]["cohesion"][:, -1, bloc]  # [ENSEMBLE], final step


def violations(run):
    from diplosim.mechanisms.metrics import ENDOGENOUS_EVENTS

    return (run["events"]["kind"] == ENDOGENOUS_EVENTS.index("agreement_violated")).sum(axis=(1, 2)).astype(float)


def india_imports_from_russia(run):
    return run["dyads"]["energy_flow"][:, 2:, _dyad("Russia", "India")].mean(axis=1)  # after the threat, mean over samples


def us_russia_tension(run):
    return run["dyads"]["tension"][:, -1, _dyad("United States", "Russia")]


EFFECTS = {
    "excluding the allies lowers NATO cohesion": (nato_cohesion, "allies_excluded", "allies_included"),
    "proxy agreements are violated more often": (violations, "official_envoys", "proxy_envoys"),
    "secondary sanctions cut India's oil imports from Russia": (india_imports_from_russia, "secondary_on", "secondary_off"),
    "a ceasefire in force lowers US-Russia tension": (us_russia_tension, "ceasefire", "no_ceasefire"),
}


def summary() -> list[str]:
    runs = ensemble()
    lines = []
    for effect, (measure, lower, higher) in EFFECTS.items():
        lo, hi = measure(runs[lower]), measure(runs[higher])
        lines.append(f"{effect}: {lower} {lo.mean():.4f} (sd {lo.std():.4f}) < {higher} {hi.mean():.4f} (sd {hi.std():.4f}), n = {ENSEMBLE} each")
    return lines


@pytest.mark.parametrize("effect", list(EFFECTS))
def test_effect_direction(effect):
    measure, lower, higher = EFFECTS[effect]
    runs = ensemble()
    lo, hi = measure(runs[lower]), measure(runs[higher])
    # the means differ in the argued direction by more than two standard errors of the difference
    standard_error = np.sqrt(lo.var(ddof=1) / len(lo) + hi.var(ddof=1) / len(hi))
    assert hi.mean() - lo.mean() > 2 * standard_error, (effect, lo.mean(), hi.mean(), standard_error)


if __name__ == "__main__":
    print("\n".join(summary()))
