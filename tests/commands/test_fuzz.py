"""Fuzzing (hypothesis): random valid and invalid settings, and random mutations of the example
organisation's files, must each end in a run with finite outputs or a one-line refusal (a
UserError): never another exception, a hang, or a NaN.

Derandomised in CI (the same examples every run, profile "ci"); for a longer search run
`EXCHANGE_FUZZ=long .venv/bin/python -m pytest tests/commands/test_fuzz.py` (thousands of examples,
fresh ones each time; hypothesis prints any failing example so that it can be replayed).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from experiments.jobs.plan import model_config, plan_command
from sim import ModelConfig, ScenarioConfig, UserError
from sim.config import flat_settings, with_settings
from sim.errors import NonFiniteError
from sim.settings import declared
from tests.conftest import ROOT

CITY = ROOT / "examples" / "fictional_city"
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "long",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FUZZ = settings.get_profile(os.environ.get("EXCHANGE_FUZZ", "ci"))
#: Seconds one example may take before it counts as a hang.
HANG = 120


@contextlib.contextmanager
def no_hang(seconds: int = HANG):
    """Fail an example that runs longer than `seconds` (a hang) instead of waiting for ever."""

    def alarm(*_):
        raise TimeoutError(f"no result after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def finite_or_refused(config: ModelConfig) -> str:
    """Run `config`: 'ran' with finite tables, or 'refused' with a one-line UserError; anything
    else fails the test."""
    try:
        with no_hang():
            result = sim.run_detailed(config, seed=1)
    except NonFiniteError as err:  # an input that passes every check must not give a NaN
        pytest.fail(f"accepted inputs gave a non-finite result: {err}")
    except UserError as err:
        message = str(err)
        assert message and "\n" not in message and "Traceback" not in message, message
        return "refused"
    for table in (result.months, result.departments):
        numbers = table.select_dtypes("number").to_numpy(dtype=float)
        assert np.isfinite(numbers).all()
    return "ran"


# --- settings -----------------------------------------------------------------------------------

#: Values any setting may be given: right and wrong types, extremes, non-finite numbers.
ODD = [0, 1, 2, -1, 3, 7, 10**30, -(10**30), 2**63, 0.5, 1e308, -1e308, 1e-300, -0.0,
       math.inf, -math.inf, math.nan, "", "x", "random", None, True, [], ["x"], [1.0],
       {}]  # fmt: skip
#: Settings whose valid extremes would make one example slow: only small valid values.
SMALL = {
    "scale": [0.005, 0.01, 0.02],
    "horizon": [8, 12, 24],
    "departments_file": [str(CITY / "departments.csv"), "/dev/zero", "/no/such/file.csv", "/"],
    "practices_file": [str(CITY / "practices.csv"), "/dev/zero", str(CITY)],
    "roster_file": [str(CITY / "roster.csv"), "/dev/null"],
    "ties_file": [str(CITY / "ties.csv"), str(CITY / "roster.csv")],
}
NAMES = sorted(flat_settings())


def values_for(name: str):
    if name in SMALL:
        return st.sampled_from(SMALL[name] + [0, -1, math.nan, math.inf, "x", None, 10**30])
    section = flat_settings()[name]
    cls = {"": ModelConfig, **{k: type(getattr(ModelConfig(), k)) for k in ("scenario",
           "network", "program", "behavior")}}[section]  # fmt: skip
    declaration = dict(declared(cls))[name]
    own = [declaration.default, *declaration.allowed.outside]
    return st.sampled_from(own + ODD)


changes = st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({n: values_for(n) for n in names})
)


@FUZZ
@given(changes=changes)
def test_random_settings_run_finite_or_are_refused_in_one_line(changes):
    base = ModelConfig(scenario=ScenarioConfig(scale=0.01), horizon=12)
    try:
        config = with_settings(base, changes)
    except UserError as err:
        assert "\n" not in str(err)
        return
    finite_or_refused(config)


#: Command-line overrides, as a user types them (Hydra parses and types them).
OVERRIDES = st.lists(
    st.sampled_from(
        ["program.cohort_size=", "program.duration=", "horizon=", "scenario.scale=",
         "behavior.transfer_rate=", "program.cost_per_staff_month=", "replicates=", "seed=",
         "network.team_neighbours=", "hydra.launcher.n_jobs=", "program.start="]
    ),
    min_size=1,
    max_size=3,
    unique=True,
).flatmap(
    lambda keys: st.tuples(
        *(st.sampled_from(["0", "-1", "1", "12", "1e999", "nan", "inf", "x", "''", "null",
                           "[1]", "99999999999999999999999", "0.01"]).map(k.__add__)
          for k in keys)
    )
)  # fmt: skip


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 15))
@given(overrides=OVERRIDES)
def test_random_command_lines_are_planned_or_refused_in_one_line(overrides):
    """What experiments/run.py checks before Hydra starts a job (the same checks, in-process);
    a command line it accepts then runs finite or is refused like any configuration."""
    args = ["scenario=small", "horizon=12", "replicates=1", *overrides]
    try:
        with no_hang():
            plan = plan_command(["-m", *args])
    except UserError as err:
        assert str(err) and "\n" not in str(err), str(err)
        return
    assert plan is not None and len(plan.jobs) == 1
    finite_or_refused(model_config(plan.jobs[0].overrides))


# --- input files --------------------------------------------------------------------------------

FILES = ("departments", "practices", "roster", "ties")
CELLS = ["", "nan", "inf", "-inf", "1e308", "-1", "0", "1e999", "9" * 40, "abc", "=1+1",
         "'=x", "é", "\x00", " ", "0.5", "1", "true", '"', "a,b"]  # fmt: skip


def mutate(text: str, data: st.DataObject) -> bytes:
    """One random mutation of a CSV file's text, as bytes."""
    lines = text.splitlines()
    kind = data.draw(
        st.sampled_from(
            [
                "cell",
                "cell",
                "cell",
                "duplicate",
                "drop",
                "header",
                "truncate",
                "latin1",
                "utf16",
                "bom",
                "blank",
                "extra",
                "nul",
            ]
        ),  # fmt: skip
        label="mutation",
    )
    row = data.draw(st.integers(1, len(lines) - 1), label="row")
    if kind == "cell":
        cells = lines[row].split(",")
        col = data.draw(st.integers(0, len(cells) - 1), label="column")
        cells[col] = data.draw(st.sampled_from(CELLS), label="value")
        lines[row] = ",".join(cells)
    elif kind == "duplicate":
        lines.insert(row, lines[row])
    elif kind == "drop":
        del lines[row]
    elif kind == "header":
        lines[0] = ",".join(reversed(lines[0].split(",")))
    elif kind == "truncate":
        cut = data.draw(st.integers(0, len(text)), label="cut")
        return text[:cut].encode("utf-8")
    elif kind == "latin1":
        return ("\n".join(lines[:row] + [lines[row] + "é"] + lines[row + 1 :])).encode("latin-1")
    elif kind == "utf16":
        return text.encode("utf-16")
    elif kind == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    elif kind == "blank":
        lines.insert(row, "")
    elif kind == "extra":
        lines[row] += ",surplus"
    elif kind == "nul":
        lines[row] += "\x00"
    return ("\n".join(lines) + "\n").encode("utf-8")


