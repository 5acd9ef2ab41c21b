"""Refactoring changes no number: the tables of a fixed small sweep (four designs, two seeds, the
gap and contagion mechanisms, 1% scale, 24 months) equal, bit for bit, the golden tables written
by tests/golden/make_golden.py before the refactoring."""

from __future__ import annotations

import pandas as pd
import pytest

from .golden.make_golden import HERE, TABLES, sweep_tables


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return sweep_tables()


@pytest.mark.parametrize("name", TABLES)
def test_tables_equal_the_golden_ones_bit_for_bit(tables, name):
    golden = pd.read_parquet(HERE / f"{name}.parquet")
    pd.testing.assert_frame_equal(tables[name], golden, check_exact=True)


def test_the_golden_sweep_exercises_what_it_guards(tables):
    summary = tables["summary"]
    assert summary.design_id.nunique() == 8 and summary.seed.nunique() == 2
    assert (summary.staff_sent > 0).all() and summary.gain.abs().max() > 0
    assert (tables["timeseries"].expert_visits > 0).any()
