"""Agreements: signing into slots, compliance drawn from reliability, detection through verification.

Reads agreements, states' ``reliability``; writes agreements' ``status`` and
``age``, and on the dyads between the parties ``trust_alpha``, ``trust_beta``,
``tension``, ``sanction``, ``channel`` (and ``conflict`` on a broken ceasefire).

Each step, for an agreement in force between a and b, signed through channel
h (official or proxy):
  party p breaks it with probability  v_p = violation_rate (1 - r_p) f_h
      (f_h = 1 official, proxy_violation_factor proxy)
  a break is detected with probability  the agreement's verification
  detected break by p:  status <- violated;  beta_{q->p} += violation_trust;
      tau_pq, tau_qp += violation_tension;  s_{q->p} <- max(s_{q->p}, snapback_sanction)
      a broken ceasefire lets the breaker's wars restart: on every dyad of p with
      tension above conflict_threshold whose two sides were both at war at step 0
      (conflict_baseline > 0), c <- max(c, violation_relapse) (both ways)
  otherwise each party observes compliance: alpha_{q->p} += compliance_trust g_h
      (g_h = 1 official, proxy_trust_factor proxy)
  age += 1; after agreement_duration steps: status <- expired.
While in force: sanctions relief pulls s_ab, s_ba toward 0 at relief_rate;
channel restoration keeps ch_ab, ch_ba >= 0.9; a ceasefire caps the parties'
conflicts (tension mechanism).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from diplosim import draws
from diplosim.params import Params
from diplosim.world import (
    AGREEMENT_KINDS,
    AGREEMENT_STATUS,
    CHANNELS,
    World,
    lookup_dyads,
    replace,
    reverse_of,
    searchsorted,
    take,
)

STATUS = {name: i for i, name in enumerate(AGREEMENT_STATUS)}
KIND = {name: i for i, name in enumerate(AGREEMENT_KINDS)}
PROXY = CHANNELS.index("proxy")
RESTORED_CHANNEL = 0.9


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Candidates:
    """Agreements ready to be signed this step, leading dimension C (``valid`` marks real ones)."""

    valid: Any
    party_a: Any
    party_b: Any
    kind: Any
    issue: Any
    terms: Any
    verification: Any
    channel: Any


def concat(*many: Candidates) -> Candidates:
    return jax.tree.map(lambda *xs: jnp.concatenate(xs), *many)


def in_force(world: World, kind: str | None = None) -> jax.Array:
    """Slots in force (of ``kind``): bool[A]."""
    a = world.agreements
    live = a.status == STATUS["in_force"]
    return live if kind is None else live & (a.kind == KIND[kind])


def parties_to(world: World, kind: str) -> jax.Array:
    """States party to an agreement of ``kind`` in force: bool[N]."""
    a, live = world.agreements, in_force(world, kind)
    n = world.n_states
    flags = jnp.zeros(n, bool).at[jnp.where(live, a.party_a, n)].set(True, mode="drop")
    return flags.at[jnp.where(live, a.party_b, n)].set(True, mode="drop")


def agreement_dyads(world: World) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Dyads a->b and b->a of every slot (E where missing), and whether found: i32[A], i32[A], bool[A]."""
    a = world.agreements
    ab, found = lookup_dyads(world.dyads, a.party_a, a.party_b)
    ba = jnp.where(found, world.dyads.reverse[jnp.minimum(ab, world.n_dyads - 1)], world.n_dyads)
    return ab, ba, found


def _both_dyads(n_dyads: int, ab: jax.Array, ba: jax.Array, chosen: jax.Array) -> jax.Array:
    """Dyads a->b and b->a of the ``chosen`` slots: bool[E]."""
    mask = jnp.zeros(n_dyads, bool).at[jnp.where(chosen, ab, n_dyads)].set(True, mode="drop")
    return mask.at[jnp.where(chosen, ba, n_dyads)].set(True, mode="drop")


def pair_mask(world: World, kind: str) -> jax.Array:
    """Dyads (either direction) covered by an agreement of ``kind`` in force: bool[E]."""
    ab, ba, found = agreement_dyads(world)
    return _both_dyads(world.n_dyads, ab, ba, in_force(world, kind) & found)


def sign(world: World, candidates: Candidates) -> tuple[World, jax.Array]:
    """Put valid candidates into free slots (not in force), skipping duplicates of agreements in force.

    A candidate duplicates another when the same unordered pair signs the same
    kind; the first one wins.  Candidates beyond the free slots are dropped.
    Returns the world and which candidates were signed (bool[C]).
    """
    a, c = world.agreements, candidates
    same_pair = lambda pa, pb, qa, qb: ((pa == qa) & (pb == qb)) | ((pa == qb) & (pb == qa))  # noqa: E731
    live = in_force(world)
    duplicate = (
        same_pair(c.party_a[:, None], c.party_b[:, None], a.party_a[None, :], a.party_b[None, :])
        & (c.kind[:, None] == a.kind[None, :]) & live[None, :]
    ).any(1)
    earlier = jnp.tril(jnp.ones((c.valid.shape[0],) * 2, bool), -1)
    repeated = (
        same_pair(c.party_a[:, None], c.party_b[:, None], c.party_a[None, :], c.party_b[None, :])
        & (c.kind[:, None] == c.kind[None, :]) & c.valid[None, :] & earlier
    ).any(1)
    valid = c.valid & ~duplicate & ~repeated
    free = ~live
    free_count = jnp.cumsum(free)
    rank = jnp.cumsum(valid) - 1
    slot = searchsorted(free_count, rank + 1)  # the (rank+1)-th free slot
    signed_ok = valid & (rank < free_count[-1])
    slot = jnp.where(signed_ok, slot, a.status.shape[0])
    put = lambda old, new: old.at[slot].set(new.astype(old.dtype), mode="drop")  # noqa: E731
    signed = replace(
        a,
        party_a=put(a.party_a, c.party_a), party_b=put(a.party_b, c.party_b), kind=put(a.kind, c.kind),
        issue=put(a.issue, c.issue), terms=put(a.terms, c.terms), verification=put(a.verification, c.verification),
        channel=put(a.channel, c.channel), status=put(a.status, jnp.full_like(c.kind, STATUS["in_force"])),
        age=put(a.age, jnp.zeros_like(c.kind)),
    )
    return replace(world, agreements=signed), signed_ok


