"""Calibrate behavioural parameters to observed patterns with ABC-SMC (pyabc).

    python experiments/calibrate.py --workers 2            # packaged evidence, full scale
    python experiments/calibrate.py --workers 2 --package  # ... and make it every run's default
    python experiments/calibrate.py scenario=jakarta --targets my_targets.yaml \\
        --parameters forgetting_rate abroad_learning_rate --range forgetting_rate=0:0.05

Positional arguments are Hydra overrides of the calibration scenario, composed like a run after
CALIBRATION_SCENARIO (Jakarta at full scale, 60,000 staff, with a cohort of 300 staff every 6 months
for five years: enough returnees for the returnee statistics). Options: --targets (default
configs/targets/evidence.yaml), --parameters (default: DEFAULT_PARAMETERS, the behaviour the targets
inform; docs/model.md §11), --range NAME=LOW:HIGH (default: the plausible ranges the settings
declare), --population, --generations, --proposal-scale (ABC-SMC runs on the city at this share
of its scale, default 0.25), --city-runs (runs of the city itself that then correct the smaller
city's posterior by importance sampling, default 500), --seed, --workers (local
processes; every job is seeded from --seed, so the posterior is the same for any number), --draws
(posterior draws written for `experiments/run.py posterior=...`), --predictive (runs of the
predictive check), --out (default results/calibration/<key of the command line>).

On a SLURM cluster, `--cluster slurm --cluster-jobs 8` runs the simulations in 8 SLURM jobs
(dask-jobqueue's SLURMCluster; the same posterior as on one machine for the same seed):
--cluster-cores (worker processes per job, default 1), --cluster-memory (per job, default 4GB per
core), --cluster-walltime (default 02:00:00: the whole calibration), --cluster-queue (partition;
default the cluster's), --cluster-option KEY=VALUE (any other SLURMCluster argument, e.g.
account=myproject), --cluster-wait (seconds to wait for the first job, default 600). The jobs'
logs go to <out>/slurm; they are cancelled when the command ends, also on an error or Ctrl-C.

Writes into the folder: history.db (pyabc's SQLite history), posterior (.parquet, .csv: the
last generation's particles and weights), posterior_draws (equally weighted draws, in order),
summary (medians and 90% intervals), generations (epsilon, acceptance, effective sample size),
predictive (each target against the 90% predictive interval), figures/, report.html and
settings.json. A bad target, prior or setting stops with one line and exit code 2, before
anything is written. See docs/model.md (Calibration) and the README's recipe.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import yaml
from dask.utils import parse_bytes

from experiments import PROJECT
from experiments.calibration.posterior import behaviour_draws
from experiments.calibration.results import write_results
from experiments.calibration.sampling import (
    CITY_RUNS,
    CLUSTER_OWN,
    PROPOSAL_SCALE,
    calibrate,
    check_measurable,
    in_children,
    jobqueue,
    predictive_check,
    proposal_share,
    slurm_client,
)
from experiments.calibration.targets import (
    DEFAULT_PARAMETERS,
    check_targets,
    load_targets,
    make_priors,
)
from experiments.jobs import identity
from experiments.jobs.outputs import atomic_write_text, check_writable, provenance, write_table
from experiments.jobs.plan import model_config
from experiments.jobs.signals import stop_on_signals
from experiments.present.usage import CommandParser
from experiments.study.posterior import PACKAGED_DRAWS
from sim import UserError, config_to_dict
from sim.config import BehaviorConfig
from sim.settings import plausible_ranges

TARGETS = PROJECT / "configs" / "targets" / "evidence.yaml"
#: The scenario calibrated on, before the command line's overrides (which win).
CALIBRATION_SCENARIO = [
    "scenario=jakarta",
    "horizon=60",
    "program.cohort_size=300",
    "program.months_between_cohorts=6",
]


#: The default budget: 80 particles in four generations. Smaller populations leave too few
#: effective particles (50 in four generations: 4.5; docs/model.md §11).
POPULATION, GENERATIONS = 80, 4

#: Defaults of the --cluster-* options (memory: per core).
CLUSTER_DEFAULTS = {"jobs": 4, "cores": 1, "memory": None, "walltime": "02:00:00", "queue": None,
                    "option": [], "wait": 600.0}  # fmt: skip
#: A SLURM time limit: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.
WALLTIME = re.compile(r"\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2}")


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser(prog="experiments/calibrate.py", description=__doc__.split("\n\n")[0])
    p.add_argument("overrides", nargs="*", help="Hydra overrides of the calibration scenario")
    p.add_argument("--targets", type=Path, default=TARGETS, help="targets file (YAML)")
    default = " ".join(DEFAULT_PARAMETERS)
    p.add_argument("--parameters", nargs="+", default=None, metavar="NAME",
                   help=f"behaviour parameters (default: {default})")  # fmt: skip
    p.add_argument("--range", nargs="+", default=[], metavar="NAME=LOW:HIGH",
                   help="a prior's range (default: the declared plausible range)")  # fmt: skip
    p.add_argument("--population", type=int, default=POPULATION, help="particles per generation")
    p.add_argument("--generations", type=int, default=GENERATIONS, help="ABC-SMC generations")
    p.add_argument("--proposal-scale", type=float, default=None, metavar="SHARE",
                   help="ABC-SMC's city, a share of the city's scale, corrected by runs of the "
                        "city itself (1: ABC-SMC on the city itself; "
                        f"default {PROPOSAL_SCALE:g}, 1 with a roster)")  # fmt: skip
    p.add_argument("--city-runs", type=int, default=CITY_RUNS, metavar="N",
                   help="runs of the city itself that correct smaller-city proposals "
                        f"(default {CITY_RUNS})")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed (the posterior's, on any workers)")
    p.add_argument("--workers", type=int, default=1, help="local processes")
    p.add_argument("--draws", type=int, default=1000, help="equally weighted posterior draws")
    p.add_argument("--predictive", type=int, default=100, help="runs of the predictive check")
    p.add_argument("--out", type=Path, default=None, help="output folder")
    c = p.add_argument_group("on a SLURM cluster (dask-jobqueue)")
    c.add_argument(
        "--cluster",
        choices=["slurm"],
        default=None,
        help="run the simulations in SLURM jobs (the same posterior)",
    )
    c.add_argument(
        "--cluster-jobs",
        type=int,
        default=None,
        metavar="N",
        help=f"SLURM jobs (default {CLUSTER_DEFAULTS['jobs']})",
    )
    c.add_argument(
        "--cluster-cores",
        type=int,
        default=None,
        metavar="N",
        help="single-threaded worker processes per job (default 1)",
    )
    c.add_argument(
        "--cluster-memory",
        default=None,
        metavar="SIZE",
        help="memory per job, e.g. 8GB (default 4GB per core)",
    )
    c.add_argument(
        "--cluster-walltime",
        default=None,
        metavar="TIME",
        help=f"time limit of a job (default {CLUSTER_DEFAULTS['walltime']})",
    )
    c.add_argument(
        "--cluster-queue",
        default=None,
        metavar="PARTITION",
        help="partition (default: the cluster's default)",
    )
    c.add_argument(
        "--cluster-option",
        nargs="+",
        action="extend",
        default=None,
        metavar="KEY=VALUE",
        help="another SLURMCluster argument, e.g. account=proj",
    )
    c.add_argument(
        "--cluster-wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"wait for the first job (default {CLUSTER_DEFAULTS['wait']:g})",
    )
    p.add_argument("--package", action="store_true",
                   help="also make the behaviour draws the packaged default of every run "
                        f"({PACKAGED_DRAWS.relative_to(PROJECT)})")  # fmt: skip
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
        ("--city-runs", args.city_runs, 2),
        ("--seed", args.seed, 0),
    ):
        if value < low:
            raise UserError(f"{flag} {value}: must be an integer >= {low}")
    check_cluster_options(args)


def check_cluster_options(args: argparse.Namespace) -> None:
    """The --cluster-* options, checked and their defaults filled in (one line when wrong)."""
    given = [k for k in CLUSTER_DEFAULTS if getattr(args, f"cluster_{k}") is not None]
    if args.cluster is None:
        if given:
            flag = f"--cluster-{given[0]}"
            raise UserError(f"{flag}: only with --cluster slurm (run on a SLURM cluster)")
        return
    for key, default in CLUSTER_DEFAULTS.items():
        if getattr(args, f"cluster_{key}") is None:
            setattr(args, f"cluster_{key}", default)
    if args.workers != 1:
        raise UserError(
            f"--workers {args.workers}: with --cluster the SLURM jobs run the simulations; "
            "use --cluster-jobs and --cluster-cores"
        )
    for flag, value in (("--cluster-jobs", args.cluster_jobs),
                        ("--cluster-cores", args.cluster_cores)):  # fmt: skip
        if value < 1:
            raise UserError(f"{flag} {value}: must be an integer >= 1")
    if not args.cluster_wait > 0:
        raise UserError(f"--cluster-wait {args.cluster_wait:g}: must be a number of seconds > 0")
    if args.cluster_memory is None:
        args.cluster_memory = f"{4 * args.cluster_cores}GB"
    try:
        if parse_bytes(args.cluster_memory) <= 0:
            raise ValueError
    except (ValueError, TypeError):
        raise UserError(
            f"--cluster-memory {args.cluster_memory!r}: must be an amount of memory such as "
            "4GB or 500MB"
        ) from None
    if not WALLTIME.fullmatch(args.cluster_walltime):
        raise UserError(
            f"--cluster-walltime {args.cluster_walltime!r}: must be a SLURM time limit such as "
            "02:00:00, 90 (minutes) or 1-00:00:00"
        )
    args.cluster_options = cluster_options(args.cluster_option)


def cluster_options(items: list[str]) -> dict:
    """--cluster-option KEY=VALUE items as SLURMCluster arguments (VALUE read as YAML)."""
    try:
        dask_jobqueue = jobqueue()
    except ImportError:
        raise UserError(
            "--cluster slurm: needs dask-jobqueue; install it with pip install -e '.[analysis]'"
        ) from None
    names = {
        n
        for f in (
            dask_jobqueue.SLURMCluster.__init__,
            dask_jobqueue.slurm.SLURMJob.__init__,
            dask_jobqueue.core.Job.__init__,
        )
        for n, p in inspect.signature(f).parameters.items()
        if n != "self" and p.kind is p.POSITIONAL_OR_KEYWORD
    } - {"scheduler", "name", "job_cls", "loop", "asynchronous", "config_name", *CLUSTER_OWN}
    names -= {"env_extra", "extra", "job_extra", "header_skip"}  # deprecated in dask-jobqueue
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--cluster-option {item!r}: must be KEY=VALUE, e.g. account=proj")
        if key in CLUSTER_OWN:
            raise UserError(f"--cluster-option {item!r}: use {CLUSTER_OWN[key]} for {key}")
        if key not in names:
            allowed = ", ".join(sorted(names))
            raise UserError(f"--cluster-option {item!r}: unknown key {key!r}; allowed: {allowed}")
        try:
            out[key] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            out[key] = value
    return out


def command_key(args: argparse.Namespace) -> str:
    """Short code of what the command computes (not --workers, --cluster* or --out): its default
    folder."""
    own = ("workers", "out")  # where and how fast, not what
    return identity.folder_key(
        {k: v for k, v in vars(args).items() if k not in own and not k.startswith("cluster")}
    )


def output_folder(args: argparse.Namespace) -> Path:
    """--out, or results/calibration/<key of the command>."""
    return args.out or Path("results") / "calibration" / command_key(args)


def prepare(argv: list[str]):
    """Parse and check everything (raises UserError); nothing is written."""
    args = build_parser().parse_intermixed_args(argv)
    check_options(args)
    check_writable(output_folder(args), " (--out FOLDER)")  # before the calibration, not after
    if args.cluster and shutil.which("sbatch") is None:
        raise UserError(
            "--cluster slurm: sbatch is not on PATH here; run the command where SLURM jobs are "
            "submitted (a login node) or leave out --cluster"
        )
    overrides = [*CALIBRATION_SCENARIO, *args.overrides]
    config = model_config(overrides)
    targets = load_targets(args.targets)
    priors = make_priors(args.parameters, parse_ranges(args.range))
    proposal_share(config, args.proposal_scale)
    # checks that run the model run in a child when pyabc will fork this process (in_children)
    checks = [(check_targets, (targets, config)), (check_measurable, (config, targets, priors))]
    for check, call in checks:
        if args.workers > 1:
            in_children(check, [call], 1)
        else:
            check(*call)
    return args, overrides, config, targets, priors


@contextmanager
def compute(args: argparse.Namespace, out: Path):
    """(client, slots) for `calibrate`: (None, None) on this machine, or a dask client on SLURM
    jobs (`slurm_client`) and the number of worker processes they hold."""
    if args.cluster is None:
        yield None, None
        return
    with slurm_client(
        args.cluster_jobs, args.cluster_cores, args.cluster_memory, args.cluster_walltime,
        args.cluster_queue, args.cluster_options, args.cluster_wait, out.resolve() / "slurm",
    ) as client:  # fmt: skip
        yield client, args.cluster_jobs * args.cluster_cores


def cluster_settings(args: argparse.Namespace) -> dict | None:
    if args.cluster is None:
        return None
    keys = ("jobs", "cores", "memory", "walltime", "queue", "options", "wait")
    return {"system": args.cluster, **{k: getattr(args, f"cluster_{k}") for k in keys}}


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    try:
        args, overrides, config, targets, priors = prepare(argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = output_folder(args)
    where = (
        f"{args.cluster_jobs} SLURM job(s) of {args.cluster_cores} core(s)"
        if args.cluster
        else f"{args.workers} worker(s)"
    )
    print(
        f"calibrating {', '.join(p.name for p in priors)} on {len(targets)} targets: population "
        f"{args.population}, {args.generations} generations, {where} -> {out}",
        file=sys.stderr,
    )
    try:
        with stop_on_signals() as stop, compute(args, out) as (client, cores):
            result = calibrate(
                config, targets, priors, args.population, args.generations, args.seed,
                args.workers, out, draws=args.draws, client=client, cores=cores,
                proposal_scale=args.proposal_scale, city_runs=args.city_runs,
            )  # fmt: skip
            predictive = predictive_check(
                config, targets, result.draws, args.predictive, args.seed, args.workers, client
            )
    except UserError as err:
        for folder in (out / "slurm", out):  # the job logs' folder, if the jobs never ran
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        cancelled = "; its SLURM jobs were cancelled" if args.cluster else ""
        (out / "history.db").unlink(missing_ok=True)  # a calibration starts anew: nothing to keep
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        print(
            f"stopped ({stop.how}): the calibration did not finish and nothing of it was kept"
            f"{cancelled}; run the same command again to start it anew",
            file=sys.stderr,
        )
        return stop.exit_code
    settings = {
        "command": ["experiments/calibrate.py", *argv],
        "overrides": overrides,
        "scenario": config.scenario.name,
        "config": config_to_dict(config),
        "targets_file": shown_path(args.targets),
        "targets_digest": identity.file_digest(args.targets),
        "targets": [t.__dict__ for t in targets],
        "priors": [p.__dict__ for p in priors],
        "population": args.population,
        "generations": args.generations,
        "proposal_scale": proposal_share(config, args.proposal_scale),
        "city_runs": args.city_runs,
        "seed": args.seed,
        "workers": args.cluster_jobs * args.cluster_cores if args.cluster else args.workers,
        "cluster": cluster_settings(args),
        "reproducible": True,
        "draws": args.draws,
        "predictive_runs": args.predictive,
        "code_digest": identity.code_digest(),
        "wall_time_s": round(time.perf_counter() - started, 1),
        "provenance": provenance(),
    }
    write_results(out, result, predictive, settings)
    draws, from_ranges = behaviour_draws(result.draws, args.seed)
    description = {
        "calibrated": [p.name for p in priors],
        "from_ranges": from_ranges,
        "ranges": {n: list(plausible_ranges(BehaviorConfig)[n]) for n in from_ranges},
        "posterior": result.summary.to_dict(orient="records"),
        "predictive_inside": f"{int(predictive.inside.sum())} of {len(predictive)}",
        **{k: settings[k] for k in ("command", "targets_file", "targets_digest", "code_digest",
                                    "seed", "population", "generations", "proposal_scale",
                                    "city_runs", "scenario", "overrides")},
        "date": settings["provenance"].get("date", ""),
    }  # fmt: skip
    folders = [out, PACKAGED_DRAWS.parent] if args.package else [out]
    for folder in folders:
        write_draws(draws, description, folder / PACKAGED_DRAWS.name)
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
    if args.package:
        print(f"packaged: {PACKAGED_DRAWS} (every run's behaviour unless posterior=none)")
    return 0


def shown_path(path: Path) -> str:
    """`path` relative to the project when inside it (a packaged file names no machine's folder)."""
    try:
        return str(path.resolve().relative_to(PROJECT))
    except ValueError:
        return str(path)


def write_draws(draws, description: dict, path: Path) -> None:
    """The behaviour draws (Parquet, CSV) and their description (JSON) at `path`, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_table(draws, path.with_suffix(""))
    atomic_write_text(path.with_suffix(".json"), json.dumps(description, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
