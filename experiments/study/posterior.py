"""Posterior draws of a calibration and how a run uses them (`posterior=`): replicate r
takes its behaviour from draw r.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from sim import (
    BehaviorConfig,
    ModelConfig,
    UserError,
    settings,
)
from sim.errors import DataError, first_line
from sim.inputs.files import check_regular_file, finite_float
from sim.inputs.loading import sha256
from sim.organisation import packaged_file

#: The draws file of a calibration folder (experiments/calibrate.py writes it).
DRAWS_FILE = "posterior_draws.parquet"


#: The packaged behaviour draws (`posterior=packaged`, the default) and their description
#: (calibrated and stated-range parameters, the targets' and code's digests): written by
#: `experiments/calibrate.py --package`.
PACKAGED_DRAWS = packaged_file("behaviour/behaviour_draws.parquet")


#: Values of `posterior` that mean the configured behaviour.
NO_POSTERIOR = (None, "none", "null")


def draws_description(path: Path) -> dict:
    """The JSON beside a draws file (same name, .json), or {} without one."""
    side = path.with_suffix(".json")
    if not side.is_file():
        return {}
    try:
        return json.loads(side.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{side}: not a readable JSON description of the draws ({err})") from None


@dataclass(frozen=True)
class Posterior:
    """Equally weighted posterior draws of behaviour parameters, in order (draw 0, 1, ...)."""

    path: Path
    digest: str  # sha256 of the file: part of every job's key and design id
    draws: pd.DataFrame  # draw, then one column per behavior parameter
    description: dict = dataclasses.field(default_factory=dict)  # the JSON beside it, if any

    @property
    def parameters(self) -> list[str]:
        return [c for c in self.draws.columns if c != "draw"]

    def behaviour(self, replicate: int) -> dict[str, float]:
        """The behaviour parameters of replicate `replicate` (draw number `replicate`)."""
        row = self.draws.iloc[replicate]
        return {k: float(row[k]) for k in self.parameters}


@functools.lru_cache(maxsize=8)
def _checked_draws(data: bytes, where: str, path: str) -> pd.DataFrame:
    """The draws of a posterior file's bytes, checked (see `posterior_of`); cached by contents,
    so that a sweep of thousands of jobs reads and checks one file once."""
    try:
        draws = pd.read_parquet(io.BytesIO(data))
    except (OSError, ValueError) as err:
        reason = first_line(err)
        raise UserError(f"{where}: {path} is not a readable Parquet file ({reason})") from None
    behaviour = {n: d for n, d in settings.declared(BehaviorConfig) if isinstance(d.default, float)}
    if "draw" not in draws.columns or list(draws.draw) != list(range(len(draws))):
        raise UserError(f"{where}: {path} must have a column `draw` numbering its rows 0, 1, ...")
    parameters = [c for c in draws.columns if c != "draw"]
    if not parameters:
        raise UserError(f"{where}: {path} holds no parameter column")
    for name in parameters:
        if name not in behaviour:
            raise UserError(
                f"{where}: column {name!r} is not a behavior parameter; allowed: "
                f"{', '.join(behaviour)}"
            )
        allowed, column = behaviour[name].allowed, draws[name]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise UserError(f"{where}: column {name!r} holds {column.dtype} values, not numbers")
        for i, v in enumerate(column):
            drawn = finite_float(v)
            if drawn is None:
                what = allowed.problem.removeprefix("must be ")
                raise UserError(
                    f"{where}: draw {i}: {name} = {v!r}: must be a finite number; allowed: {what}"
                )
            if not allowed.accepts(drawn):
                raise UserError(f"{where}: draw {i}: {name} = {v!r}: {allowed.problem}")
    return draws.reset_index(drop=True)


def posterior_of(cfg: DictConfig | dict) -> Posterior | None:
    """The posterior draws a run configuration names (None without `posterior`), checked: a
    readable Parquet file of draws 0..n-1 of behaviour parameters with allowed values, at least
    `replicates` of them. A problem is one UserError line naming the file."""
    get = cfg.get if isinstance(cfg, dict | DictConfig) else lambda k: getattr(cfg, k)
    value = get("posterior")
    if value in NO_POSTERIOR:
        return None
    path = PACKAGED_DRAWS if value == "packaged" else Path(str(value)).expanduser()
    if path.is_dir():
        path = path / DRAWS_FILE
    where = f"posterior = {str(value)!r}"
    missing = UserError(
        f"{where}: no such file {path} ({DRAWS_FILE} of experiments/calibrate.py, or its folder)"
    )
    if not path.exists():
        raise missing
    try:
        check_regular_file(path, "posterior draws file")  # not a FIFO, device, huge file
    except DataError as err:
        raise UserError(f"{where}: {err}") from None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise missing from None
    except OSError as err:
        raise UserError(f"{where}: {path} cannot be read ({err.strerror})") from None
    draws = _checked_draws(data, where, str(path))
    replicates = get("replicates")
    if replicates is not None and replicates > len(draws):
        raise UserError(
            f"{where}: {len(draws)} draws for replicates = {replicates}; replicate r uses draw "
            "r, so replicates must be at most the number of draws"
        )
    return Posterior(
        path.resolve(),
        sha256(data),
        draws.copy(),
        {**draws_description(path), "packaged": value == "packaged"},
    )


def with_behaviour(config: ModelConfig, values: dict[str, float]) -> ModelConfig:
    """`config` with these behavior settings replaced (plain floats)."""
    behaviour = dataclasses.replace(config.behavior, **{k: float(v) for k, v in values.items()})
    return dataclasses.replace(config, behavior=behaviour)
