"""Negotiation: bargaining rounds on one issue, Bueno de Mesquita's expected-utility model.

Follows the reconstruction of Bueno de Mesquita's (BDM) group decision model by
Scholz, Calbert & Smith (2011), with the risk exponent fixed at r = 1 and
Q = 1 (see docs/bargaining.md for the derivation and what differs).  Actors
k = 1..n have a position x_k in [0, 1] on the issue, a capability c_k >= 0 and
a salience s_k in [0, 1]; only active actors take part.

  weight        w_k = c_k s_k                                  (0 if k is inactive)
  votes         v_k(i:j) = w_k (|x_k - x_j| - |x_k - x_i|)       k's support for x_i over x_j
  win chance    P_ij = sum_k max(v_k(i:j), 0) / sum_k |v_k(i:j)|  (1/2 if every vote is 0)
  utilities     d = |x_i - x_j|,  U_s = 2 - 4 (1/2 - d/2)^r,  U_f = 2 - 4 (1/2 + d/2)^r,  U_sq = 2 - 4 (1/2)^r
  challenge     EU_ij = s_j (P_ij U_s + (1 - P_ij) U_f) + (1 - s_j) U_s - U_sq
                (r = 1:  EU_ij = 2 d (1 - 2 s_j (1 - P_ij)))
  offer         i -> j  iff  EU_ij > 0  and  EU_ij > EU_ji
  concession    f_ij = 1                          if EU_ji > 0   (confrontation j loses)
                f_ij = min(1, -EU_ji / EU_ij)     if EU_ji <= 0  (compromise; 1 = capitulation)
  proposal      y_ij = x_j + f_ij (x_i - x_j)
  acceptance    j takes the offer with the largest EU_ij (offers within a relative
                TIE_TOLERANCE of it are averaged: y_j = mean of their y_ij)
  move          x_j <- x_j + speed (y_j - x_j)    (unchanged if j gets no offer)

All actors move at once, from the positions at the start of the round.  The
model is deterministic.  Forecasts are the w-weighted mean and the lower
w-weighted median of the positions.

``bargain_round`` is the pure, jit- and vmap-safe round the core calls;
``bargain`` scans it over rounds; ``bargain_table`` runs it on a user's actor
table (pyarrow, pandas or polars).  Only the table functions (``read_actors``,
``bargain_table``) use pyarrow, imported lazily so the core stays free of it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

COLUMNS = ("actor", "capability", "position", "salience")
RISK_EXPONENT = 1.0  # r: Scholz et al. recompute it per actor each round; fixed here (docs/bargaining.md)
TIE_TOLERANCE = 1e-5  # relative gap under which two offers, or a weight sum and half the total, count as equal
MODEL = "bueno-de-mesquita-expected-utility (Scholz, Calbert & Smith 2011; r = 1, Q = 1)"


class BargainingInputError(ValueError):
    """A user's actor table or option is unusable; the message is one line naming the column or option."""


# ---------------------------------------------------------------------------- the model (pure JAX)


def _float(x: Any) -> jax.Array:
    return jnp.asarray(x, dtype=jnp.result_type(float))


def _active(position: jax.Array, active: Any) -> jax.Array:
    return jnp.ones(position.shape, bool) if active is None else jnp.asarray(active, bool)


def bargaining_weight(capability: jax.Array, salience: jax.Array, active: jax.Array) -> jax.Array:
    """w_k = c_k s_k for active actors, 0 for inactive ones: f32[n] >= 0 (units of capability)."""
    return jnp.where(active, capability * salience, 0.0)


def win_probability(position: jax.Array, weight: jax.Array) -> jax.Array:
    """P[i, j]: chance that i prevails over j when every actor votes by weight: f32[n, n] in [0, 1].

    ``position: f32[n]`` in [0, 1], ``weight: f32[n]`` >= 0 (0 abstains).  P[i, j] + P[j, i] = 1;
    1/2 where no one cares (all votes 0, e.g. x_i = x_j).  O(n^3) work: about 30 ms for n = 200 on a CPU core.
    """
    gap = jnp.abs(position[:, None] - position[None, :])  # gap[i, k] = |x_i - x_k|
    votes = weight * (gap[None, :, :] - gap[:, None, :])  # votes[i, j, k] = v_k(i:j); k last reduces fastest
    support = jnp.maximum(votes, 0.0).sum(-1)
    total = jnp.abs(votes).sum(-1)
    return jnp.where(total > 0, support / jnp.where(total > 0, total, 1.0), 0.5)


