"""Sensitivity analysis of a design's gain to the uncertain behavioural parameters (SALib).

    python experiments/sensitivity.py scenario=small horizon=24 --trajectories 4 --sobol-n 16
    python experiments/sensitivity.py scenario=laptop \\
        --design program.cohort_size=20 program.months_between_cohorts=12 \\
        --versus program.cohort_size=20 program.months_between_cohorts=12 program.selection=managers

Positional arguments are Hydra overrides composed from configs/ exactly like a run (put them
before the options, or after `--`); `--design` and `--versus` take program settings only.

What it computes. The outcome of one parameter set is the *gain in the final year*: the mean over
the last 12 months of the service index (0-1) of the design minus that of the no-exchange run with
the same seed and the same behaviour, averaged over `--replicates` seeds 0..R-1 (the same seeds
for every parameter set: common random numbers). With `--versus`, the same gain of design B and
the difference A - B (same seeds, same behaviour, same no-exchange run) are outcomes too. Gains
are in index units in the tables (1 index point = 0.01) and in index points in the figure.

1. Morris screening (elementary effects) over every parameter of PARAMETERS: `--trajectories`
   trajectories of 4 levels, (k + 1) parameter sets each. mu_star (mean absolute elementary
   effect) is the change of the outcome when a parameter moves across its whole range (SALib
   divides by the step in the unit cube), sigma the spread of those effects (interactions or
   non-linearity).
2. Sobol indices (Saltelli sampling, first and total order) on the `--top` parameters by mu_star
   (the largest mu_star relative to the top one, over all outcomes); the other parameters stay at
   their configured values. N * (k + 2) parameter sets.

Parameter sets are independent and seeded only by their replicate index, so they are evaluated in
parallel (joblib, loky processes, one BLAS thread each: the same machinery as the sweeps' joblib
launcher) and the results do not depend on the number of workers.

Ranges. The ranges of PARAMETERS are assumptions: plausible intervals around the defaults of
sim/config.py (see docs/model.md), not estimates. Change them here, or restrict the analysis with
`--parameters`.

Outputs (in --out, default results/sensitivity/<key of the command line>): samples (.parquet,
.csv), morris.csv, sobol.csv, ranking.csv (with --versus), sensitivity.png/.svg, settings.json.
A bad setting stops with one line, exit code 2, before anything is written. See
docs/sensitivity.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from experiments.jobs import identity
from experiments.jobs.outputs import (
    atomic_write_bytes,
    check_writable,
    csv_bytes,
    provenance,
    write_json,
    write_table,
)
from experiments.jobs.plan import check_command, model_config
from experiments.present.usage import CommandParser
from experiments.screening.figure import draw_figure, summary_lines
from experiments.screening.stages import (
    MORRIS_LEVELS,
    OUTCOME_LABELS,
    PARAMETERS,
    Analysis,
    analyse,
    ranking_table,
)
from experiments.study.levers import design_label, design_overrides
from sim import ModelConfig, UserError, config_to_dict

# --- command line -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog="experiments/sensitivity.py",
        description="Morris screening and Sobol indices of a design's gain in service index.",
    )
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. scenario=small horizon=60")
    p.add_argument(
        "--design",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="program settings of design A (default: the composed config as is)",
    )
    p.add_argument(
        "--versus",
        nargs="+",
        default=None,
        metavar="KEY=VALUE",
        help="program settings of design B; adds gain_b and difference A - B",
    )
    p.add_argument(
        "--method",
        choices=("morris", "sobol", "both"),
        default="both",
        help="morris, sobol, or both (Morris, then Sobol on the --top parameters)",
    )
    p.add_argument(
        "--parameters",
        nargs="+",
        default=None,
        metavar="NAME",
        help="restrict the analysis to these behavior parameters (default: all)",
    )
    p.add_argument("--trajectories", type=int, default=10, help="Morris trajectories (>= 2)")
    p.add_argument(
        "--sobol-n",
        type=int,
        default=64,
        help="Saltelli base sample N, a power of 2 (sets: N x (k + 2))",
    )
    p.add_argument("--top", type=int, default=4, help="parameters kept for Sobol after Morris")
    p.add_argument("--replicates", type=int, default=2, help="seeds 0..R-1 per parameter set")
    p.add_argument("--workers", type=int, default=-1, help="joblib processes (-1: all cores)")
    p.add_argument("--out", type=Path, default=None, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="SALib sampling and bootstrap seed")
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Options and overrides (overrides may come before the options, or after `--`)."""
    return build_parser().parse_intermixed_args(argv)


