"""Check every job of a run or sweep before Hydra starts it, so a bad setting writes nothing.

Hydra creates each job's output folder before calling the job, so a job cannot refuse its own
configuration without leaving a folder behind. `check_command(argv)` composes the configuration of
every job the command line asks for (expanding sweeps given on the command line or in an
experiment's `hydra.sweeper.params`), validates each, and returns a one-line message for the first
bad one, or None.
"""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim import UserError
from sim.inputs import check
from sim.schema import register

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
#: Hydra flags that take a value (their value is not an override).
_VALUE_FLAGS = {"-cn", "--config-name", "-cp", "--config-path", "-cd", "--config-dir"}
#: Flags after which Hydra does not run the app (help, info, shell completion).
_NO_RUN_FLAGS = {"-h", "--help", "--hydra-help", "-i", "--info", "-c", "--cfg", "-sc"}


def split_argv(argv: list[str]) -> tuple[bool, list[str], bool]:
    """(multirun?, overrides, runs the app?) from a command line (without the program name)."""
    multirun, runs, overrides = False, True, []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("-m", "--multirun"):
            multirun = True
        elif arg in _VALUE_FLAGS:
            skip = True
        elif arg.split("=")[0] in _NO_RUN_FLAGS or arg.startswith("--shell-completion"):
            runs = False
        elif not arg.startswith("-"):
            overrides.append(arg)
    return multirun, overrides, runs


def job_overrides(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The override list of every job the command starts."""
    if not multirun:
        return [overrides]
    parser = OverridesParser.create()
    parsed = parser.parse_overrides(overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    primary = compose("config", overrides=fixed, return_hydra_config=True)
    params = OmegaConf.select(primary, "hydra.sweeper.params") or {}
    in_config = [f"{k}={v}" for k, v in params.items()]
    if "BasicSweeper" in str(OmegaConf.select(primary, "hydra.sweeper._target_") or ""):
        jobs = BasicSweeper.split_arguments(parser.parse_overrides(in_config + overrides), None)
        return [list(job) for batch in jobs for job in batch]
    # another sweeper (e.g. Optuna) picks the jobs itself: check every value of each swept
    # setting (both ends of an interval), one setting at a time
    swept = [o for o in parser.parse_overrides(in_config + overrides) if o.is_sweep_override()]
    jobs = [fixed]
    for o in swept:
        jobs += [[*fixed, f"{o.get_key_element()}={v}"] for v in _values(o)]
    return jobs


def _values(override) -> list[str]:
    """The values a sweep override can take, or the two ends of an interval."""
    from hydra.core.override_parser.types import IntervalSweep

    sweep = override.value()
    if isinstance(sweep, IntervalSweep):
        return [str(sweep.start), str(sweep.end)]
    return list(override.sweep_string_iterator())


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_job(cfg: DictConfig) -> None:
    from experiments.run import check_settings, to_model_config

    check_settings(cfg)
    check(to_model_config(cfg))


def check_command(argv: list[str]) -> str | None:
    """One-line error for the first job of the command that cannot run, else None."""
    multirun, overrides, runs = split_argv(argv)
    if not runs:
        return None
    register()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            for job in job_overrides(overrides, multirun):
                try:
                    check_job(compose("config", overrides=job))
                except UserError as err:
                    label = f" (job {' '.join(job)})" if multirun else ""
                    return f"{err}{label}"
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        return _hydra_message(err)
    return None


def _hydra_message(err: BaseException) -> str:
    """Hydra's error, reduced to one line that names the setting and what is allowed."""
    import dataclasses
    import re

    from hydra.errors import OverrideParseException

    if isinstance(err, OverrideParseException):
        return (
            f"cannot read the override {err.override!r} ({first_line(err)}); "
            "quote a value that contains '=' or ',': key='a=1,b=2'"
        )
    line = first_line(err).rstrip(".")
    cause = err.__cause__ or err.__context__
    detail = first_line(cause) if cause is not None else ""
    key = getattr(cause, "full_key", None) or getattr(err, "full_key", None)
    if detail and detail not in line:
        line = f"{line}: {detail}"
    if key and key not in line:
        line = f"{key}: {line}"
    options = getattr(err, "options", None)
    if options:  # a config group option that does not exist
        line = f"{line}; available: {', '.join(options)}"
    missing = re.search(r"Key '(\w+)' not in '(\w+)'", line)
    if missing:
        sections = {c.__name__: c for c in _config_classes()}
        cls = sections.get(missing.group(2))
        if cls is not None:
            names = ", ".join(f.name for f in dataclasses.fields(cls))
            line = f"{line}; allowed: {names}"
    return line


def _config_classes():
    from sim.config import BehaviorConfig, NetworkConfig, ProgramConfig, ScenarioConfig
    from sim.schema import RunConfig

    return (BehaviorConfig, NetworkConfig, ProgramConfig, ScenarioConfig, RunConfig)


def experiment_name(overrides: list[str]) -> str:
    """The `experiment` value of the command's configuration (names its sweep folder)."""
    register()
    parser = OverridesParser.create()
    fixed = [o.input_line for o in parser.parse_overrides(overrides) if not o.is_sweep_override()]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return str(compose("config", overrides=fixed).experiment)