def challenge_utility(position: jax.Array, salience: jax.Array, probability: jax.Array) -> jax.Array:
    """EU[i, j]: i's expected gain from challenging j, relative to the status quo: f32[n, n] in [-2, 2].

    ``salience: f32[n]`` in [0, 1] is read as the chance that the challenged actor resists;
    ``probability`` is ``win_probability``.  EU[i, i] = 0.
    """
    distance = jnp.abs(position[:, None] - position[None, :])
    r = RISK_EXPONENT
    success = 2.0 - 4.0 * (0.5 - 0.5 * distance) ** r
    failure = 2.0 - 4.0 * (0.5 + 0.5 * distance) ** r
    status_quo = 2.0 - 4.0 * 0.5**r
    resists = salience[None, :]
    fought = probability * success + (1.0 - probability) * failure
    return resists * fought + (1.0 - resists) * success - status_quo


def offers(utility: jax.Array, active: jax.Array) -> jax.Array:
    """offer[i, j]: i presses j (i expects to gain, and more than j would by pressing i): bool[n, n]."""
    both = active[:, None] & active[None, :]
    return both & (utility > 0) & (utility > utility.T)


def concession(utility: jax.Array, offer: jax.Array) -> jax.Array:
    """f[i, j]: share of the gap to x_i that j gives up on i's offer: f32[n, n] in [0, 1] (0 off offers).

    j loses a confrontation (EU_ji > 0) and moves all the way; otherwise it compromises by
    -EU_ji / EU_ij, capped at 1 (capitulation), as in Scholz et al.'s octants.
    """
    pressing = jnp.where(offer, utility, 1.0)
    resisting = utility.T
    share = jnp.where(resisting > 0, 1.0, jnp.minimum(1.0, -resisting / pressing))
    return jnp.where(offer, share, 0.0)


def accepted_position(position: jax.Array, utility: jax.Array, offer: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Where each actor would go on the offer it accepts, and whether it got any: (f32[n], bool[n]).

    j accepts the offer with the largest EU_ij (the most credible threat); offers tied with it
    (within ``TIE_TOLERANCE``) are averaged, so the result does not depend on the actors' order.
    """
    proposal = position[None, :] + concession(utility, offer) * (position[:, None] - position[None, :])
    pressure = jnp.where(offer, utility, -jnp.inf)
    best = pressure.max(0)
    chosen = offer & (pressure >= best * (1.0 - TIE_TOLERANCE))
    count = chosen.sum(0)
    target = jnp.where(chosen, proposal, 0.0).sum(0) / jnp.maximum(count, 1)
    return target, count > 0


def bargain_round(
    position: jax.Array,
    capability: jax.Array,
    salience: jax.Array,
    active: jax.Array,
    speed: jax.Array | float = 1.0,
) -> jax.Array:
    """One bargaining round: every active actor moves on the offer it accepts: f32[n] in [0, 1].

    ``position: f32[n]`` in [0, 1]; ``capability: f32[n]`` >= 0 (any unit, only ratios matter);
    ``salience: f32[n]`` in [0, 1]; ``active: bool[n]`` (inactive actors, e.g. padding, neither
    move nor count, and their entries may hold anything); ``speed: f32[]`` in (0, 1] scales every
    move (1 is the plain model).  Pure: jit-, vmap- and scan-safe.
    """
    active = jnp.asarray(active, bool)
    x = jnp.where(active, position, 0.0)  # padding may hold NaN, and 0 * NaN would leak into the votes
    s = jnp.where(active, salience, 0.0)
    weight = bargaining_weight(capability, s, active)
    utility = challenge_utility(x, s, win_probability(x, weight))
    target, pressed = accepted_position(x, utility, offers(utility, active))
    moved = jnp.clip(x + speed * (target - x), 0.0, 1.0)
    return jnp.where(active & pressed, moved, position)


@partial(jax.jit, static_argnames="rounds")
def bargain(
    position: jax.Array,
    capability: jax.Array,
    salience: jax.Array,
    rounds: int,
    active: jax.Array | None = None,
    speed: jax.Array | float = 1.0,
) -> jax.Array:
    """Positions over ``rounds`` bargaining rounds: f32[rounds + 1, n], row 0 the input positions.

    Arguments as in ``bargain_round``; ``active`` defaults to everyone; ``rounds`` is static.
    """
    position, capability, salience = _float(position), _float(capability), _float(salience)
    active = _active(position, active)

    def one_round(x, _):
        x = bargain_round(x, capability, salience, active, speed)
        return x, x

    _, path = jax.lax.scan(one_round, position, None, length=rounds)
    return jnp.concatenate([position[None], path])


def weighted_mean(
    position: jax.Array, capability: jax.Array, salience: jax.Array, active: jax.Array | None = None
) -> jax.Array:
    """Capability x salience weighted mean position: f32[] in [0, 1] (NaN if every weight is 0)."""
    position = _float(position)
    active = _active(position, active)
    weight = bargaining_weight(_float(capability), _float(salience), active)
    x = jnp.where(active, position, 0.0)
    total = weight.sum()
    return jnp.where(total > 0, (weight * x).sum() / jnp.where(total > 0, total, 1.0), jnp.nan)


def weighted_median(
    position: jax.Array, capability: jax.Array, salience: jax.Array, active: jax.Array | None = None
) -> jax.Array:
    """Lower capability x salience weighted median position: f32[] in [0, 1] (NaN if every weight is 0).

    The smallest position x_m such that the actors at or below it hold at least half the total
    weight (within ``TIE_TOLERANCE``): with two equal weights it is the lower of the two positions.
    It is BDM's forecast, the position that beats every other in weighted pairwise votes.
    """
    position = _float(position)
    active = _active(position, active)
    weight = bargaining_weight(_float(capability), _float(salience), active)
    x = jnp.where(active, position, jnp.inf)  # inactive actors sort last, with weight 0
    order = jnp.argsort(x)
    cumulative = jnp.cumsum(weight[order])
    total = cumulative[-1]
    median = x[order][jnp.argmax(cumulative >= 0.5 * total * (1.0 - TIE_TOLERANCE))]
    return jnp.where(total > 0, median, jnp.nan)


@jax.jit
def _forecasts(path: jax.Array, capability: jax.Array, salience: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Weighted mean and median of each round of ``path: f32[R, n]``: (f32[R], f32[R])."""
    per_round = lambda forecast: jax.vmap(forecast, in_axes=(0, None, None))(path, capability, salience)
    return per_round(weighted_mean), per_round(weighted_median)


# ---------------------------------------------------------------------------- actor tables (the boundary)


@dataclass(frozen=True)
class Actors:
    """A validated actor table: names and f64[n] arrays, positions and saliences in [0, 1]."""

    name: list[str]
    capability: np.ndarray
    position: np.ndarray
    salience: np.ndarray


def _arrow_table(table: Any) -> pa.Table:
    import pyarrow as pa

    if isinstance(table, pa.Table):
        return table
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table])
    if type(table).__module__.split(".")[0] == "pandas":
        return pa.table({str(name): _from_pandas(table[name]) for name in table.columns})
    if hasattr(table, "__arrow_c_stream__"):  # polars, and any other Arrow-speaking frame
        return pa.table(table)
    raise TypeError(f"expected a pyarrow Table or a pandas or polars DataFrame, got {type(table).__name__}")