def program_overrides(items: list[str] | None, flag: str) -> list[str] | None:
    """`KEY=VALUE` items of --design/--versus as Hydra overrides of program settings."""
    if items is None:
        return None
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"{flag} {item!r}: must be KEY=VALUE, e.g. program.cohort_size=20")
        if "." not in key and key != "program":
            key = f"program.{key}"
        if key != "program" and not key.startswith("program."):
            raise UserError(
                f"{flag} {item}: a design is made of program settings (program.KEY=VALUE); "
                "put other overrides before the options"
            )
        out.append(f"{key}={value}")
    return out


def check_options(args: argparse.Namespace) -> None:
    """Raise a one-line UserError for an option value that cannot work."""
    if args.trajectories < 2:
        raise UserError(f"--trajectories {args.trajectories}: must be an integer >= 2")
    n = args.sobol_n
    if n < 2 or n & (n - 1):
        raise UserError(f"--sobol-n {n}: must be a power of 2 >= 2 (Sobol' sequence)")
    if args.top < 2:
        raise UserError(f"--top {args.top}: must be an integer >= 2")
    if args.replicates < 1:
        raise UserError(f"--replicates {args.replicates}: must be an integer >= 1")
    if args.workers == 0:
        raise UserError("--workers 0: must be >= 1, or negative (-1: all cores)")
    if args.seed < 0:
        raise UserError(f"--seed {args.seed}: must be a non-negative integer")
    unknown = [n for n in (args.parameters or []) if n not in PARAMETERS]
    if unknown:
        raise UserError(
            f"--parameters {unknown[0]}: unknown parameter; allowed: {', '.join(PARAMETERS)}"
        )
    if args.parameters is not None and len(set(args.parameters)) < 2:
        raise UserError("--parameters: give at least two different parameters")


def check_designs(overrides: list[str], designs: list[list[str]]) -> None:
    """Compose and validate every design as a run would (Hydra, sim.inputs.loading.check)."""
    for design in designs:
        problem = check_command([*overrides, *design])
        if problem is not None:
            raise UserError(problem)


def command_key(args: argparse.Namespace) -> str:
    """Short code of what the command computes (not --workers or --out): its default folder."""
    return identity.folder_key({k: v for k, v in vars(args).items() if k not in ("workers", "out")})


# --- main -----------------------------------------------------------------------------------


def write_outputs(out: Path, result: dict, settings: dict, heading: str) -> None:
    """Tables, figure and settings.json (written last), each atomically."""
    out.mkdir(parents=True, exist_ok=True)
    write_table(result["samples"], out / "samples")
    for name in ("morris", "sobol", "ranking"):
        if result.get(name) is not None:
            atomic_write_bytes(out / f"{name}.csv", csv_bytes(result[name]))
    draw_figure(result["morris"], result["sobol"], result["outcomes"], heading, out / "sensitivity")
    write_json(out / "settings.json", settings)


def prepare(argv: list[str]) -> tuple[argparse.Namespace, list[str], list[str] | None]:
    """Parse and check everything (raises UserError); nothing is written."""
    args = parse_args(argv)
    check_options(args)
    design = program_overrides(args.design, "--design")
    versus = program_overrides(args.versus, "--versus")
    check_designs(args.overrides, [design] + ([versus] if versus is not None else []))
    check_writable(output_folder(args), " (--out FOLDER)")  # before hours of work, not after
    return args, design, versus


