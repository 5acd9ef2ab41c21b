"""Check every job of a run or sweep before Hydra starts it, so a bad setting writes nothing.

Hydra creates each job's output folder before calling the job, so a job cannot refuse its own
configuration without leaving a folder behind. `plan_command(argv)` composes the configuration of
every job the command line asks for (expanding sweeps given on the command line or in an
experiment's `hydra.sweeper.params`), validates each, and computes each job's key; it raises a
`UserError` with a one-line message for the first bad one. `check_command` returns that message.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep
from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from experiments import CONFIGS
from experiments.jobs import identity
from experiments.jobs.cluster import check_sbatch
from experiments.study.levers import design_label, design_overrides, reference_design
from experiments.study.settings import RunConfig, check_settings, register, to_model_config
from sim import ModelConfig, UserError
from sim.config import BehaviorConfig, NetworkConfig, ProgramConfig, ScenarioConfig, renamed_hint
from sim.errors import first_line
from sim.inputs.loading import check, file_digest, reading_once
from sim.resources import ResourceError, available_bytes, run_seconds, size

#: Hydra flags that take a value (their value is not an override).
_VALUE_FLAGS = {"-cn", "--config-name", "-cp", "--config-path", "-cd", "--config-dir"}
#: Flags after which Hydra does not run the app (help, info, shell completion).
_NO_RUN_FLAGS = {"-h", "--help", "--hydra-help", "-i", "--info", "-c", "--cfg", "-sc"}
#: Run-level settings that change what the aggregate shows, not any job's result.
AGGREGATE_SETTINGS = ("reference", "report", "experiment", "discount_rate")


@dataclass(frozen=True)
class CommandLine:
    """A command line as Hydra reads it (without the program name): -m or not, the overrides,
    and whether Hydra runs the app (not with --help, --cfg, ...). Read once (`command_line`)."""

    multirun: bool
    overrides: tuple[str, ...]
    runs: bool

    def given(self, key: str) -> str | None:
        """The value the command line gives `key` (`key=value`; the first), or None."""
        for o in self.overrides:
            name, sep, value = o.partition("=")
            if sep and name == key:
                return value
        return None


def command_line(argv: list[str]) -> CommandLine:
    """`argv` read as Hydra reads it."""
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
    return CommandLine(multirun, tuple(overrides), runs)


@dataclass
class JobPlan:
    """One job the command starts: its overrides, design label and key (None when an
    optimising sweeper picks the values)."""

    overrides: list[str]
    label: str
    key: str | None
    inputs: dict = field(default_factory=dict)  # setting -> [path, digest] of each input file


@dataclass
class Plan:
    """What a command will run."""

    line: CommandLine
    sweeper: str = "basic"  # "basic" (a grid of known jobs) or the optimising sweeper's name
    jobs: list[JobPlan] = field(default_factory=list)
    definition: str = ""  # digest of what the sweep is made of
    settings: dict = field(default_factory=dict)
    experiment: str = "default"
    direction: str | None = None  # an optimising sweeper's direction as configured
    cpu_seconds: float = 0.0  # rough work of every job (`resources.run_seconds`), one core
    workers: int = 1  # jobs the launcher runs at once
    job_bytes: float = 0.0  # memory of the largest job

    def announcement(self) -> str:
        """What a sweep is about to do, said before its first job: jobs, rough time, memory."""
        at_once = max(1, min(self.workers, len(self.jobs)))
        return (
            f"sweep: {len(self.jobs)} job(s), {at_once} at once: about "
            f"{duration(self.cpu_seconds / at_once)} of simulation if none is done yet "
            f"({duration(self.cpu_seconds)} of one core; rough, from timed runs), plus start-up "
            f"and the report; up to {size(at_once * self.job_bytes)} of memory"
        )

    def manifest(self, command: list[str]) -> dict:
        """The sweep's definition file (`experiments.jobs.store`)."""
        grid = self.sweeper == "basic"
        return {
            "definition": self.definition,
            "sweeper": self.sweeper,
            "command": command,
            "settings": self.settings,
            "jobs": {str(i): j.key for i, j in enumerate(self.jobs)} if grid else None,
            "labels": {str(i): j.label for i, j in enumerate(self.jobs)} if grid else None,
            "inputs": {str(i): j.inputs for i, j in enumerate(self.jobs)} if grid else None,
        }


