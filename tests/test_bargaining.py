"""Bargaining: hand-checked rounds of the expected-utility model, jit/vmap/padding invariants, table API, CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from diplosim import bargain_cli
from diplosim.bargaining import (
    BargainingInputError,
    bargain,
    bargain_round,
    bargain_table,
    bargaining_weight,
    challenge_utility,
    offers,
    weighted_mean,
    weighted_median,
    win_probability,
)

DATA = Path(__file__).parent / "data" / "bargaining"
ALL = jnp.ones(3, bool)
# compiled once per shape; test_jit_round_equals_eager checks the eager function against this
round_ = jax.jit(bargain_round)
mean = jax.jit(weighted_mean)
median = jax.jit(weighted_median)

# A strong actor A, a weak one B, a middling C; every salience 1/2 (w = c s = 0.5, 0.1, 0.2).
THREE = {"position": [0.2, 0.8, 0.4], "capability": [1.0, 0.2, 0.4], "salience": [0.5, 0.5, 0.5]}


def _arrays(group: dict) -> tuple[jax.Array, jax.Array, jax.Array]:
    return tuple(jnp.asarray(group[k], jnp.float32) for k in ("position", "capability", "salience"))


@jax.jit
def _utility(position, capability, salience, active=None):
    active = jnp.ones(len(position), bool) if active is None else active
    probability = win_probability(position, bargaining_weight(capability, salience, active))
    return probability, challenge_utility(position, salience, probability)


# ---------------------------------------------------------------------------- hand-checked rounds


def test_two_equal_actors_forecasts_and_stalemate():
    x, c, s = _arrays({"position": [0.2, 0.8], "capability": [1.0, 1.0], "salience": [0.5, 0.5]})
    assert float(mean(x, c, s)) == pytest.approx(0.5)
    assert float(median(x, c, s)) == pytest.approx(0.2)  # the lower median: half the weight sits at 0.2
    probability, utility = _utility(x, c, s)
    # v_1 = 0.5 * 0.6 = 0.3, v_2 = -0.3: P = 0.3 / 0.6 = 1/2; EU_12 = EU_21 = 2 * 0.6 * (1 - 2 * 0.5 * 0.5) = 0.6
    np.testing.assert_allclose(probability, [[0.5, 0.5], [0.5, 0.5]], atol=1e-6)
    np.testing.assert_allclose(utility, [[0.0, 0.6], [0.6, 0.0]], atol=1e-6)
    # neither expects more than the other: no offers, nobody moves
    np.testing.assert_array_equal(bargain(x, c, s, 3), np.tile(np.asarray(x), (4, 1)))


def test_weighted_median_takes_the_lower_position_at_an_exact_half():
    x = jnp.array([0.8, 0.2, 0.5])
    assert float(median(x, jnp.array([1.0, 1.0, 0.0]), jnp.ones(3))) == pytest.approx(0.2)
    assert float(median(x, jnp.array([3.0, 1.0, 0.0]), jnp.ones(3))) == pytest.approx(0.8)
    assert float(median(x, jnp.array([1.0, 1.0, 1.0]), jnp.ones(3))) == pytest.approx(0.5)
    assert float(mean(x, jnp.array([3.0, 1.0, 0.0]), jnp.ones(3))) == pytest.approx((2.4 + 0.2) / 4)


def test_strong_actor_pulls_weak_ones():
    x, c, s = _arrays(THREE)
    probability, utility = _utility(x, c, s)
    # P_AB: v_A = 0.5 (0.6 - 0) = 0.30, v_B = 0.1 (0 - 0.6) = -0.06, v_C = 0.2 (0.4 - 0.2) = 0.04 -> 0.34 / 0.40
    # P_CB: v_A = 0.5 (0.6 - 0.2) = 0.20, v_B = 0.1 (0 - 0.4) = -0.04, v_C = 0.2 (0.4 - 0) = 0.08 -> 0.28 / 0.32
    # P_AC: v_A = 0.5 (0.2 - 0) = 0.10, v_B = 0.1 (0.4 - 0.6) = -0.02, v_C = 0.2 (0 - 0.2) = -0.04 -> 0.10 / 0.16
    p_ab, p_cb, p_ac = 0.85, 0.875, 0.625
    expected_p = [[0.5, p_ab, p_ac], [1 - p_ab, 0.5, 1 - p_cb], [1 - p_ac, p_cb, 0.5]]
    np.testing.assert_allclose(probability, expected_p, atol=1e-6)
    # every s = 1/2, r = 1: EU_ij = 2 d (1 - 2 s_j (1 - P_ij)) = 2 d P_ij
    eu_ab, eu_ba = 1.2 * p_ab, 1.2 * (1 - p_ab)  # 1.02, 0.18
    eu_cb, eu_bc = 0.8 * p_cb, 0.8 * (1 - p_cb)  # 0.70, 0.10
    eu_ac, eu_ca = 0.4 * p_ac, 0.4 * (1 - p_ac)  # 0.25, 0.15
    np.testing.assert_allclose(utility, [[0, eu_ab, eu_ac], [eu_ba, 0, eu_bc], [eu_ca, eu_cb, 0]], atol=1e-6)
    # A presses B and C; C presses B.  B takes A's offer (1.02 > 0.70); B and C would gain by pressing A
    # (EU_BA, EU_CA > 0) but less than A: they lose the confrontation and move all the way to A.
    np.testing.assert_array_equal(
        offers(utility, ALL), [[False, True, True], [False, False, False], [False, True, False]]
    )
    np.testing.assert_allclose(round_(x, c, s, ALL), [0.2, 0.2, 0.2], atol=1e-6)
    assert float(mean(x, c, s)) == pytest.approx((0.5 * 0.2 + 0.1 * 0.8 + 0.2 * 0.4) / 0.8)
    assert float(median(x, c, s)) == pytest.approx(0.2)


def test_compromise_moves_part_of_the_way_each_round():
    x, c, s = _arrays({"position": [0.0, 1.0], "capability": [1.0, 0.5], "salience": [1.0, 0.8]})
    # w = (1, 0.4): P_AB = 1 / 1.4 = 5/7
    # EU_AB = 2 (1 - 2 * 0.8 * 2/7) = 38/35 > 0;  EU_BA = 2 (1 - 2 * 1 * 5/7) = -6/7 < 0
    # B compromises by -EU_BA / EU_AB = 15/19 of the gap: 1 -> 4/19; the ratio is scale-free, so x_B = (4/19)^t
    probability, utility = _utility(x, c, s)
    assert float(probability[0, 1]) == pytest.approx(5 / 7, abs=1e-6)
    np.testing.assert_allclose([utility[0, 1], utility[1, 0]], [38 / 35, -6 / 7], atol=1e-6)
    path = bargain(x, c, s, 3)
    np.testing.assert_allclose(path[:, 1], [(4 / 19) ** t for t in range(4)], rtol=1e-5)
    np.testing.assert_array_equal(path[:, 0], 0.0)


def test_capitulation_when_both_sides_care_fully():
    # s = 1 on both sides: EU_BA = -EU_AB, so the compromise share min(1, -EU_BA / EU_AB) is 1: B moves all the way
    x, c, s = _arrays({"position": [0.3, 0.9], "capability": [1.0, 0.5], "salience": [1.0, 1.0]})
    np.testing.assert_allclose(round_(x, c, s, jnp.ones(2, bool)), [0.3, 0.3], atol=1e-6)


def test_speed_scales_the_first_round_move():
    x, c, s = _arrays(THREE)
    np.testing.assert_allclose(round_(x, c, s, ALL, 0.5), [0.2, 0.5, 0.3], atol=1e-6)
    x2, c2, s2 = _arrays({"position": [0.0, 1.0], "capability": [1.0, 0.5], "salience": [1.0, 0.8]})
    moved = bargain(x2, c2, s2, 1, speed=0.25)[1]
    np.testing.assert_allclose(moved, [0.0, 1.0 - 0.25 * 15 / 19], atol=1e-6)


def test_zero_salience_actor_pulls_no_one_and_is_pulled_by_the_largest_threat():
    x, c, s = _arrays(THREE)
    xd, cd, sd = (jnp.append(a, v) for a, v in zip((x, c, s), (0.6, 1.0, 0.0)))
    _, utility = _utility(xd, cd, sd)
    # D casts no votes (w_D = 0), so P among A, B, C is unchanged; D never presses (EU_Dj > EU_jD is impossible
    # with s_D = 0).  D does not resist (s_D = 0), so EU_jD = 2 d_jD: A's threat (d = 0.4) is the largest.
    assert not offers(utility, jnp.ones(4, bool))[3].any()
    np.testing.assert_allclose(utility[:3, 3], [0.8, 0.4, 0.4], atol=1e-6)
    with_d = bargain(xd, cd, sd, 4)
    np.testing.assert_allclose(with_d[:, :3], bargain(x, c, s, 4), atol=1e-6)
    assert float(with_d[1, 3]) == pytest.approx(0.2)


# ---------------------------------------------------------------------------- invariants


def _random_group(rng, n):
    return (
        jnp.asarray(rng.random(n), jnp.float32),
        jnp.asarray(rng.random(n) * 10, jnp.float32),
        jnp.asarray(rng.random(n), jnp.float32),
    )


@pytest.mark.parametrize("speed", [1.0, 0.3])
def test_positions_stay_in_the_unit_interval(speed):
    rng = np.random.default_rng(7)
    for n in (3, 8):  # shapes the other tests compile too
        x, c, s = _random_group(rng, n)
        x = x.at[0].set(0.0).at[1].set(1.0)  # actors on the bounds
        path = np.asarray(bargain(x, c, s, 4, speed=speed))
        assert np.isfinite(path).all() and path.min() >= 0.0 and path.max() <= 1.0


def test_row_zero_of_bargain_is_the_input():
    x, c, s = _random_group(np.random.default_rng(1), 8)
    path = bargain(x, c, s, 4)
    assert path.shape == (5, 8)
    np.testing.assert_array_equal(path[0], x)


def test_jit_round_equals_eager():
    x, c, s = _random_group(np.random.default_rng(2), 7)
    active = jnp.array([True, True, False, True, True, True, False])
    eager = bargain_round(x, c, s, active, 0.7)
    np.testing.assert_allclose(jax.jit(bargain_round)(x, c, s, active, 0.7), eager, atol=1e-6)


def test_vmap_over_padded_groups_equals_a_loop():
    rng = np.random.default_rng(3)
    size = 5
    x, c, s = (jnp.stack(a) for a in zip(*(_random_group(rng, size) for _ in range(3))))
    active = jnp.arange(size)[None, :] < jnp.array([2, 3, 5])[:, None]  # summits of 2, 3 and 5 participants
    speed = jnp.array([1.0, 0.5, 0.8])
    batched = jax.jit(jax.vmap(bargain_round))(x, c, s, active, speed)
    looped = jnp.stack([round_(x[g], c[g], s[g], active[g], speed[g]) for g in range(3)])
    np.testing.assert_allclose(batched, looped, atol=1e-6)


def test_inactive_actors_neither_move_nor_count():
    x, c, s = _arrays(THREE)
    for padding in (0.95, np.nan):  # whatever a padded slot holds
        xp, cp, sp = (jnp.append(a, v) for a, v in zip((x, c, s), (padding, 5.0, 0.9)))
        active = jnp.array([True, True, True, False])
        path = bargain(xp, cp, sp, 4, active=active)
        np.testing.assert_allclose(path[:, :3], bargain(x, c, s, 4), atol=1e-6)
        np.testing.assert_array_equal(path[:, 3], np.float32(padding))
        assert float(mean(xp, cp, sp, active)) == pytest.approx(float(mean(x, c, s)))
        assert float(median(xp, cp, sp, active)) == pytest.approx(float(median(x, c, s)))


def test_relabelling_actors_relabels_the_result():
    rng = np.random.default_rng(4)
    x, c, s = _random_group(rng, 8)
    order = jnp.asarray(rng.permutation(8))
    path = bargain(x, c, s, 4)
    np.testing.assert_allclose(bargain(x[order], c[order], s[order], 4), path[:, order], atol=1e-5)


# ---------------------------------------------------------------------------- the table API


def _three_actor_frame() -> pd.DataFrame:
    return pd.DataFrame({"actor": ["A", "B", "C"], **THREE})


def test_table_api_accepts_pyarrow_pandas_and_polars_alike():
    frame = _three_actor_frame()
    tables = [bargain_table(t, rounds=3) for t in (pa.Table.from_pandas(frame), frame, pl.from_pandas(frame))]
    for table in tables[1:]:
        assert table.equals(tables[0])
    table = tables[0]
    assert table.column_names == ["round", "actor", "position", "weighted_mean", "weighted_median"]
    assert table.num_rows == 4 * 3
    assert table.column("round").to_pylist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert table.column("actor").to_pylist() == ["A", "B", "C"] * 4
    np.testing.assert_allclose(table.column("position").to_numpy()[:3], THREE["position"], atol=1e-7)
    np.testing.assert_allclose(table.column("position").to_numpy()[3:6], [0.2, 0.2, 0.2], atol=1e-6)
    np.testing.assert_allclose(table.column("weighted_mean").to_numpy()[:3], 0.325, atol=1e-6)
    np.testing.assert_allclose(table.column("weighted_median").to_numpy(), 0.2, atol=1e-6)


def test_table_api_is_the_core_function():
    frame = _three_actor_frame()
    table = bargain_table(frame, rounds=2, speed=0.5)
    path = bargain(*_arrays(THREE), 2, speed=0.5)
    np.testing.assert_array_equal(table.column("position").to_numpy().reshape(3, 3), path)


def _bad(frame: pd.DataFrame, column: str, value) -> pd.DataFrame:
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[1, column] = value
    return frame


BAD_FRAMES = {
    "missing column": (_three_actor_frame().drop(columns=["salience", "position"]), "'position', 'salience'"),
    "negative capability": (_bad(_three_actor_frame(), "capability", -1.0), "'capability'"),
    "salience above 1": (_bad(_three_actor_frame(), "salience", 1.5), "'salience'"),
    "salience below 0": (_bad(_three_actor_frame(), "salience", -0.1), "'salience'"),
    "position outside": (_bad(_three_actor_frame(), "position", 80.0), "'position'"),
    "text in a number column": (_bad(_three_actor_frame(), "capability", "strong"), "'capability'"),
    "duplicate actor": (_bad(_three_actor_frame(), "actor", "A"), "'actor'"),
    "empty actor": (_bad(_three_actor_frame(), "actor", " "), "'actor'"),
    "one actor": (_three_actor_frame().iloc[:1], "at least two"),
    "no actors": (_three_actor_frame().iloc[:0], "at least two"),
    "nobody weighs": (_three_actor_frame().assign(salience=0.0), "'salience'"),
}


@pytest.mark.parametrize("case", BAD_FRAMES)
def test_bad_tables_get_a_one_line_error_naming_the_column(case):
    frame, named = BAD_FRAMES[case]
    with pytest.raises(BargainingInputError) as info:
        bargain_table(frame)
    message = str(info.value)
    assert named in message and "\n" not in message


def test_nan_and_inf_are_refused():
    table = pa.Table.from_pandas(_three_actor_frame())
    for column, value in (("position", np.nan), ("capability", np.inf)):
        values = table.column(column).to_pylist()
        values[2] = value
        bad = table.set_column(table.column_names.index(column), column, pa.array(values))
        with pytest.raises(BargainingInputError, match=f"column '{column}' is (nan|inf) for actor 'C'"):
            bargain_table(bad)


@pytest.mark.parametrize(
    "rounds, speed, named", [(-1, 1.0, "rounds"), (2.5, 1.0, "rounds"), (3, 0.0, "speed"), (3, 1.5, "speed")]
)
def test_bad_options_are_refused(rounds, speed, named):
    with pytest.raises(BargainingInputError, match=named):
        bargain_table(_three_actor_frame(), rounds=rounds, speed=speed)


# ---------------------------------------------------------------------------- the CLI

BAD_CSVS = {
    "missing_salience.csv": "'salience'",
    "negative_capability.csv": "'capability'",
    "salience_out_of_range.csv": "'salience'",
    "position_out_of_range.csv": "'position'",
    "non_numeric.csv": "'capability'",
    "not_finite.csv": "'capability'",
    "empty_value.csv": "'salience'",
    "duplicate_actor.csv": "'actor'",
    "one_actor.csv": "at least two",
    "no_weight.csv": "'capability'",
    "malformed.csv": "Expected 4 columns",
}


@pytest.mark.parametrize("name", BAD_CSVS)
def test_cli_bad_csv_exits_2_with_one_line(name, tmp_path, capsys):
    out = tmp_path / "never.parquet"
    assert bargain_cli.main([str(DATA / name), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("diplosim bargain: error: ")
    assert name in lines[0] and BAD_CSVS[name] in lines[0]
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, named",
    [
        (["missing.csv"], "no such file"),
        (["three_actors.csv", "--rounds", "-2"], "--rounds"),
        (["three_actors.csv", "--rounds", "many"], "--rounds"),
        (["three_actors.csv", "--speed", "0"], "--speed"),
        (["three_actors.csv", "--seed", "1"], "--seed"),  # deterministic: no seed option
        ([], "actors"),
    ],
)
def test_cli_bad_command_lines_exit_2_with_one_line(argv, named, capsys, monkeypatch):
    monkeypatch.chdir(DATA)
    assert bargain_cli.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("diplosim bargain: error: ") and named in lines[0]


def test_cli_help(capsys):
    assert bargain_cli.main(["--help"]) == 0
    assert "--rounds" in capsys.readouterr().out


def test_cli_writes_next_to_the_csv_by_default(tmp_path, capsys):
    csv = shutil.copy(DATA / "three_actors.csv", tmp_path / "summit.csv")
    assert bargain_cli.main([str(csv), "--rounds", "2"]) == 0
    table = pq.read_table(tmp_path / "summit_bargain.parquet")
    assert table.num_rows == 3 * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summit.csv", "summit_bargain.parquet"]  # no temp files
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["round", "A", "B", "C", "mean", "median"]
    assert printed[1].split() == ["0", "0.200", "0.800", "0.400", "0.325", "0.200"]
    assert printed[2].split() == ["1", "0.200", "0.200", "0.200", "0.200", "0.200"]


def _diplosim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diplosim", "bargain", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_end_to_end(tmp_path):
    out = tmp_path / "x" / "result.parquet"
    done = _diplosim(str(DATA / "three_actors.csv"), "--rounds", "3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.num_rows == 4 * 3
    assert table.column_names == ["round", "actor", "position", "weighted_mean", "weighted_median"]
    assert "wrote" in done.stdout


def test_cli_end_to_end_bad_csv(tmp_path):
    done = _diplosim(str(DATA / "salience_out_of_range.csv"), "--out", str(tmp_path / "x.parquet"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "salience" in lines[0]