def _from_pandas(series: Any) -> pa.Array:
    """One pandas column as Arrow; a mixed object column (numbers and text) as text, checked later."""
    import pyarrow as pa

    try:
        return pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        missing = lambda v: v is None or (isinstance(v, float) and math.isnan(v))
        return pa.array([None if missing(v) else str(v) for v in series], pa.string())


def _actor_names(table: pa.Table) -> list[str]:
    import pyarrow as pa

    column = table.column("actor")
    try:
        names = column.cast(pa.string()).to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise BargainingInputError(f"column 'actor' must hold names (text), not {column.type}") from None
    first_row: dict[str, int] = {}
    for row, name in enumerate(names, start=1):
        if name is None or not name.strip():
            raise BargainingInputError(f"column 'actor' is empty in row {row}; every actor needs a name")
        if name in first_row:
            raise BargainingInputError(
                f"column 'actor' names {name!r} twice (rows {first_row[name]} and {row}); actor names must be unique"
            )
        first_row[name] = row
    return names


def _numbers(table: pa.Table, column_name: str, names: list[str], allowed: str) -> np.ndarray:
    import pyarrow as pa

    column = table.column(column_name)
    kind = column.type
    values = column.to_pylist()
    for row, value in enumerate(values):
        if value is None:
            raise BargainingInputError(f"column {column_name!r} has no value for actor {names[row]!r}; {allowed}")
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return np.asarray(values, dtype=np.float64)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)):
        raise BargainingInputError(f"column {column_name!r} must hold numbers, not {kind}; {allowed}")
    numbers = []
    for row, value in enumerate(values):
        try:
            numbers.append(float(value))
        except ValueError:
            raise BargainingInputError(
                f"column {column_name!r} is {value!r} for actor {names[row]!r}, not a number; {allowed}"
            ) from None
    return np.asarray(numbers, dtype=np.float64)


