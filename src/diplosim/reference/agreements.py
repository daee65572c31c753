"""Agreements, per slot: signing, compliance, detection and consequences (reference of ``mechanisms.agreements``).

Each step, for an agreement in force between a and b, signed through channel h:
  party p breaks it if    u_p < violation_rate (1 - r_p) f_h     (f_h = 1 official, proxy_violation_factor proxy)
  the break is caught if  u'_p < the agreement's verification
  (u_a, u_b, u'_a, u'_b: the four uniform draws of the slot, from split(key, 4))
  caught break by p:  status <- violated;  beta_{q->p} += violation_trust;
      tau_pq, tau_qp += violation_tension;  s_{q->p} <- max(s_{q->p}, snapback_sanction);
      a broken ceasefire: on every dyad of p with tension (before this step's violations)
      above conflict_threshold either way whose two sides were both at war at step 0,
      c <- max(c, violation_relapse)
  no caught break: alpha_{a->b}, alpha_{b->a} += compliance_trust g_h  (g_h = 1 official, proxy_trust_factor proxy)
  age += 1; status <- expired once age >= agreement_duration.
While in force and not broken this step: sanctions relief multiplies s_ab, s_ba by
(1 - relief_rate) (once per dyad); channel restoration keeps ch_ab, ch_ba >= 0.9.
Consequences need the dyad a->b; a slot whose parties have no dyad only ages.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax

from diplosim.mechanisms.agreements import RESTORED_CHANNEL
from diplosim.params import Params
from diplosim.reference.common import clip, draw, find_dyad, floats, ints
from diplosim.world import AGREEMENT_KINDS, AGREEMENT_STATUS, CHANNELS, World, replace

IN_FORCE, VIOLATED, EXPIRED = (AGREEMENT_STATUS.index(s) for s in ("in_force", "violated", "expired"))
PROXY = CHANNELS.index("proxy")


@dataclass
class Candidate:
    """An agreement two principals are ready to sign this step."""

    party_a: int
    party_b: int
    kind: int
    issue: int
    terms: float
    verification: float
    channel: int
    before: tuple[float, float] = (0.0, 0.0)  # the parties' positions before the talks (for approval)

    def same_deal(self, a: int, b: int, kind: int) -> bool:
        """Same unordered pair of parties, same kind."""
        return kind == self.kind and {a, b} == {self.party_a, self.party_b}


def in_force(world: World, kind: str | None = None) -> list[int]:
    """Slots in force (of ``kind``), ascending."""
    a = world.agreements
    wanted = None if kind is None else AGREEMENT_KINDS.index(kind)
    return [x for x, (status, k) in enumerate(zip(a.status.tolist(), a.kind.tolist())) if status == IN_FORCE and wanted in (None, k)]


def parties_to(world: World, kind: str) -> set[int]:
    """States party to an agreement of ``kind`` in force."""
    a = world.agreements
    return {int(p) for x in in_force(world, kind) for p in (a.party_a[x], a.party_b[x])}


def slot_dyads(world: World, slot: int) -> tuple[int, int] | None:
    """The dyads a->b and b->a of an agreement slot, or None where the parties have no dyad."""
    d, a = world.dyads, world.agreements
    ab = find_dyad(d.src, d.dst, int(a.party_a[slot]), int(a.party_b[slot]))
    return None if ab is None else (ab, int(d.reverse[ab]))


def pair_dyads(world: World, kind: str) -> set[int]:
    """Dyads (either direction) covered by an agreement of ``kind`` in force."""
    covered = set()
    for x in in_force(world, kind):
        covered.update(slot_dyads(world, x) or ())
    return covered


def sign(world: World, candidates: list[Candidate]) -> tuple[World, list[bool]]:
    """Put the candidates into free slots (any slot not in force), in order; returns which were signed.

    A candidate is skipped when an agreement in force, or an earlier
    candidate, binds the same unordered pair to the same kind; the first
    one wins.  Candidates beyond the free slots are dropped.
    """
    a = world.agreements
    columns = {name: getattr(a, name).tolist() for name in
               ("party_a", "party_b", "kind", "issue", "terms", "verification", "channel", "status", "age")}
    live = [x for x, status in enumerate(columns["status"]) if status == IN_FORCE]
    free = [x for x, status in enumerate(columns["status"]) if status != IN_FORCE]
    signed = []
    for n, c in enumerate(candidates):
        duplicate = any(c.same_deal(columns["party_a"][x], columns["party_b"][x], columns["kind"][x]) for x in live)
        repeated = any(c.same_deal(b.party_a, b.party_b, b.kind) for b in candidates[:n])
        ok = not duplicate and not repeated and len(free) > 0
        if ok:
            slot = free.pop(0)
            for name in ("party_a", "party_b", "kind", "issue", "terms", "verification", "channel"):
                columns[name][slot] = getattr(c, name)
            columns["status"][slot], columns["age"][slot] = IN_FORCE, 0
        signed.append(ok)
    floating = {"terms", "verification"}
    signed_slots = replace(a, **{name: (floats if name in floating else ints)(values) for name, values in columns.items()})
    return replace(world, agreements=signed_slots), signed


def agreements(world: World, params: Params, key: jax.Array) -> World:
    """One step of every agreement in force: compliance, detection, consequences, effects, ageing."""
    a, d, s = world.agreements, world.dyads, world.states
    slots = a.status.shape
    k_a, k_b, k_detect_a, k_detect_b = jax.random.split(key, 4)
    u_a, u_b = draw(jax.random.uniform, k_a, slots), draw(jax.random.uniform, k_b, slots)
    u_detect_a, u_detect_b = draw(jax.random.uniform, k_detect_a, slots), draw(jax.random.uniform, k_detect_b, slots)

    src, dst, reverse = d.src.tolist(), d.dst.tolist(), d.reverse.tolist()
    tension_before = d.tension.tolist()
    alpha, beta, tension = d.trust_alpha.tolist(), d.trust_beta.tolist(), d.tension.tolist()
    sanction, channel, conflict = d.sanction.tolist(), d.channel.tolist(), d.conflict.tolist()
    reliability, at_war_at_start = s.reliability.tolist(), [c > 0 for c in s.conflict_baseline.tolist()]
    status, age = a.status.tolist(), a.age.tolist()
    relieved, restored, breakers = set(), set(), set()

    for x in in_force(world):
        party_a, party_b, kind = int(a.party_a[x]), int(a.party_b[x]), AGREEMENT_KINDS[int(a.kind[x])]
        proxy = int(a.channel[x]) == PROXY
        factor = params.proxy_violation_factor if proxy else 1.0
        breaks_a = u_a[x] < params.violation_rate * (1 - reliability[party_a]) * factor
        breaks_b = u_b[x] < params.violation_rate * (1 - reliability[party_b]) * factor
        caught_a = breaks_a and u_detect_a[x] < float(a.verification[x])
        caught_b = breaks_b and u_detect_b[x] < float(a.verification[x])
        if kind == "ceasefire":
            breakers.update(p for p, caught in ((party_a, caught_a), (party_b, caught_b)) if caught)
        pair = slot_dyads(world, x)
        if pair is not None:
            ab, ba = pair  # a's belief about b lives on ab, b's about a on ba
            if caught_a or caught_b:
                for e in (ab, ba):
                    tension[e] += params.violation_tension
            else:
                gain = params.compliance_trust * (params.proxy_trust_factor if proxy else 1.0)
                alpha[ab] += gain
                alpha[ba] += gain
                if kind == "sanctions_relief":
                    relieved.update(pair)
                elif kind == "channel_restoration":
                    restored.update(pair)
            if caught_a:  # b now doubts a and sanctions it
                beta[ba] += params.violation_trust
                sanction[ba] = max(sanction[ba], params.snapback_sanction)
            if caught_b:
                beta[ab] += params.violation_trust
                sanction[ab] = max(sanction[ab], params.snapback_sanction)
        age[x] += 1
        if caught_a or caught_b:
            status[x] = VIOLATED
        elif age[x] >= params.agreement_duration:
            status[x] = EXPIRED

    for e in range(len(src)):
        if e in relieved:
            sanction[e] *= 1 - params.relief_rate
        if e in restored:
            channel[e] = max(channel[e], RESTORED_CHANNEL)
        hot = max(tension_before[e], tension_before[reverse[e]]) > params.conflict_threshold
        if (src[e] in breakers or dst[e] in breakers) and hot and at_war_at_start[src[e]] and at_war_at_start[dst[e]]:
            conflict[e] = max(conflict[e], params.violation_relapse)

    return replace(
        world,
        agreements=replace(a, status=ints(status), age=ints(age)),
        dyads=replace(d, trust_alpha=floats(alpha), trust_beta=floats(beta), tension=floats([clip(t) for t in tension]),
                      sanction=floats([clip(x) for x in sanction]), channel=floats(channel), conflict=floats(conflict)),
    )