def _values(override) -> list[str]:
    """The values a sweep override can take, or the two ends of an interval."""
    sweep = override.value()
    if isinstance(sweep, IntervalSweep):
        return [str(sweep.start), str(sweep.end)]
    return list(override.sweep_string_iterator())


def _job_overrides(overrides: list[str], multirun: bool) -> tuple[list[list[str]], DictConfig]:
    """The override list of every job the command starts (for an optimising sweeper: every
    value of each swept setting, one setting at a time), and the primary configuration."""
    parser = OverridesParser.create()
    parsed = parser.parse_overrides(overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    primary = compose("config", overrides=fixed, return_hydra_config=True)
    if not multirun:
        return [overrides], primary
    params = OmegaConf.select(primary, "hydra.sweeper.params") or {}
    in_config = [f"{k}={v}" for k, v in params.items()]
    if _sweeper_name(primary) == "basic":
        jobs = BasicSweeper.split_arguments(parser.parse_overrides(in_config + overrides), None)
        return [list(job) for batch in jobs for job in batch], primary
    swept = [o for o in parser.parse_overrides(in_config + overrides) if o.is_sweep_override()]
    jobs = [fixed]
    for o in swept:
        jobs += [[*fixed, f"{o.get_key_element()}={v}"] for v in _values(o)]
    return jobs, primary


class Composer:
    """Each job's configuration exactly as Hydra composes it, in about a millisecond rather
    than a third of a second, so that a sweep of thousands of jobs plans in seconds. The
    defaults list is composed once per distinct choice of config groups; each distinct
    `key=value` override is applied once by Hydra's own rule
    (`ConfigLoaderImpl._apply_overrides_to_config`, what `compose` does after the defaults;
    hydra-core 1.3), which checks and converts the value against the schema; a job is then its
    group choice's settings with those converted values put in place. That equals composing
    because the job settings interpolate nothing; an override of another kind (+, ~, a dict or
    list merge) takes the whole composing path. Must be used inside Hydra's initialisation."""

    def __init__(self) -> None:
        self.parser = OverridesParser.create()
        self.loader = GlobalHydra.instance().config_loader()
        self.parsed: dict[str, object] = {}
        self.groups: dict[str, bool] = {}
        self.composed: dict[tuple[str, ...], DictConfig] = {}
        self.settings: dict[tuple[str, ...], RunConfig] = {}
        self.values: dict[tuple[tuple[str, ...], str], object] = {}

    def _parse(self, line: str):
        if line not in self.parsed:
            self.parsed[line] = self.parser.parse_override(line)
        return self.parsed[line]

    def _chooses_group(self, override) -> bool:
        """Hydra's test (`defaults_list.Overrides`): a group's name not given a dict, or a
        package override, changes the defaults list."""
        key = override.key_or_group
        if key not in self.groups:
            self.groups[key] = self.loader.repository.group_exists(key)
        return override.package is not None or (
            self.groups[key] and not isinstance(override.value(), dict)
        )

    def _base(self, structure: tuple[str, ...]) -> DictConfig:
        if structure not in self.composed:
            self.composed[structure] = compose("config", overrides=list(structure))
        return self.composed[structure]

    def config(self, job: list[str]) -> DictConfig:
        """The job's configuration, as `compose("config", overrides=job)` makes it."""
        parsed = [self._parse(line) for line in job]
        structure = tuple(o.input_line for o in parsed if self._chooses_group(o))
        cfg = copy.deepcopy(self._base(structure))
        values = [o for o in parsed if not self._chooses_group(o) and not o.is_hydra_override()]
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        return cfg

    def _leaf_value(self, structure: tuple[str, ...], override):
        """An override's value as the schema converts it, applied once to the group choice's
        settings; NotImplemented when it is not a plain setting of one leaf value."""
        where = (structure, override.input_line)
        if where not in self.values:
            base = self._base(structure)
            key = override.key_or_group
            node = OmegaConf.select(base, key, throw_on_missing=False)
            plain = override.type.name == "CHANGE" and not isinstance(override.value(), dict)
            if not plain or isinstance(node, DictConfig | ListConfig):
                self.values[where] = NotImplemented
            else:
                cfg = copy.deepcopy(base)
                ConfigLoaderImpl._apply_overrides_to_config([override], cfg)
                self.values[where] = OmegaConf.to_container(
                    OmegaConf.create({"v": OmegaConf.select(cfg, key)})
                )["v"]
        return self.values[where]

    def __call__(self, job: list[str]) -> RunConfig:
        """The job's settings as `OmegaConf.to_object(compose("config", overrides=job))`."""
        parsed = [self._parse(line) for line in job]
        structure = tuple(o.input_line for o in parsed if self._chooses_group(o))
        values = [o for o in parsed if not self._chooses_group(o) and not o.is_hydra_override()]
        leaves = [self._leaf_value(structure, o) for o in values]
        if any(v is NotImplemented for v in leaves):
            return OmegaConf.to_object(self.config(job))
        if structure not in self.settings:
            self.settings[structure] = OmegaConf.to_object(self._base(structure))
        run = copy.deepcopy(self.settings[structure])
        for override, value in zip(values, leaves, strict=True):
            *path, name = override.key_or_group.split(".")
            owner = run
            for part in path:
                owner = owner[part] if isinstance(owner, dict) else getattr(owner, part)
            if isinstance(owner, dict):
                owner[name] = copy.deepcopy(value)
            else:
                setattr(owner, name, copy.deepcopy(value))
        return run


def _sweeper_name(primary: DictConfig) -> str:
    target = str(OmegaConf.select(primary, "hydra.sweeper._target_") or "")
    if "BasicSweeper" in target:
        return "basic"
    return target.rsplit(".", 1)[-1].removesuffix("Sweeper").lower() or "unknown"


def plan_command(argv: list[str]) -> Plan | None:
    """Compose and check every job of the command; None when Hydra will not run the app."""
    line = command_line(argv)
    multirun, overrides = line.multirun, list(line.overrides)
    if not line.runs:
        return None
    register()
    try:
        with (
            initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"),
            reading_once(),
        ):
            jobs, primary = _job_overrides(overrides, multirun)
            plan = Plan(line=line, sweeper=_sweeper_name(primary))
            posteriors = set()
            job_bytes = 0.0
            baseline_seconds = 0.0  # the no-exchange runs: once per seed, shared by the designs
            designs = []  # each job's program, for `check_reference`
            composer = Composer()
            for job in jobs:
                cfg = composer(job)
                try:
                    posterior = check_settings(cfg)
                    model = to_model_config(cfg)
                    designs.append(dataclasses.asdict(model.program))
                    need = check(model)
                    job_bytes = max(job_bytes, need.job_bytes(cfg.replicates))
                    runs = cfg.replicates * (3 if cfg.channels else 1)  # + its channel runs
                    plan.cpu_seconds += runs * run_seconds(need)
                    baseline_seconds = max(baseline_seconds, cfg.replicates * run_seconds(need))
                except UserError as err:
                    where = f" (job {' '.join(job)})" if multirun else ""
                    raise UserError(f"{err}{where}") from None
                drawn = None if posterior is None else posterior.digest
                posteriors.add(drawn)
                if len(posteriors) > 1:
                    raise UserError(
                        "posterior: every design of a sweep must use the same posterior draws "
                        "(they are paired draw by draw); run one sweep per posterior"
                    )
                key = identity.job_key(model, cfg.replicates, cfg.seed, cfg.target_gain, drawn)
                label = design_label(design_overrides(job))
                inputs = {k: [p, file_digest(p)] for k, p in identity.input_paths(model).items()}
                grid = plan.sweeper == "basic"
                plan.jobs.append(JobPlan(job, label, key if grid else None, inputs))
            plan.experiment = str(primary.experiment)
            plan.settings = {k: OmegaConf.select(primary, k) for k in AGGREGATE_SETTINGS}
            if multirun and plan.sweeper == "basic":
                check_reference(plan.settings.get("reference"), jobs, designs)
            plan.direction = OmegaConf.select(primary, "hydra.sweeper.direction")
            plan.definition = _definition(plan, primary)
            if multirun:
                check_launcher(primary.hydra.launcher, len(plan.jobs), job_bytes)
                plan.workers = workers_of(primary.hydra.launcher, len(plan.jobs)) or len(jobs)
                plan.job_bytes = job_bytes
                plan.cpu_seconds += baseline_seconds
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        raise UserError(_hydra_message(err)) from None
    return plan


def check_reference(reference: str | None, jobs: list[list[str]], designs: list[dict]) -> None:
    """Refuse, before any job, a `reference=` that does not name exactly one design of the
    sweep, by the rule the aggregation uses (`tables.reference_design`): each job's program
    settings and swept overrides (by their last name) against "key=value,..."."""
    if not reference:
        return
    rows = []
    for number, (job, program) in enumerate(zip(jobs, designs, strict=True)):
        row = {k: v for k, v in program.items() if not isinstance(v, list | dict)}
        for o in job:
            key, _, value = o.partition("=")
            row.setdefault(key.rsplit(".", 1)[-1], value)
        rows.append({**row, "design_id": str(number)})
    try:
        reference_design(pd.DataFrame(rows).astype({"design_id": str}), str(reference))
    except ValueError as err:
        raise UserError(f"{err}; the designs are named by their levers (nothing was run)") from None


def duration(seconds: float) -> str:
    """'40 s', '12 min', '3.5 h': a rough duration in the unit that reads best."""
    if seconds < 120:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _launcher_value(launcher: DictConfig, key: str, ok, allowed: str):
    """A launcher setting, refused in one line when `ok(value)` is false."""
    value = launcher.get(key)
    if not ok(value):
        raise UserError(f"hydra.launcher.{key} = {value!r}: must be {allowed}")
    return value


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def workers_of(launcher: DictConfig, jobs: int) -> int:
    """How many jobs the launcher runs at once on this machine (checking its settings)."""
    target = str(launcher.get("_target_", ""))
    cores = os.cpu_count() or 1
    if target.endswith("JoblibLauncher"):
        n = _launcher_value(
            launcher,
            "n_jobs",
            lambda v: (
                v is None
                or (
                    isinstance(v, int) and not isinstance(v, bool) and v != 0 and cores + 1 + v >= 1
                )
            ),
            f"a positive number of workers, or -1 (all {cores} cores) to -{cores}",
        )
        n = 1 if n is None else (n if n > 0 else cores + 1 + n)
        return min(n, jobs)
    if target.endswith(("LocalLauncher", "SlurmLauncher")):
        for key in ("timeout_min", "cpus_per_task", "tasks_per_node", "nodes"):
            _launcher_value(launcher, key, _count, "a whole number >= 1")
        _launcher_value(
            launcher,
            "mem_gb",
            lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < math.inf,
            "a positive number of GB",
        )
        return jobs if target.endswith("LocalLauncher") else 0  # SLURM: not this machine
    return 1  # Hydra's basic launcher: one job after the other


def check_launcher(launcher: DictConfig, jobs: int, job_bytes: float) -> None:
    """Refuse launcher settings that cannot work, a sweep whose jobs running at once cannot
    fit this machine's memory (or, on a cluster, the memory each task asks for), and jobs SLURM
    would refuse (`experiments.jobs.cluster`)."""
    workers = workers_of(launcher, jobs)
    if "mem_gb" in launcher and job_bytes > launcher.mem_gb * 2**30:
        raise ResourceError(
            f"hydra.launcher.mem_gb = {launcher.mem_gb}: a job of this sweep needs about "
            f"{size(job_bytes)}; ask for more (hydra.launcher.mem_gb=...) or lower "
            "scenario.scale or replicates"
        )
    available = available_bytes()
    if workers and workers * job_bytes > available:
        fit = int(available // job_bytes)
        advice = (
            f"run at most {fit} at once (hydra.launcher.n_jobs={fit})"
            if fit >= 1
            else "lower scenario.scale or replicates"
        )
        raise ResourceError(
            f"the sweep runs {workers} jobs at once and each needs about {size(job_bytes)} of "
            f"memory ({size(workers * job_bytes)} in all); this machine has {size(available)} "
            f"available: {advice}"
        )
    if str(launcher.get("_target_", "")).endswith("SlurmLauncher"):
        check_sbatch(launcher)


def _definition(plan: Plan, primary: DictConfig) -> str:
    """Digest of what the sweep is made of: its jobs' keys, or for an optimising sweeper its
    search (sweeper settings) and fixed configuration with the code and package versions."""
    if plan.sweeper == "basic":
        return identity.digest([j.key for j in plan.jobs])
    body = OmegaConf.to_container(primary, resolve=False)
    search = OmegaConf.to_container(primary.hydra.sweeper, resolve=False)
    body.pop("hydra", None)
    for key in AGGREGATE_SETTINGS:
        body.pop(key, None)
    return identity.digest(
        {
            "search": search,
            "fixed": body,
            "code": identity.code_digest(),
            "packages": identity.package_versions(),
        }
    )


def check_command(argv: list[str]) -> str | None:
    """One-line error for the first job of the command that cannot run, else None."""
    try:
        plan_command(argv)
    except UserError as err:
        return str(err)
    return None


def model_config(overrides: list[str]) -> ModelConfig:
    """The model configuration of one run with these Hydra overrides, checked like a run's (a
    UserError of one line for a bad setting; nothing runs)."""
    problem = check_command(overrides)
    if problem is not None:
        raise UserError(problem)
    register()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return to_model_config(compose("config", overrides=overrides))


#: Schema classes by name (to list the allowed keys of a section in a message).
_SECTIONS = {
    c.__name__: c for c in (BehaviorConfig, NetworkConfig, ProgramConfig, ScenarioConfig, RunConfig)
}
#: Schema class name -> its config path prefix (for naming renamed settings).
_PREFIX = {"ProgramConfig": "program", "BehaviorConfig": "behavior", "NetworkConfig": "network"}


def _hydra_message(err: BaseException) -> str:
    """Hydra's error, reduced to one line that names the setting and what is allowed."""
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
    group = re.search(r"Could not find '(?:[\w/]+/)?(\w+)'", line)
    if options:  # a config group option that does not exist
        line += did_you_mean(group.group(1) if group else "", options)
        line = f"{line}; available: {', '.join(options)}"
    missing = re.search(r"Key '(\w+)' not in '(\w+)'", line)
    if missing:
        cls = _SECTIONS.get(missing.group(2))
        if cls is not None:
            prefix = _PREFIX.get(missing.group(2), "")
            hint = renamed_hint(f"{prefix}.{missing.group(1)}")
            names = [f.name for f in dataclasses.fields(cls)]
            line += hint or did_you_mean(missing.group(1), names)
            line = f"{line}; allowed: {', '.join(names)}"
    return line


def did_you_mean(typed: str, names: list[str]) -> str:
    """' (did you mean cohort_size?)' for the closest allowed name, or '' when none is close."""
    close = difflib.get_close_matches(typed, names, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def sweep_dir_of(line: CommandLine, experiment: str) -> Path:
    """The sweep folder: `hydra.sweep.dir=...` if given, else
    results/sweeps/<experiment>/<key of the command line>."""
    given = line.given("hydra.sweep.dir")
    if given is not None:
        if not given.strip():
            raise UserError(
                "hydra.sweep.dir is empty: give the sweep's folder (a new or empty one, or a "
                "sweep's), or leave the setting out for results/sweeps/<experiment>/<key>"
            )
        return Path(given)
    relevant = sorted(
        o for o in line.overrides if not o.startswith(("hydra", "progress", "report"))
    )
    return Path("results") / "sweeps" / experiment / identity.folder_key("\n".join(relevant))


#: Hydra's flags that show something instead of running, which it allows only without -m.
SHOW_FLAGS = ("--cfg", "-c", "--info", "-i", "--shell-completion", "-sc")


def check_flags(argv: list[str]) -> None:
    """Refuse, in one line, -m with a flag Hydra allows only alone (it raised a traceback)."""
    shown = next((a for a in argv if a.split("=")[0] in SHOW_FLAGS), None)
    if shown is not None and any(a in ("-m", "--multirun") for a in argv):
        raise UserError(
            f"{shown} shows one job and cannot be combined with -m: leave out -m and give one "
            "value per setting (e.g. program.cohort_size=10) to see that job's configuration"
        )


def run_dir_of(line: CommandLine, experiment: str) -> Path:
    """Where a single run's folder will be made: `hydra.run.dir=...` up to its first
    interpolation (a date), else results/runs/<experiment>."""
    given = line.given("hydra.run.dir")
    if given is None:
        return Path("results") / "runs" / experiment
    fixed, dated, _ = given.partition("${")
    return Path(fixed).parent if dated and not fixed.endswith("/") else Path(fixed)


def fixed_run_dir(line: CommandLine) -> Path | None:
    """The run folder `hydra.run.dir=...` names when it is a fixed path (no interpolation such
    as the date), else None: a fixed folder may already hold something."""
    given = line.given("hydra.run.dir")
    if given is not None and not given.strip():
        raise UserError("hydra.run.dir is empty: give the run's folder, or leave it out")
    return None if given is None or "${" in given else Path(given)
