"""Refactoring changes no number: the tables of a fixed small sweep (four designs, two seeds, the
gap and contagion mechanisms, 1% scale, 24 months) equal, bit for bit, the golden tables written
by tests/golden/make_golden.py before the refactoring. Results are compared, not the schema:
every golden column must come out with the same values, rows and order, while a column added
since (a new lever or outcome) is no regression."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.golden.make_golden import HERE, TABLES, sweep_tables


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return sweep_tables()


def same_results(table: pd.DataFrame, golden: pd.DataFrame) -> None:
    """AssertionError unless `table` holds every column of `golden` with the same values."""
    missing = [c for c in golden.columns if c not in table.columns]
    assert not missing, f"columns gone: {missing}"
    pd.testing.assert_frame_equal(table[list(golden.columns)], golden, check_exact=True)


@pytest.mark.parametrize("name", TABLES)
def test_tables_equal_the_golden_ones_bit_for_bit(tables, name):
    same_results(tables[name], pd.read_parquet(HERE / f"{name}.parquet"))


def test_a_new_column_is_no_regression_but_a_changed_or_lost_value_is():
    golden = pd.read_parquet(HERE / "summary.parquet")
    same_results(golden.assign(new_outcome=1.0), golden)  # a lever or outcome added
    changed = golden.copy()
    changed.loc[changed.index[0], "gain"] = float(changed["gain"].iloc[0]) + 1e-15
    with pytest.raises(AssertionError):
        same_results(changed, golden)
    with pytest.raises(AssertionError, match="columns gone"):
        same_results(golden.drop(columns="gain"), golden)


def test_the_golden_sweep_exercises_what_it_guards(tables):
    summary = tables["summary"]
    assert summary.design_id.nunique() == 8 and summary.seed.nunique() == 2
    assert (summary.staff_sent > 0).all() and summary.gain.abs().max() > 0
    assert (tables["timeseries"].expert_visits > 0).any()
