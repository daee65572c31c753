"""Dynamics coefficients (``Params``) and mechanism switches (``Mechanisms``).

``Params`` is a pytree of f32 scalars: every coefficient can be swept and
vmapped without recompiling.  ``Mechanisms`` is static (hashable) and changes
the compiled program.  Each field is declared once, with meaning, unit and
range; ``DynamicsConfig`` in ``diplosim.config`` is generated from these
declarations, so the command line sees the same names and defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def coef(default: float, doc: str, unit: str = "1", lo: float | None = 0.0, hi: float | None = None):
    """A coefficient: its default, meaning, unit and closed range."""
    return dataclasses.field(
        default=default, metadata={"doc": doc, "unit": unit, "range": (lo, hi)}
    )


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Params:
    """Every dynamics coefficient.  Rates are per step (one week) unless the unit says /yr."""

    # events
    signal_tension: Any = coef(0.25, "tension added by a military signal of magnitude 1")
    incentive_trade: Any = coef(0.3, "relative rise of trade potential from an incentive of magnitude 1")
    incentive_trust: Any = coef(2.0, "Beta compliance counts added by an incentive of magnitude 1", "count")
    exclusion_alliance: Any = coef(0.15, "alliance weight an excluded stakeholder loses toward each participant, times its salience")
    exclusion_trust: Any = coef(3.0, "Beta violation counts an excluded stakeholder adds toward each participant, times its salience", "count")
    # decisions (default rules)
    sanction_impose_tension: Any = coef(0.75, "tension above which a state raises sanctions on a non-ally", "1", 0.0, 1.0)
    sanction_lift_tension: Any = coef(0.3, "tension below which a state lifts its sanctions", "1", 0.0, 1.0)
    sanction_rate: Any = coef(0.05, "rate at which sanctions move toward imposed (1) or lifted (0)", "1/step", 0.0, 1.0)
    sanction_ally_limit: Any = coef(0.3, "alliance weight above which a state never sanctions", "1", 0.0, 1.0)
    secondary_tension: Any = coef(0.8, "tension above which a sanctioning great power threatens buyers of the target's oil", "1", 0.0, 1.0)
    secondary_rate: Any = coef(0.1, "rate at which secondary sanctions move toward threatened (1) or withdrawn (0)", "1/step", 0.0, 1.0)
    envoy_tension: Any = coef(0.25, "tension (either way) above which an envoy is dispatched", "1", 0.0, 1.0)
    envoy_channel: Any = coef(0.05, "lowest diplomatic-channel level through which an envoy can work", "1", 0.0, 1.0)
    ceasefire_approval: Any = coef(0.45, "approval below which a state at war proposes a ceasefire", "1", 0.0, 1.0)
    ceasefire_power_share: Any = coef(0.4, "power share p_i / (p_i + p_j) below which a state at war proposes a ceasefire", "1", 0.0, 1.0)
    goodwill_tension: Any = coef(0.05, "tension the proposer sheds toward its enemy when a ceasefire offer is not reciprocated", "1", 0.0, 1.0)
    signal_rate: Any = coef(0.2, "chance per step of a military signal, per unit tension above signal_threshold", "1/step", 0.0, 1.0)
    signal_threshold: Any = coef(0.7, "tension above which states signal militarily", "1", 0.0, 1.0)
    signal_size: Any = coef(0.3, "magnitude of an endogenous military signal (in units of signal_tension)", "1", 0.0, 1.0)
    # negotiation
    summit_speed: Any = coef(0.8, "share of the bargaining model's move made per round at a summit", "1", 0.0, 1.0)
    envoy_speed: Any = coef(0.3, "share of the bargaining model's move made per round through an official envoy", "1", 0.0, 1.0)
    proxy_speed: Any = coef(0.6, "share of the bargaining model's move made per round through a proxy envoy (faster)", "1", 0.0, 1.0)
    flexibility_floor: Any = coef(0.3, "flexibility of a leader at zero approval (1 at full approval)", "1", 0.0, 1.0)
    agreement_gap: Any = coef(0.1, "largest position gap at which the two principals sign an agreement", "1", 0.0, 1.0)
    approval_deal: Any = coef(0.1, "approval a party gains (loses) from terms at (opposite to) its position, times salience")
    # agreements
    agreement_duration: Any = coef(52.0, "steps after which an agreement expires", "steps", 1.0)
    violation_rate: Any = coef(0.05, "chance per step that a fully unreliable party breaks an agreement (times 1 - reliability)", "1/step", 0.0, 1.0)
    proxy_violation_factor: Any = coef(3.0, "how much more often commitments made through a proxy are broken", "1", 1.0)
    verification_official: Any = coef(0.8, "verification (detection probability) of agreements through official channels", "1", 0.0, 1.0)
    verification_proxy: Any = coef(0.4, "verification of agreements through proxy channels", "1", 0.0, 1.0)
    compliance_trust: Any = coef(0.2, "Beta compliance counts a party earns per step of observed compliance (official)", "count")
    proxy_trust_factor: Any = coef(0.5, "share of compliance trust earned through a proxy agreement", "1", 0.0, 1.0)
    violation_trust: Any = coef(4.0, "Beta violation counts the other party adds on a detected violation", "count")
    violation_tension: Any = coef(0.3, "tension added both ways on a detected violation", "1", 0.0, 1.0)
    violation_relapse: Any = coef(0.5, "conflict intensity the breaker's earlier wars flare back to when a ceasefire is broken", "1", 0.0, 1.0)
    snapback_sanction: Any = coef(0.8, "sanction level the other party snaps back to on a detected violation", "1", 0.0, 1.0)
    relief_rate: Any = coef(0.2, "rate at which sanctions between the parties fall under a sanctions-relief agreement", "1/step", 0.0, 1.0)
    # trade and energy
    trade_relax: Any = coef(0.2, "rate at which trade moves toward its frictional target", "1/step", 0.0, 1.0)
    sanction_trade_damping: Any = coef(0.8, "share of trade a full sanction removes", "1", 0.0, 1.0)
    conflict_trade_damping: Any = coef(0.9, "share of trade full-scale conflict removes", "1", 0.0, 1.0)
    closed_channel_trade: Any = coef(0.6, "share of trade that survives with embassies closed", "1", 0.0, 1.0)
    energy_price_base: Any = coef(68.0, "oil price when supply meets demand (Brent, early August 2025)", "USD/bbl", 1e-3)
    energy_price_elasticity: Any = coef(0.25, "price elasticity of oil demand: price = base * (demand / delivered)^(1/elasticity), the ratio held in [1, 2]", "1", 1e-3)
    secondary_diversion: Any = coef(0.7, "share of purchases diverted from a seller under full secondary sanctions", "1", 0.0, 1.0)
    secondary_cost: Any = coef(0.25, "penalty paid by buyers per USD of oil bought from a seller under full secondary sanctions", "1", 0.0)
    # economy
    growth_base: Any = coef(0.025, "trend gdp growth", "1/yr", -1.0, 1.0)
    growth_trade: Any = coef(0.3, "gdp growth per unit relative trade gain", "1/yr")
    conflict_gdp_cost: Any = coef(0.15, "gdp loss at full-scale conflict", "1/yr", 0.0, 1.0)
    power_relax: Any = coef(0.05, "rate at which power moves toward military_share * gdp", "1/step", 0.0, 1.0)
    conflict_power_cost: Any = coef(0.01, "share of power lost per step at full conflict", "1/step", 0.0, 1.0)
    # tension and conflict
    tension_relax: Any = coef(0.1, "rate at which tension moves toward its driven level", "1/step", 0.0, 1.0)
    tension_noise: Any = coef(0.01, "standard deviation of random diplomatic incidents added to tension each step")
    tension_base: Any = coef(0.05, "tension between strangers", "1", 0.0, 1.0)
    tension_sanction: Any = coef(0.3, "tension from sanctions (either direction)")
    tension_conflict: Any = coef(0.5, "tension from armed conflict")
    tension_distance: Any = coef(0.4, "tension from diverging issue positions")
    tension_alliance: Any = coef(0.4, "tension removed by alliance")
    tension_trust: Any = coef(0.3, "tension removed by trust above 1/2")
    tension_bloc_conflict: Any = coef(0.3, "tension toward a state at war with one's own bloc")
    conflict_threshold: Any = coef(0.8, "tension above which conflict escalates", "1", 0.0, 1.0)
    conflict_escalation: Any = coef(0.2, "conflict growth per unit tension above the threshold", "1/step")
    conflict_deescalation: Any = coef(0.05, "conflict decay per unit tension below the threshold", "1/step")
    ceasefire_cap: Any = coef(0.05, "highest conflict intensity while a ceasefire is in force", "1", 0.0, 1.0)
    # alliances
    alliance_relax: Any = coef(0.02, "rate at which alliance weight moves toward its target", "1/step", 0.0, 1.0)
    alliance_threat: Any = coef(1.5, "alliance from shared threats")
    alliance_trust: Any = coef(0.6, "alliance from mutual trust above 1/2")
    alliance_distance: Any = coef(0.8, "alliance lost to diverging positions")
    alliance_bloc: Any = coef(0.5, "alliance from belonging to the same bloc")
    # trust
    trust_decay: Any = coef(0.01, "rate at which Beta counts decay toward the prior", "1/step", 0.0, 1.0)
    trust_prior: Any = coef(2.0, "prior Beta counts (alpha = beta = prior)", "count", 1e-3)
    # domestic approval
    approval_relax: Any = coef(0.05, "rate at which approval moves toward its target", "1/step", 0.0, 1.0)
    approval_growth: Any = coef(5.0, "approval per unit annual gdp growth above trend")
    approval_conflict: Any = coef(0.3, "approval lost at full-scale conflict")

    def replace(self, **changes) -> Params:
        return dataclasses.replace(self, **changes)


def params_from(values: dict[str, float] | None = None) -> Params:
    """Params from defaults overridden by ``values``, each as an f32 array (numpy, on the host: a
    jitted function takes it as an argument; ``stack_params`` stacks thousands at once)."""
    values = dict(values or {})
    unknown = set(values) - {f.name for f in dataclasses.fields(Params)}
    if unknown:
        allowed = ", ".join(f.name for f in dataclasses.fields(Params))
        raise ValueError(f"unknown dynamics coefficient(s) {sorted(unknown)}; allowed: {allowed}")
    merged = {f.name: values.get(f.name, f.default) for f in dataclasses.fields(Params)}
    return Params(**{k: np.asarray(v, np.float32) for k, v in merged.items()})


def check_params(params: Params) -> None:
    """Raise ValueError naming the first coefficient outside its declared range."""
    for f in dataclasses.fields(Params):
        lo, hi = f.metadata["range"]
        value = np.asarray(getattr(params, f.name))  # on the host: no device operation per coefficient
        if (lo is not None and bool((value < lo).any())) or (hi is not None and bool((value > hi).any())):
            raise ValueError(
                f"dynamics.{f.name} = {value.tolist()} is outside [{lo}, {hi if hi is not None else 'inf'}]: {f.metadata['doc']}"
            )


def stack_params(many: list[Params]) -> Params:
    """Stack a list of Params along a new leading (batch) axis.

    Stacked on the host, one array per coefficient sent to the device: ``jnp.stack`` of the
    device scalars took 26 s for 10,000 parameter sets on a 2-core CPU.
    """
    host = jax.device_get(list(many))
    return jax.tree.map(lambda *xs: jnp.asarray(np.stack(xs)), *host)


@dataclass(frozen=True)
class Mechanisms:
    """Static switches: which mechanisms run.  Changing one recompiles."""

    events: bool = True
    decisions: bool = True
    negotiation: bool = True
    agreements: bool = True
    trade: bool = True
    economy: bool = True
    tension: bool = True
    alliances: bool = True
    trust: bool = True
    approval: bool = True
