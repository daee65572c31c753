"""The scenario's schedule: ``Event`` records, and the summits among them (reference of ``mechanisms.events`` and of the summits of ``mechanisms.negotiation``).

Events are data, not agents: each is a shock on the dyad actor->target at its
step (``Relation.react_to_events`` applies it), or a summit, which the
negotiation phase convenes (``convene``): its participants bargain and
the stakeholders it excludes resent it (``Relation.resent_exclusions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from diplosim.mechanisms.negotiation import SUMMIT_ROUNDS
from diplosim.params import Params
from diplosim.reference.agreements import Candidate, proposal
from diplosim.reference.bargaining import bargain

if TYPE_CHECKING:
    from diplosim.reference.state import State


class Event:
    """One entry of the schedule: a shock of ``kind`` with ``magnitude`` on actor->target at ``step``, or a summit.

    A summit bargains on ``issue``; ``participants`` and ``excluded`` are its
    memberships in schedule order (a state listed twice counts twice, as in
    the core).
    """

    def __init__(self, index: int, step: int, kind: str, actor: State, target: State, issue: int, magnitude: float,
                 participants: list[State], excluded: list[State]):
        self.index = index
        self.step = step
        self.kind = kind  # a name of diplosim.world.EVENT_KINDS
        self.actor = actor
        self.target = target
        self.issue = issue
        self.magnitude = magnitude
        self.participants = participants
        self.excluded = excluded
        self.before: tuple[float, float] = (0.0, 0.0)  # actor's and target's positions before the summit's talks

    def slight(self, excluded: State, participant: State) -> float:
        """How much ``excluded`` resents being kept away from ``participant`` by this summit: m_v s_x,k.

        Counted once per pair of memberships (x excluded, p seated); 0 for a
        summit of magnitude 0, which offends nobody.
        """
        if self.magnitude <= 0:
            return 0.0
        pairs = self.excluded.count(excluded) * self.participants.count(participant)
        return pairs * self.magnitude * excluded.salience[self.issue]

    def convene(self, params: Params) -> None:
        """The participants bargain SUMMIT_ROUNDS rounds on the summit's issue; each learns its move.

        Actor p at the table: capability power_p, salience s_p,k, speed
        summit_speed x flexibility_p.  Each seated state records its move in
        ``moves`` (``State.settle_positions`` applies the mean of its moves).
        """
        k = self.issue
        seated = self.participants
        self.before = (self.actor.position[k], self.target.position[k])
        start = [state.position[k] for state in seated]
        end = bargain(start, [state.power for state in seated], [state.salience[k] for state in seated],
                      [params.summit_speed * state.flexibility() for state in seated], SUMMIT_ROUNDS)
        for state, x0, x1 in zip(seated, start, end, strict=True):
            state.moves[k].append(x1 - x0)

    def deal(self, params: Params, issue_agreement: list[int]) -> Candidate | None:
        """The agreement the summit's actor and target sign once its talks have moved them, or None."""
        return proposal(self.actor, self.target, self.issue, 0, self.before, params, issue_agreement)