def _scatter_add(values: jax.Array, at: jax.Array, amount: jax.Array) -> jax.Array:
    return values.at[at].add(amount, mode="drop")


def agreements(world: World, params: Params, key: jax.Array) -> World:
    """One step of every agreement in force: compliance, detection, consequences, effects, ageing."""
    a, d, s = world.agreements, world.dyads, world.states
    e = world.n_dyads
    live = in_force(world)
    ab, ba, found = agreement_dyads(world)
    live_pair = live & found
    proxy = a.channel == PROXY
    breaks_factor = jnp.where(proxy, params.proxy_violation_factor, 1.0)
    k_a, k_b, k_detect_a, k_detect_b = jax.random.split(key, 4)
    slots = a.status.shape
    breaks_a = draws.uniform(k_a, slots) < params.violation_rate * (1 - s.reliability[a.party_a]) * breaks_factor
    breaks_b = draws.uniform(k_b, slots) < params.violation_rate * (1 - s.reliability[a.party_b]) * breaks_factor
    caught_a = live & breaks_a & (draws.uniform(k_detect_a, slots) < a.verification)
    caught_b = live & breaks_b & (draws.uniform(k_detect_b, slots) < a.verification)
    complied = live & ~caught_a & ~caught_b

    # beliefs: b -> a is b's belief about a (dyad ba), a -> b is a's belief about b (dyad ab)
    at_ab = jnp.where(live_pair, ab, e)
    at_ba = jnp.where(live_pair, ba, e)
    gain = params.compliance_trust * jnp.where(proxy, params.proxy_trust_factor, 1.0) * complied
    alpha = _scatter_add(_scatter_add(d.trust_alpha, at_ab, gain), at_ba, gain)
    beta = _scatter_add(_scatter_add(d.trust_beta, at_ba, params.violation_trust * caught_a), at_ab, params.violation_trust * caught_b)
    caught = caught_a | caught_b
    tension = _scatter_add(_scatter_add(d.tension, at_ab, params.violation_tension * caught), at_ba, params.violation_tension * caught)
    snap_on_a = jnp.where(caught_a, at_ba, e)  # b sanctions a
    snap_on_b = jnp.where(caught_b, at_ab, e)
    sanction = d.sanction.at[snap_on_a].max(params.snapback_sanction, mode="drop").at[snap_on_b].max(params.snapback_sanction, mode="drop")

    # a broken ceasefire: the breaker's wars flare up again where tension is high
    n = world.n_states
    broke_ceasefire = (a.kind == KIND["ceasefire"]) & live
    breaker = jnp.zeros(n, bool).at[jnp.where(caught_a & broke_ceasefire, a.party_a, n)].set(True, mode="drop")
    breaker = breaker.at[jnp.where(caught_b & broke_ceasefire, a.party_b, n)].set(True, mode="drop")

    def relapse(conflict: jax.Array) -> jax.Array:
        hot = (d.tension > params.conflict_threshold) | (reverse_of(d.tension, d) > params.conflict_threshold)
        at_war_before = (take(s.conflict_baseline, d.src) > 0) & (take(s.conflict_baseline, d.dst) > 0)
        flares = (take(breaker, d.src) | take(breaker, d.dst)) & hot & at_war_before
        return jnp.where(flares, jnp.maximum(conflict, params.violation_relapse), conflict)

    # a pass over every dyad only in the steps where a ceasefire is broken (vmapped: both, selected)
    conflict = jax.lax.cond(breaker.any(), relapse, lambda conflict: conflict, d.conflict)

    # effects of agreements still in force
    relief = live_pair & ~caught & (a.kind == KIND["sanctions_relief"])
    sanction = jnp.where(_both_dyads(e, ab, ba, relief), sanction * (1 - params.relief_rate), sanction)
    restored = live_pair & ~caught & (a.kind == KIND["channel_restoration"])
    channel = d.channel.at[jnp.where(restored, ab, e)].max(RESTORED_CHANNEL, mode="drop")
    channel = channel.at[jnp.where(restored, ba, e)].max(RESTORED_CHANNEL, mode="drop")

    age = jnp.where(live, a.age + 1, a.age)
    status = jnp.where(caught, STATUS["violated"], a.status)
    status = jnp.where((status == STATUS["in_force"]) & (age >= params.agreement_duration), STATUS["expired"], status)
    return replace(
        world,
        agreements=replace(a, status=status.astype(a.status.dtype), age=age),
        dyads=replace(d, trust_alpha=alpha, trust_beta=beta, tension=tension.clip(0.0, 1.0),
                      sanction=sanction.clip(0.0, 1.0), channel=channel, conflict=conflict),
    )
