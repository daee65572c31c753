"""Agreements: the ``Agreement`` slots as Mesa agents, deals, and signing (reference of ``mechanisms.agreements``).

A slot holds one agreement between two states while it is in force, or none.
Each step, ``Agreement.review`` decides, for an agreement in force between a
and b signed through channel h, with the slot's four uniform draws
(u_a, u_b, u'_a, u'_b, from ``jax.random.split(key, 4)`` as in the core):
  party p breaks it if    u_p < violation_rate (1 - r_p) f_h     (f_h = 1 official, proxy_violation_factor proxy)
  the break is caught if  u'_p < the agreement's verification
  age += 1; status <- violated if a break is caught, else expired once age >= agreement_duration.
Both parties' relations hear the outcome (``Relation.hear_agreement_news``).

``sign`` puts deals into free slots, first come first served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from diplosim.params import Params
from diplosim.reference.common import SynchronousAgent, float32
from diplosim.world import AGREEMENT_KINDS, AGREEMENT_STATUS, CHANNELS

if TYPE_CHECKING:
    from diplosim.reference.relation import Relation
    from diplosim.reference.state import State

IN_FORCE, VIOLATED, EXPIRED = (AGREEMENT_STATUS.index(s) for s in ("in_force", "violated", "expired"))
CEASEFIRE, SANCTIONS_RELIEF, CHANNEL_RESTORATION = (
    AGREEMENT_KINDS.index(k) for k in ("ceasefire", "sanctions_relief", "channel_restoration"))
PROXY = CHANNELS.index("proxy")


@dataclass
class Candidate:
    """A deal two principals are ready to sign this step."""

    party_a: State
    party_b: State
    kind: int  # index into AGREEMENT_KINDS
    issue: int
    terms: float
    verification: float
    channel: int  # index into CHANNELS
    before: tuple[float, float] = (0.0, 0.0)  # the parties' positions before the talks (for approval)

    def same_deal(self, a: State, b: State, kind: int) -> bool:
        """Same unordered pair of parties, same kind."""
        return kind == self.kind and {a, b} == {self.party_a, self.party_b}


def proposal(a: State, b: State, issue: int, channel: int, before: tuple[float, float], params: Params,
             issue_agreement: list[int]) -> Candidate | None:
    """The deal principals a and b sign on ``issue`` after their talks, or None.

    A deal of kind issue_agreement[k] (none if -1) when |x_a - x_b| < agreement_gap,
    with terms (x_a + x_b) / 2 and the channel's verification.
    """
    x_a, x_b = a.position[issue], b.position[issue]
    kind = issue_agreement[issue]
    if kind < 0 or not abs(x_a - x_b) < params.agreement_gap:
        return None
    verification = params.verification_proxy if channel == PROXY else params.verification_official
    return Candidate(a, b, kind, issue, 0.5 * (x_a + x_b), verification, channel, before)


class Agreement(SynchronousAgent):
    """Agreement slot ``index``: an agreement between ``party_a`` and ``party_b`` while in force, else free."""

    def __init__(self, model, index: int, party_a: State, party_b: State, kind: int, issue: int, terms: float,
                 verification: float, channel: int, status: int, age: int):
        super().__init__(model)
        self.index = index
        self.party_a = party_a
        self.party_b = party_b
        self.kind = kind  # index into AGREEMENT_KINDS
        self.issue = issue
        self.terms = terms  # agreed position on the issue
        self.verification = verification  # probability a violation is detected
        self.channel = channel  # index into CHANNELS
        self.status = status  # index into AGREEMENT_STATUS
        self.age = age  # steps since signature
        self.caught_a = self.caught_b = False  # this step's review: a caught breaking it, b caught breaking it

    @property
    def in_force(self) -> bool:
        return self.status == IN_FORCE

    def relations(self) -> tuple[Relation, ...]:
        """The dyads a->b and b->a, or () where the parties have no dyad."""
        ab = self.party_a.relation_to.get(self.party_b)
        return () if ab is None else (ab, ab.reverse)

    def caught_breaking(self, state: State) -> bool:
        """Whether ``state``, a party, was caught breaking this agreement in this step's review."""
        return (state is self.party_a and self.caught_a) or (state is self.party_b and self.caught_b)

    def review(self, u_a: list, u_b: list, u_detect_a: list, u_detect_b: list) -> None:
        """An agreement in force: does each party break it, is the break caught; it ages or ends (module docstring).

        Reads its own entries of the four draws; tells the parties' relations
        (their ``news``) that it was reviewed.
        """
        self.caught_a = self.caught_b = False
        if not self.in_force:
            return
        p, x = self.model.params, self.index
        factor = p.proxy_violation_factor if self.channel == PROXY else 1.0
        breaks_a = u_a[x] < p.violation_rate * (1 - self.party_a.reliability) * factor
        breaks_b = u_b[x] < p.violation_rate * (1 - self.party_b.reliability) * factor
        self.caught_a = breaks_a and u_detect_a[x] < self.verification
        self.caught_b = breaks_b and u_detect_b[x] < self.verification
        for relation in self.relations():
            relation.news.append(self)
        age = self.age + 1
        status = VIOLATED if self.caught_a or self.caught_b else EXPIRED if age >= p.agreement_duration else IN_FORCE
        self.next.update(age=age, status=status)

    def ceasefire_breakers(self) -> list[State]:
        """The parties caught breaking this agreement, if it is a ceasefire."""
        if self.kind != CEASEFIRE:
            return []
        return [party for party in (self.party_a, self.party_b) if self.caught_breaking(party)]


def sign(agreements, deals: list[Candidate]) -> list[bool]:
    """Put the deals into free slots (any slot not in force), in order; returns which were signed.

    A deal is skipped when an agreement in force, or an earlier deal, binds
    the same unordered pair to the same kind; the first one wins.  Deals
    beyond the free slots are dropped.  Signing is first come, first served,
    so slots are filled one deal at a time, in place.
    """
    live = [slot for slot in agreements if slot.in_force]
    free = [slot for slot in agreements if not slot.in_force]
    signed = []
    for n, deal in enumerate(deals):
        duplicate = any(deal.same_deal(slot.party_a, slot.party_b, slot.kind) for slot in live)
        repeated = any(deal.same_deal(earlier.party_a, earlier.party_b, earlier.kind) for earlier in deals[:n])
        ok = not duplicate and not repeated and len(free) > 0
        if ok:
            slot = free.pop(0)
            slot.party_a, slot.party_b, slot.kind, slot.issue = deal.party_a, deal.party_b, deal.kind, deal.issue
            slot.terms, slot.verification, slot.channel = float32(deal.terms), float32(deal.verification), deal.channel
            slot.status, slot.age = IN_FORCE, 0
        signed.append(ok)
    return signed
