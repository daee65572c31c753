"""One bargaining round, per actor: Bueno de Mesquita's expected-utility model (reference of ``diplosim.bargaining``).

The actors k at the table have a position x_k, a capability c_k, a salience
s_k and a speed.  With r = RISK_EXPONENT:
  weight      w_k = c_k s_k
  win chance  P_ij = sum_k max(v_k, 0) / sum_k |v_k|,  v_k = w_k (|x_k - x_j| - |x_k - x_i|)   (1/2 if all v_k = 0)
  challenge   d = |x_i - x_j|,  U_s = 2 - 4 (1/2 - d/2)^r,  U_f = 2 - 4 (1/2 + d/2)^r,  U_sq = 2 - 4 (1/2)^r
              EU_ij = s_j (P_ij U_s + (1 - P_ij) U_f) + (1 - s_j) U_s - U_sq
  offer       i presses j iff EU_ij > 0 and EU_ij > EU_ji
  concession  f_ij = 1 if EU_ji > 0, else min(1, -EU_ji / EU_ij);  proposal y_ij = x_j + f_ij (x_i - x_j)
  acceptance  j takes the offers whose EU_ij is within TIE_TOLERANCE (relative) of its best one, averaged
  move        x_j <- clip(x_j + speed_j (y_j - x_j), 0, 1)   (unchanged without an offer)
Everyone moves at once, from the positions at the start of the round.
"""

from __future__ import annotations

from diplosim.bargaining import RISK_EXPONENT, TIE_TOLERANCE
from diplosim.reference.common import clip


def win_probability(i: int, j: int, position: list, weight: dict[int, float]) -> float:
    """P_ij: the chance that i prevails over j when every actor at the table votes by weight."""
    support = total = 0.0
    for k, w in weight.items():
        vote = w * (abs(position[j] - position[k]) - abs(position[i] - position[k]))
        support += max(vote, 0.0)
        total += abs(vote)
    return support / total if total > 0 else 0.5


def challenge_utility(i: int, j: int, position: list, salience: list, weight: dict[int, float]) -> float:
    """EU_ij: i's expected gain from challenging j, against the status quo."""
    distance = abs(position[i] - position[j])
    r = RISK_EXPONENT
    success = 2.0 - 4.0 * (0.5 - 0.5 * distance) ** r
    failure = 2.0 - 4.0 * (0.5 + 0.5 * distance) ** r
    status_quo = 2.0 - 4.0 * 0.5**r
    p = win_probability(i, j, position, weight)
    resists = salience[j]
    return resists * (p * success + (1.0 - p) * failure) + (1.0 - resists) * success - status_quo


def bargain_round(position: list, capability: list, salience: list, speed: list) -> list:
    """New positions of the actors at the table after one round."""
    table = range(len(position))
    weight = {k: capability[k] * salience[k] for k in table}
    utility = {(i, j): challenge_utility(i, j, position, salience, weight) for i in table for j in table if i != j}
    moved = list(position)
    for j in table:  # each actor weighs the offers it receives
        offers = []  # (EU_ij, proposal y_ij)
        for i in table:
            if i == j:
                continue
            pressing, resisting = utility[i, j], utility[j, i]
            if pressing > 0 and pressing > resisting:
                share = 1.0 if resisting > 0 else min(1.0, -resisting / pressing)
                offers.append((pressing, position[j] + share * (position[i] - position[j])))
        if offers:
            best = max(eu for eu, _ in offers)
            accepted = [y for eu, y in offers if eu >= best * (1.0 - TIE_TOLERANCE)]
            target = sum(accepted) / len(accepted)
            moved[j] = clip(position[j] + speed[j] * (target - position[j]))
    return moved


def bargain(position: list, capability: list, salience: list, speed: list, rounds: int) -> list:
    """Positions after ``rounds`` bargaining rounds."""
    for _ in range(rounds):
        position = bargain_round(position, capability, salience, speed)
    return position
