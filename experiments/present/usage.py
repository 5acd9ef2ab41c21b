"""`experiments/run.py --help`, written from the declarations rather than Hydra's generic text.

The levers come from `study.levers.LEVERS` with each setting's default, unit and allowed values
from its declaration in `sim.config`; the run settings from `study.settings.RunConfig`; the config
groups from the defaults list of configs/config.yaml (so a folder of configs/ that no run
composes, such as the calibration's targets, is not offered); the preset sweeps from
configs/experiment and the launchers from configs/hydra/launcher, each with the first sentence of
its file's comment. `CommandParser` is every command's argparse.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import yaml

from experiments import CONFIGS
from experiments.study.levers import LEVERS
from experiments.study.settings import BudgetConfig, RunConfig
from sim.config import ModelConfig, ProgramConfig
from sim.settings import Setting, declared

WIDTH = 100
#: Hydra's own launchers that need no file in configs/hydra/launcher.
BUILT_IN_LAUNCHERS = {"basic": "one job after the other, in this process"}
#: Commands a user types, with what each is for (the first lines of the help's examples).
EXAMPLES = (
    ("one design, 10 paired replicates, full scale",
     "program.cohort_size=30 program.months_between_cohorts=6"),
    ("a sweep over four designs",
     "-m program.cohort_size=15,30 program.months_between_cohorts=6,12"),
    ("a preset sweep (make demo)", "-m +experiment=cohort_frequency"),
    ("who should go?", "-m program.selection=random,managers,spread"),
    ("a smoke run at 1% scale (do not quote its numbers)", "scenario=small replicates=3"),
    ("the composed configuration, without running", "--cfg job program=leaders_first"),
)  # fmt: skip


def setting_line(name: str, declaration: Setting, explored: str = "") -> str:
    """One setting: name = default, then its unit, the range planners explore (levers) and
    the values it accepts, wrapped."""
    unit = f"{declaration.unit}; " if declaration.unit else ""
    head = f"  {name} = {_value(declaration.default)}"
    allowed = declaration.allowed.text.replace("`", "")
    return _wrapped(f"{head:<44} {unit}{explored}{allowed}", 47)


def explored(lever) -> str:
    """The range of a lever planners explore (its declaration in `study.levers.LEVERS`), if
    typed."""
    kind = getattr(lever, "kind", None)
    if kind == "categorical":
        return f"explored: {', '.join(map(str, lever.choices))}; accepts "
    if kind in ("integer", "real"):
        step = f" by {lever.step:g}" if lever.step else ""
        return f"explored {lever.low:g} to {lever.high:g}{step}; accepts "
    return ""


def _value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


def _wrapped(text: str, indent: int) -> str:
    return textwrap.fill(text, WIDTH, subsequent_indent=" " * indent, break_on_hyphens=False)


def _continued(line: str) -> str:
    """A shell command that fits the width, continued with a backslash where it does not."""
    if len(line) <= WIDTH:
        return line
    cut = line.rindex(" ", 0, WIDTH - 2)
    return f"{line[:cut]} \\\n      {line[cut + 1 :]}"


def lever_lines() -> list[str]:
    """The levers designs vary, as `program.<name>` settings."""
    program = dict(declared(ProgramConfig))
    return [
        setting_line(f"program.{name}", program[name], explored(lever))
        for name, lever in LEVERS.items()
    ]


def run_setting_lines() -> list[str]:
    """The run-level settings (replicates, seeds, horizon, budget, posterior, ...)."""
    model = dict(declared(ModelConfig))
    lines = [setting_line("horizon", model["horizon"])]
    lines += [setting_line(name, d) for name, d in declared(RunConfig, own=True)]
    lines += [setting_line(f"budget.{name}", d) for name, d in declared(BudgetConfig)]
    return lines


def _defaults() -> list:
    with open(CONFIGS / "config.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)["defaults"]


def groups() -> dict[str, str]:
    """The config groups a run composes (configs/config.yaml's defaults list) -> default."""
    out = {}
    for entry in _defaults():
        if isinstance(entry, dict):
            ((group, default),) = entry.items()
            if (CONFIGS / group).is_dir():
                out[group] = str(default)
    return out


def default_launcher() -> str:
    """The launcher configs/config.yaml chooses (`override hydra/launcher: ...`)."""
    for entry in _defaults():
        if isinstance(entry, dict) and "override hydra/launcher" in entry:
            return str(entry["override hydra/launcher"])
    return "basic"


def first_sentence(path: Path) -> str:
    """The first sentence of a config file's leading comment (its package line aside)."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if not text.startswith("@package"):
            words.append(text)
    comment = " ".join(words)
    end = comment.find(". ")
    return comment if end < 0 else comment[: end + 1]


def option_lines(folder: Path, default: str | None = None) -> list[str]:
    """One line per option of a group folder: its name (default marked) and what it is."""
    lines = []
    for path in sorted(folder.glob("*.yaml")):
        name = path.stem + (" (default)" if path.stem == default else "")
        lines.append(_wrapped(f"    {name:<28} {first_sentence(path)}", 33))
    return lines


def launcher_lines() -> list[str]:
    default = default_launcher()
    lines = option_lines(CONFIGS / "hydra" / "launcher")
    lines.append(f"    {default + ' (default)':<28} one worker per core, on this machine")
    lines += [f"    {name:<28} {what}" for name, what in BUILT_IN_LAUNCHERS.items()]
    return lines


def run_help(summary: str) -> str:
    """The whole help text of experiments/run.py; `summary` says what the command does."""
    command = ".venv/bin/python experiments/run.py"
    parts = [
        summary,
        "",
        "Usage:",
        f"  {command} [group=option ...] [setting=value ...]     one design",
        f"  {command} -m [setting=v1,v2 ...] [+experiment=name]  a sweep",
        "",
        "Every design runs beside the same city without the exchange on the same seeds, and its",
        "gain is the paired difference. A sweep ends with a report: results/sweeps/<experiment>/",
        "<key>/aggregate/report.html (running the same command again resumes it).",
        "",
        "Levers (program.<name>=value): default; unit; the range planners explore; what it accepts",
        *lever_lines(),
        "",
        "Run settings:",
        *run_setting_lines(),
        "",
        "Config groups (group=option):",
    ]
    for group, default in groups().items():
        parts += [f"  {group}:", *option_lines(CONFIGS / group, default)]
    parts += [
        "  experiment (preset sweeps, with -m: +experiment=name):",
        *option_lines(CONFIGS / "experiment"),
        "  hydra/launcher (where the jobs of a sweep run):",
        *launcher_lines(),
        "",
        "Examples:",
    ]
    for what, args in EXAMPLES:
        parts += [f"  # {what}", _continued(f"  {command} {args}")]
    parts += [
        "",
        _wrapped(
            "Every other setting (behavior.*, network.*, scenario.*) with its default, unit, "
            "range and source: docs/model.md §9. Exit code 0 on success, 1 when a job or the "
            "aggregation failed, 2 for a bad setting (nothing written). Hydra's own flags "
            "(--cfg, --info, -m, shell completion): --hydra-help.",
            0,
        ),
    ]
    return "\n".join(parts)


class CommandParser(argparse.ArgumentParser):
    """Every command's argparse: a bad option or argument in one line (`error: ...`, exit 2)
    instead of argparse's usage block; its docstring shown as written under --help."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)

    def error(self, message: str):
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)