@FUZZ
@given(data=st.data())
def test_mutated_organisation_files_run_finite_or_are_refused_in_one_line(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("city")
    paths = {name: folder / f"{name}.csv" for name in FILES}
    chosen = data.draw(st.lists(st.sampled_from(FILES), min_size=1, max_size=2, unique=True))
    for name, path in paths.items():
        text = (CITY / f"{name}.csv").read_text(encoding="utf-8")
        path.write_bytes(mutate(text, data) if name in chosen else text.encode("utf-8"))
    config = ModelConfig(
        scenario=ScenarioConfig(
            name="fuzzed", scale=1.0, **{f"{n}_file": str(p) for n, p in paths.items()}
        ),
        horizon=12,
    )
    config.program.cohort_size = 5
    finite_or_refused(config)


def test_the_fuzzers_reach_both_outcomes():
    """The strategies are not vacuous: the untouched files run, a damaged one is refused."""
    files = {f"{n}_file": str(CITY / f"{n}.csv") for n in FILES}
    good = ModelConfig(scenario=ScenarioConfig(name="c", scale=1.0, **files), horizon=12)
    assert finite_or_refused(good) == "ran"
    bad = with_settings(ModelConfig(scenario=ScenarioConfig(scale=0.01), horizon=12),
                        {"transfer_rate": math.nan})  # fmt: skip
    assert finite_or_refused(bad) == "refused"
    assert Path(CITY / "departments.csv").exists()
