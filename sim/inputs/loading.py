"""Loading and checking a configuration's inputs: data files and the names settings refer to.

`prepare(config)` is what the model builds on; `check(config)` runs the same checks without
building anything, so that a sweep can refuse a bad setting before any job starts or writes.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.config import ModelConfig, validate_config
from sim.errors import ConfigError
from sim.inputs.roster import Roster, load_roster, load_ties
from sim.network import Ties
from sim.organisation import load_departments
from sim.practices import Catalogue, load_practices
from sim.resources import Need, check_run, estimate, simulated_staff


@dataclass(frozen=True)
class Inputs:
    """The departments table, the practice catalogue and the Tokyo bureaus of a configuration."""

    departments: pd.DataFrame
    catalogue: Catalogue
    bureaus: list[str]
    roster: Roster | None = None
    ties: Ties | None = None
    need: Need | None = None  # memory and work of one run (sim.resources)


#: Within `reading_once`: file digests by path, and loaded files by (loader, path, contents,
#: arguments); else None.
_READ_ONCE: dict | None = None


@contextlib.contextmanager
def reading_once():
    """Within: each data file is read once, and loaded and checked once, however many jobs use
    it (a sweep's plan checks thousands of jobs over the same files in seconds; each job checks
    its files again when it runs). The loaded tables are shared between the jobs, so this is
    for checking, never for building models."""
    global _READ_ONCE
    saved, _READ_ONCE = _READ_ONCE, {}
    try:
        yield
    finally:
        _READ_ONCE = saved


def sha256(data: bytes) -> str:
    """sha256 of bytes, 64 hex digits: how every input file and draws file is identified."""
    return hashlib.sha256(data).hexdigest()


def file_digest(path: str | Path) -> str:
    """sha256 of a file's contents ("unreadable: <why>" when it cannot be read: loading it
    reports the problem); read once per path within `reading_once`."""
    key = ("digest", str(path))
    if _READ_ONCE is not None and key in _READ_ONCE:
        return _READ_ONCE[key]
    try:
        digest = sha256(Path(path).read_bytes())
    except OSError as err:
        digest = f"unreadable: {err.strerror}"
    if _READ_ONCE is not None:
        _READ_ONCE[key] = digest
    return digest


def _load(loader, path, *args):
    """`loader(path, *args)`, once per file contents within `reading_once`."""
    if _READ_ONCE is None:
        return loader(path, *args)
    contents = None if path is None else file_digest(path)
    if contents is not None and contents.startswith("unreadable"):
        return loader(path, *args)  # it names the problem
    key = (loader.__name__, str(path), contents, *(_arg_key(a) for a in args))
    if key not in _READ_ONCE:
        _READ_ONCE[key] = loader(path, *args)
    return _READ_ONCE[key]


def _arg_key(arg):
    if isinstance(arg, list | tuple):
        return tuple(arg)
    return arg if arg is None or isinstance(arg, str | int) else id(arg)  # a loaded table, kept


def prepare(config: ModelConfig) -> Inputs:
    """Validate the settings, load the data files and check every name the settings use."""
    validate_config(config)
    sc = config.scenario
    deps = _load(load_departments, sc.departments_file)
    ids = list(deps["id"])
    # a custom catalogue must name only departments that exist; the packaged one may name
    # Jakarta departments that a custom organisation lacks (those overrides do not apply)
    catalogue = _load(
        load_practices, sc.practices_file, ids if sc.practices_file is not None else None
    )
    if sc.practices:
        catalogue = catalogue.subset(list(sc.practices))
    bureaus = sorted(set(deps["tokyo_bureau"]) | catalogue.known_bureaus())
    check_program(config, Inputs(departments=deps, catalogue=catalogue, bureaus=bureaus))
    roster = ties = None
    if sc.roster_file is not None:
        roster = _load(load_roster, sc.roster_file, deps, catalogue.ids)
    staff = simulated_staff(config, deps, None if roster is None else len(roster.ids))
    need = estimate(config, staff, len(catalogue.ids))
    check_run(need)  # before the ties file, the organisation or any state is built
    if roster is not None and sc.ties_file is not None:
        ties = _load(load_ties, sc.ties_file, roster.ids)
    return Inputs(
        departments=deps,
        catalogue=catalogue,
        bureaus=bureaus,
        roster=roster,
        ties=ties,
        need=need,
    )


def check_program(config: ModelConfig, inputs: Inputs) -> None:
    """Check the names and counts the program settings use against the loaded data."""
    p, deps, bureaus = config.program, inputs.departments, inputs.bureaus
    ids = list(deps["id"])
    for key in ("target_departments", "expert_departments"):
        for name in getattr(p, key):
            if name not in ids:
                raise ConfigError(
                    f"program.{key}: unknown department {name!r}; allowed: {', '.join(ids)}"
                )
    if p.placement is not None and p.placement not in bureaus:
        raise ConfigError(
            f"program.placement = {p.placement!r}: unknown Tokyo bureau; "
            f"allowed: {', '.join(bureaus)}"
        )
    # program counts are real staff: compare them with the departments' real headcounts
    sizes = deps["headcount"].to_numpy()
    pool = (
        sizes[deps["id"].isin(p.target_departments).to_numpy()] if p.target_departments else sizes
    )
    if p.cohort_size > pool.sum():
        where = (
            f"the target departments ({', '.join(p.target_departments)})"
            if p.target_departments
            else "the organisation"
        )
        raise ConfigError(
            f"program.cohort_size = {p.cohort_size}: larger than the {int(pool.sum()):,} staff "
            f"of {where}"
        )


def check(config: ModelConfig) -> Need:
    """Raise a UserError (one line) if `config` cannot run; build nothing. What a run needs."""
    return prepare(config).need
