"""``Envoy``: an official or proxy envoy of a principal state to a counterpart, as a Mesa agent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from diplosim.mechanisms.negotiation import ENVOY_ROUNDS
from diplosim.reference.agreements import PROXY, Candidate, proposal
from diplosim.reference.bargaining import bargain
from diplosim.reference.common import SynchronousAgent, float32

if TYPE_CHECKING:
    from diplosim.reference.relation import Relation
    from diplosim.reference.state import State


class Envoy(SynchronousAgent):
    """Envoy ``index`` of the world: ``principal``'s envoy to ``counterpart`` on the dyad ``relation``."""

    def __init__(self, model, index: int, principal: State, counterpart: State, relation: Relation, channel: int,
                 credibility: float, active: bool):
        super().__init__(model)
        self.index = index
        self.principal = principal
        self.counterpart = counterpart
        self.relation = relation  # the dyad principal -> counterpart
        self.channel = channel  # index into CHANNELS
        self.credibility = credibility  # how far the counterpart believes its offers
        self.active = active  # dispatched this step
        self.issue = 0  # within a step: the issue of this step's talks
        self.before = (0.0, 0.0)  # within a step: the two states' positions before the talks

    # --- decisions ------------------------------------------------------------------------------

    def consider_dispatch(self, orders) -> None:
        """Sent while the pair is tense and the channel open, unless the principal's ``decide()`` says otherwise.

          active = max(t_e, t_r(e)) > envoy_tension and ch_e > envoy_channel   (e: the envoy's dyad)
        ``orders`` = (values, mask) of the ``decide()`` hooks (lists by envoy), or None.
        """
        p, dyad = self.model.params, self.relation
        active = max(dyad.tension, dyad.reverse.tension) > p.envoy_tension and dyad.channel > p.envoy_channel
        if orders is not None and orders[1].dispatch[self.index]:
            active = orders[0].dispatch[self.index]
        self.next["active"] = active

    # --- negotiation ----------------------------------------------------------------------------

    def talk(self) -> None:
        """An active envoy: principal and counterpart bargain ENVOY_ROUNDS round on the issue they care most about.

          issue k = argmax_k s_pk + s_ck (sums in float32, the first issue on a tie)
          capability: power_p x credibility (principal), power_c (counterpart)
          speed: envoy_speed (official) or proxy_speed (proxy), times each leader's flexibility
        Each records its move in ``moves`` (``State.settle_positions``).
        """
        if not self.active:
            return
        p = self.model.params
        pair = (self.principal, self.counterpart)
        joint = [float32(a + b) for a, b in zip(self.principal.salience, self.counterpart.salience, strict=True)]
        k = self.issue = joint.index(max(joint))
        start = [state.position[k] for state in pair]
        self.before = tuple(start)
        speed = p.proxy_speed if self.channel == PROXY else p.envoy_speed
        end = bargain(start, [self.principal.power * self.credibility, self.counterpart.power],
                      [state.salience[k] for state in pair], [speed * state.flexibility() for state in pair], ENVOY_ROUNDS)
        for state, x0, x1 in zip(pair, start, end, strict=True):
            state.moves[k].append(x1 - x0)

    def deal(self, params, issue_agreement: list[int]) -> Candidate | None:
        """The agreement principal and counterpart sign once this step's talks have moved them, or None."""
        if not self.active:
            return None
        return proposal(self.principal, self.counterpart, self.issue, self.channel, self.before, params, issue_agreement)
