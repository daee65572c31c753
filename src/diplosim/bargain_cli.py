"""``diplosim bargain actors.csv``: the bargaining model on its own, on an analyst's actor table.

Reads a CSV with columns actor, capability, position, salience; prints each round's positions
(rounds as rows, actors as columns, then the weighted mean and median); writes the long table of
``diplosim.bargaining.bargain_table`` as Parquet.  Errors are one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diplosim.usage import OneLineParser, UsageError

PROG = "diplosim bargain"


def _rounds(text: str) -> int:
    try:
        rounds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}") from None
    if rounds < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {rounds}")
    return rounds


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}") from None
    if not 0.0 < speed <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text}")
    return speed


def parser() -> argparse.ArgumentParser:
    """The command line of ``diplosim bargain``."""
    p = OneLineParser(
        prog=PROG,
        description=(
            "Run Bueno de Mesquita's expected-utility bargaining model (as reconstructed by Scholz, "
            "Calbert & Smith 2011) on an actor table, one issue. The model is deterministic. "
            "See docs/bargaining.md."
        ),
    )
    p.add_argument(
        "actors",
        type=Path,
        help="CSV with columns actor, capability (>= 0), position (in [0, 1]), salience (in [0, 1])",
    )
    p.add_argument("--rounds", type=_rounds, default=10, help="bargaining rounds after round 0 (default: 10)")
    p.add_argument(
        "--speed", type=_speed, default=1.0, help="share of each accepted move made per round, in (0, 1] (default: 1)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Parquet file to write (default: <actors stem>_bargain.parquet beside it)",
    )
    return p


def read_csv(path: Path):
    """The actor table in ``path`` as a pyarrow Table, actor names read as text."""
    import pyarrow as pa
    from pyarrow import csv

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a file")
    options = csv.ConvertOptions(column_types={"actor": pa.string()})
    try:
        return csv.read_csv(path, convert_options=options)
    except pa.ArrowInvalid as err:
        first_line = (str(err).strip().splitlines() or ["unreadable"])[0]
        raise ValueError(f"{path}: cannot read the CSV: {first_line[:200]}") from None


def format_rounds(table) -> str:
    """Rounds as rows, actors as columns, then the weighted mean and median: a text table."""
    rounds = table.column("round").to_numpy()
    n_rounds = int(rounds.max()) + 1
    n = table.num_rows // n_rounds
    names = table.column("actor").to_pylist()[:n]
    position = table.column("position").to_numpy().reshape(n_rounds, n)
    mean = table.column("weighted_mean").to_numpy()[::n]
    median = table.column("weighted_median").to_numpy()[::n]
    headers = ["round", *names, "mean", "median"]
    widths = [max(len(h), 6) for h in headers]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    for r in range(n_rounds):
        cells = [str(r), *(f"{v:.3f}" for v in position[r]), f"{mean[r]:.3f}", f"{median[r]:.3f}"]
        lines.append("  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> Path:
    """Read, bargain, print, write; returns the Parquet path."""
    import pyarrow.parquet as pq

    from diplosim.bargaining import bargain_table
    from diplosim.io import atomic_write

    actors = read_csv(args.actors)
    try:
        table = bargain_table(actors, rounds=args.rounds, speed=args.speed)
    except ValueError as err:
        raise ValueError(f"{args.actors}: {err}") from None
    out = args.out if args.out is not None else args.actors.with_name(f"{args.actors.stem}_bargain.parquet")
    print(format_rounds(table))
    atomic_write(out, lambda tmp: pq.write_table(table, tmp))
    print(
        f"wrote {out} ({table.num_rows} rows: {args.rounds + 1} rounds x {table.num_rows // (args.rounds + 1)} actors)"
    )
    return out


def main(argv: list[str]) -> int:
    """``diplosim bargain actors.csv [--rounds 10] [--speed 1.0] [--out bargain.parquet]``; exit status."""
    try:
        args = parser().parse_args(argv)
        run(args)
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except (UsageError, ValueError, OSError) as err:
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    return 0