def _check_range(values: np.ndarray, column_name: str, names: list[str], low: float, high: float, allowed: str):
    bad = ~(np.isfinite(values) & (values >= low) & (values <= high))
    if bad.any():
        row = int(np.argmax(bad))
        raise BargainingInputError(f"column {column_name!r} is {values[row]:g} for actor {names[row]!r}; {allowed}")


def read_actors(table: Any) -> Actors:
    """Validate a user's actor table (pyarrow Table, pandas or polars DataFrame) once, at the boundary.

    Needs columns actor (unique names), capability (finite, >= 0), position and salience (in [0, 1]);
    other columns are ignored.  Raises ``BargainingInputError`` with a one-line message naming the column.
    """
    table = _arrow_table(table)
    repeated = sorted({name for name in table.column_names if table.column_names.count(name) > 1} & set(COLUMNS))
    if repeated:
        raise BargainingInputError(f"column{'s' if len(repeated) > 1 else ''} {', '.join(map(repr, repeated))} appear more than once; each of {', '.join(COLUMNS)} must appear exactly once")
    missing = [name for name in COLUMNS if name not in table.column_names]
    if missing:
        found = ", ".join(table.column_names[:12]) + (", ..." if table.num_columns > 12 else "") or "none"
        raise BargainingInputError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"(found: {found}); the table needs columns {', '.join(COLUMNS)}"
        )
    if table.num_rows < 2:
        raise BargainingInputError(
            f"the table has {table.num_rows} actor{'' if table.num_rows == 1 else 's'}; bargaining needs at least two"
        )
    names = _actor_names(table)
    rules = {
        "capability": (0.0, math.inf, "capability must be a finite number >= 0"),
        "position": (0.0, 1.0, "positions must be numbers in [0, 1] (rescale e.g. 0-100 scales to [0, 1])"),
        "salience": (0.0, 1.0, "salience must be a number in [0, 1]"),
    }
    columns = {}
    for column_name, (low, high, allowed) in rules.items():
        columns[column_name] = _numbers(table, column_name, names, allowed)
        _check_range(columns[column_name], column_name, names, low, high, allowed)
    if not (columns["capability"] * columns["salience"] > 0).any():
        raise BargainingInputError(
            "columns 'capability' x 'salience' are 0 for every actor; at least one actor needs both > 0"
        )
    return Actors(name=names, **columns)


def _check_options(rounds: Any, speed: Any) -> tuple[int, float]:
    if isinstance(rounds, bool) or not isinstance(rounds, int | np.integer) or rounds < 0:
        raise BargainingInputError(f"rounds must be a whole number >= 0, got {rounds!r}")
    try:
        speed = float(speed)
    except (TypeError, ValueError):
        raise BargainingInputError(f"speed must be a number in (0, 1], got {speed!r}") from None
    if not 0.0 < speed <= 1.0:
        raise BargainingInputError(f"speed must be a number in (0, 1], got {speed:g}")
    return int(rounds), speed


def bargain_table(table: Any, rounds: int = 10, speed: float = 1.0) -> pa.Table:
    """Run the bargaining model on an actor table; one long table back.

    ``table``: pyarrow Table, pandas or polars DataFrame with columns actor, capability, position,
    salience (see ``read_actors``).  Returns a pyarrow Table with (rounds + 1) * n rows, round-major
    in the input's actor order: ``round`` (int32, 0 = input positions), ``actor`` (string),
    ``position``, ``weighted_mean``, ``weighted_median`` (float32; the two forecasts are the
    round's, repeated on each of its rows).  The schema metadata key ``diplosim`` holds a JSON
    record of the model, rounds and speed.  Raises ``BargainingInputError`` on a bad table or option.
    """
    import pyarrow as pa

    rounds, speed = _check_options(rounds, speed)
    actors = read_actors(table)
    capability, salience = _float(actors.capability), _float(actors.salience)
    path = bargain(_float(actors.position), capability, salience, rounds, speed=speed)
    means, medians = _forecasts(path, capability, salience)

    n = len(actors.name)
    per_round = lambda values: np.repeat(np.asarray(values, np.float32), n)
    columns = {
        "round": pa.array(np.repeat(np.arange(rounds + 1, dtype=np.int32), n)),
        "actor": pa.array(actors.name * (rounds + 1), pa.string()),
        "position": pa.array(np.asarray(path, np.float32).reshape(-1)),
        "weighted_mean": pa.array(per_round(means)),
        "weighted_median": pa.array(per_round(medians)),
    }
    record = {"model": MODEL, "rounds": rounds, "speed": speed}
    return pa.table(columns).replace_schema_metadata({b"diplosim": json.dumps(record).encode()})