def output_folder(args: argparse.Namespace) -> Path:
    """--out, or results/sensitivity/<key of the command>."""
    return args.out or Path("results") / "sensitivity" / command_key(args)


def settings_record(
    argv: list[str],
    args: argparse.Namespace,
    designs: list[tuple[list[str], str, ModelConfig] | None],
    result: dict,
    started: float,
) -> dict:
    """Everything needed to reproduce the analysis (settings.json); wall time in seconds."""
    stages = result["samples"].stage.value_counts(sort=False)
    runs_per_replicate = 3 if designs[1] is not None else 2
    described = [
        None if d is None else {"overrides": d[0], "label": d[1], "config": config_to_dict(d[2])}
        for d in designs
    ]
    return {
        "command": ["experiments/sensitivity.py", *argv],
        "overrides": args.overrides,
        "design_a": described[0],
        "design_b": described[1],
        "outcomes": {k: OUTCOME_LABELS[k] for k in result["outcomes"]},
        "outcome_definition": "mean over the last 12 months of (service index of the design - "
        "service index of the no-exchange run, same seed and behaviour), mean over replicates; "
        "index units (0-1)",
        "ranges": {n: list(PARAMETERS[n]) for n in (args.parameters or PARAMETERS)},
        "method": args.method,
        "morris": {"trajectories": args.trajectories, "levels": MORRIS_LEVELS},
        "sobol": {"n": args.sobol_n, "top": args.top, "parameters": result["sobol_parameters"]},
        "parameter_sets": {str(k): int(v) for k, v in stages.items()},
        "replicates": args.replicates,
        "seeds": list(range(args.replicates)),
        "sampling_seed": args.seed,
        "model_runs": int(len(result["samples"]) * args.replicates * runs_per_replicate),
        "workers": args.workers,
        "code_digest": identity.code_digest(),
        "wall_time_s": round(time.perf_counter() - started, 2),
        "provenance": provenance(),
    }


def main(argv: list[str]) -> int:
    """Check, run the stages, write the outputs, print a summary; the exit code (2: bad input)."""
    started = time.perf_counter()
    try:
        args, design, versus = prepare(argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    ignored = [o for o in args.overrides if o.split("=")[0].lstrip("+~") in ("replicates", "seed")]
    if ignored:
        print(f"warning: {' '.join(ignored)} ignored: use --replicates / --seed", file=sys.stderr)
    config_a = model_config([*args.overrides, *design])
    config_b = model_config([*args.overrides, *versus]) if versus is not None else None
    labels = (
        design_label(design_overrides(design)),
        design_label(design_overrides(versus)) if versus is not None else None,
    )
    out = output_folder(args)

    plan = Analysis(
        parameters=list(args.parameters or PARAMETERS),
        method=args.method,
        trajectories=args.trajectories,
        sobol_n=args.sobol_n,
        top=args.top,
        replicates=args.replicates,
        workers=args.workers,
        seed=args.seed,
    )
    result = analyse(plan, (config_a, config_b), config_a)
    result["ranking"] = ranking_table(result["samples"]) if config_b is not None else None
    heading = (
        f"Sensitivity of the gain in service index after {config_a.horizon / 12:g} years "
        f"(final-year mean)\nA: {labels[0]}" + (f"   B: {labels[1]}" if labels[1] else "")
    )
    designs = [
        (design, labels[0], config_a),
        None if config_b is None else (versus, labels[1], config_b),
    ]
    settings = settings_record(argv, args, designs, result, started)
    write_outputs(out, result, settings, heading)
    for line in summary_lines(result["morris"], result["sobol"], result["ranking"], labels):
        print(line)
    print(f"Results in {out} ({settings['wall_time_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
