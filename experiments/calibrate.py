"""Calibrate behavioural parameters to observed patterns with ABC-SMC (pyabc).

    python experiments/calibrate.py                        # packaged evidence, laptop scale
    python experiments/calibrate.py --population 100 --generations 3 --workers 2
    python experiments/calibrate.py scenario=jakarta --targets my_targets.yaml \\
        --parameters forgetting_rate abroad_learning_rate --range forgetting_rate=0:0.05

Positional arguments are Hydra overrides of the calibration scenario, composed like a run after
CALIBRATION_SCENARIO (a laptop-scale city with a cohort of 400 staff every 6 months, five years:
enough returnees for the returnee statistics). Options: --targets (default
configs/targets/training_transfer.yaml), --parameters (default: the four most influential in the
sensitivity analysis), --range NAME=LOW:HIGH (default: the plausible ranges the settings
declare), --population, --generations, --seed, --workers (1: reproducible from --seed; more:
pyabc's parallel sampler, faster, not reproducible), --draws (posterior draws written for
`experiments/run.py posterior=...`), --predictive (runs of the predictive check), --out (default
results/calibration/<key of the command line>).

Writes into the folder: history.db (pyabc's SQLite history), posterior (.parquet, .csv: the
last generation's particles and weights), posterior_draws (equally weighted draws, in order),
summary (medians and 90% intervals), generations (epsilon, acceptance, effective sample size),
predictive (each target against the 90% predictive interval), figures/, report.html and
settings.json. A bad target, prior or setting stops with one line and exit code 2, before
anything is written. See docs/model.md (Calibration) and the README's recipe.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from experiments import identity
from experiments.calibration import (
    DEFAULT_PARAMETERS,
    calibrate,
    check_measurable,
    check_targets,
    in_children,
    load_targets,
    make_priors,
    predictive_check,
    write_results,
)
from experiments.outputs import check_writable, provenance
from experiments.preflight import model_config
from sim import UserError, config_to_dict

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "configs" / "targets" / "training_transfer.yaml"
#: The scenario calibrated on, before the command line's overrides (which win).
CALIBRATION_SCENARIO = [
    "scenario=laptop",
    "horizon=60",
    "program.cohort_size=400",
    "program.months_between_cohorts=6",
]


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (`error: ...`, exit code 2)."""

    def error(self, message: str):
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="experiments/calibrate.py", description=__doc__.split("\n\n")[0])
    p.add_argument("overrides", nargs="*", help="Hydra overrides of the calibration scenario")
    p.add_argument("--targets", type=Path, default=TARGETS, help="targets file (YAML)")
    default = " ".join(DEFAULT_PARAMETERS)
    p.add_argument("--parameters", nargs="+", default=None, metavar="NAME",
                   help=f"behaviour parameters (default: {default})")  # fmt: skip
    p.add_argument("--range", nargs="+", default=[], metavar="NAME=LOW:HIGH",
                   help="a prior's range (default: the declared plausible range)")  # fmt: skip
    p.add_argument("--population", type=int, default=200, help="particles per generation")
    p.add_argument("--generations", type=int, default=5, help="ABC-SMC generations")
    p.add_argument("--seed", type=int, default=0, help="seed (reproducible with --workers 1)")
    p.add_argument("--workers", type=int, default=1, help="processes (1 = reproducible)")
    p.add_argument("--draws", type=int, default=1000, help="equally weighted posterior draws")
    p.add_argument("--predictive", type=int, default=200, help="runs of the predictive check")
    p.add_argument("--out", type=Path, default=None, help="output folder")
    return p


def parse_ranges(items: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for item in items:
        name, sep, span = item.partition("=")
        low, colon, high = span.partition(":")
        try:
            if not (sep and colon):
                raise ValueError
            out[name] = (float(low), float(high))
        except ValueError:
            raise UserError(
                f"--range {item!r}: must be NAME=LOW:HIGH, e.g. forgetting_rate=0:0.03"
            ) from None
    return out


def check_options(args: argparse.Namespace) -> None:
    for flag, value, low in (
        ("--population", args.population, 2),
        ("--generations", args.generations, 1),
        ("--workers", args.workers, 1),
        ("--draws", args.draws, 1),
        ("--predictive", args.predictive, 2),
        ("--seed", args.seed, 0),
    ):
        if value < low:
            raise UserError(f"{flag} {value}: must be an integer >= {low}")


def command_key(args: argparse.Namespace) -> str:
    """Short code of what the command computes (not --workers or --out): its default folder."""
    data = {k: v for k, v in vars(args).items() if k not in ("workers", "out")}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:10]


def output_folder(args: argparse.Namespace) -> Path:
    """--out, or results/calibration/<key of the command>."""
    return args.out or Path("results") / "calibration" / command_key(args)


def prepare(argv: list[str]):
    """Parse and check everything (raises UserError); nothing is written."""
    args = build_parser().parse_intermixed_args(argv)
    check_options(args)
    check_writable(output_folder(args), " (--out FOLDER)")  # before the calibration, not after
    overrides = [*CALIBRATION_SCENARIO, *args.overrides]
    config = model_config(overrides)
    targets = load_targets(args.targets)
    priors = make_priors(args.parameters, parse_ranges(args.range))
    # checks that run the model run in a child when pyabc will fork this process (in_children)
    checks = [(check_targets, (targets, config)), (check_measurable, (config, targets, priors))]
    for check, call in checks:
        if args.workers > 1:
            in_children(check, [call], 1)
        else:
            check(*call)
    return args, overrides, config, targets, priors


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    try:
        args, overrides, config, targets, priors = prepare(argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = output_folder(args)
    print(
        f"calibrating {', '.join(p.name for p in priors)} on {len(targets)} targets: population "
        f"{args.population}, {args.generations} generations, {args.workers} worker(s) -> {out}",
        file=sys.stderr,
    )
    result = calibrate(
        config, targets, priors, args.population, args.generations, args.seed, args.workers,
        out, draws=args.draws,
    )  # fmt: skip
    predictive = predictive_check(
        config, targets, result.draws, args.predictive, args.seed, args.workers
    )
    settings = {
        "command": ["experiments/calibrate.py", *argv],
        "overrides": overrides,
        "scenario": config.scenario.name,
        "config": config_to_dict(config),
        "targets_file": str(args.targets),
        "targets_digest": identity.file_digest(args.targets),
        "targets": [t.__dict__ for t in targets],
        "priors": [p.__dict__ for p in priors],
        "population": args.population,
        "generations": args.generations,
        "seed": args.seed,
        "workers": args.workers,
        "reproducible": args.workers == 1,
        "draws": args.draws,
        "predictive_runs": args.predictive,
        "code_digest": identity.code_digest(),
        "wall_time_s": round(time.perf_counter() - started, 1),
        "provenance": provenance(),
    }
    write_results(out, result, predictive, settings)
    print("posterior (median and 90% interval):")
    for r in result.summary.itertuples():
        print(f"  {r.parameter:<24} {r.median:.4g}  [{r.p05:.4g}, {r.p95:.4g}]  "
              f"(prior {r.prior_low:g} to {r.prior_high:g}, default {r.default:g})")  # fmt: skip
    inside = int(predictive.inside.sum())
    print(
        f"predictive check: {inside} of {len(predictive)} targets inside the 90% posterior "
        "predictive interval"
    )
    print(f"report: {out / 'report.html'} ({settings['wall_time_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
