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
import dataclasses
import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from experiments import identity
from experiments.outputs import (
    atomic_write_bytes,
    atomic_write_text,
    provenance,
    write_json,
    write_table,
)
from experiments.study import FINAL_YEAR, no_exchange, to_model_config
from sim import ModelConfig, UserError, config_to_dict, run

#: Uncertain behavioural parameters (behavior.<name>) and their ranges (low, high). These are
#: ASSUMPTIONS around the defaults of sim/config.py, not estimates from data.
PARAMETERS: dict[str, tuple[float, float]] = {
    "transfer_rate": (0.2, 0.8),
    "abroad_learning_rate": (0.2, 0.6),
    "expert_learning_rate": (0.2, 0.6),
    "tacitness_scale": (0.5, 1.5),
    "forgetting_rate": (0.0, 0.03),
    "turnover_rate": (0.02, 0.10),
    "rotation_share": (0.0, 0.15),
    "institutionalisation_scale": (0.7, 1.3),
    "power_distance": (0.1, 0.7),
    "absence_penalty": (0.0, 0.5),
    "adoption_speed": (0.05, 0.2),
    "absorptive_gain": (0.0, 2.0),
}
#: Grid levels of the Morris design.
MORRIS_LEVELS = 4
#: Confidence level of the bootstrap intervals of the indices.
CONFIDENCE = 0.95
#: Bootstrap resamples of the indices' confidence intervals.
RESAMPLES = 200
#: Outcome columns and their labels (figure titles, terminal).
OUTCOME_LABELS = {
    "gain_a": "gain of design A",
    "gain_b": "gain of design B",
    "difference": "difference A \u2212 B",
}
#: Index points per unit of service index.
POINTS = 100.0
COLOURS = {"mu_star": "#0072B2", "sigma": "#D55E00", "S1": "#009E73", "ST": "#0072B2"}
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "x",
    "grid.alpha": 0.3,
    "svg.hashsalt": "sensitivity",
}


# --- command line -----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (`error: ...`, exit code 2)."""

    def error(self, message: str):
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
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
    """Compose and validate every design as a run would (Hydra, sim.inputs.check)."""
    from experiments.preflight import check_command

    for design in designs:
        problem = check_command([*overrides, *design])
        if problem is not None:
            raise UserError(problem)


def compose_config(overrides: list[str]) -> ModelConfig:
    """The model configuration of a run with these Hydra overrides (already checked)."""
    from hydra import compose, initialize_config_dir
    from experiments.study import register

    from experiments.preflight import CONFIG_DIR

    register()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return to_model_config(compose("config", overrides=overrides))


def command_key(args: argparse.Namespace) -> str:
    """Short code of what the command computes (not --workers or --out): its default folder."""
    data = {k: v for k, v in vars(args).items() if k not in ("workers", "out")}
    blob = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def design_label(design: list[str]) -> str:
    """Short label of a design from its overrides ('as configured' if none)."""
    if not design:
        return "as configured"
    return ", ".join(o.removeprefix("program.") for o in design)


# --- model evaluation -------------------------------------------------------------------------


def with_behaviour(config: ModelConfig, values: dict[str, float]) -> ModelConfig:
    """`config` with these behavior settings replaced (plain floats)."""
    behaviour = dataclasses.replace(config.behavior, **{k: float(v) for k, v in values.items()})
    return dataclasses.replace(config, behavior=behaviour)


def final_year_gain(index: np.ndarray, baseline: np.ndarray) -> float:
    """Mean of index - baseline over the last FINAL_YEAR months (index units, 0-1 scale)."""
    return float(np.mean((index - baseline)[-FINAL_YEAR:]))


def evaluate_point(
    design_a: ModelConfig,
    design_b: ModelConfig | None,
    values: dict[str, float],
    replicates: int,
) -> dict[str, float]:
    """Outcomes of one parameter set, averaged over seeds 0..replicates-1 (index units).

    gain_a (and gain_b): final-year gain over the no-exchange run with the same seed and
    behaviour; difference = gain_a - gain_b. The no-exchange run does not depend on program
    settings (no cohort, no visit), so both designs share it.
    """
    a = with_behaviour(design_a, values)
    b = with_behaviour(design_b, values) if design_b is not None else None
    gains: dict[str, list[float]] = {"gain_a": [], "gain_b": []}
    with threadpool_limits(1):  # one BLAS thread per worker: the workers fill the cores
        for seed in range(replicates):
            baseline = run(no_exchange(a), seed).service_index.to_numpy()
            gains["gain_a"].append(final_year_gain(run(a, seed).service_index.to_numpy(), baseline))
            if b is not None:
                index_b = run(b, seed).service_index.to_numpy()
                gains["gain_b"].append(final_year_gain(index_b, baseline))
    out = {"gain_a": float(np.mean(gains["gain_a"]))}
    if b is not None:
        out["gain_b"] = float(np.mean(gains["gain_b"]))
        out["difference"] = float(np.mean(np.subtract(gains["gain_a"], gains["gain_b"])))
    return out


def evaluate(
    samples: pd.DataFrame,
    design_a: ModelConfig,
    design_b: ModelConfig | None,
    replicates: int,
    workers: int,
    desc: str,
) -> pd.DataFrame:
    """Outcome columns for every row (parameter set) of `samples`, in row order."""
    from experiments import sensitivity  # by reference: picklable when run as a script

    task = delayed(sensitivity.evaluate_point)
    points = samples.to_dict("records")
    tasks = (task(design_a, design_b, values, replicates) for values in points)
    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator")
    rows = list(tqdm(parallel(tasks), total=len(points), desc=desc, disable=None, leave=False))
    return pd.DataFrame(rows, index=samples.index)


# --- SALib stages ---------------------------------------------------------------------------


def salib_problem(names: list[str]) -> dict:
    """SALib problem over these parameters with their PARAMETERS ranges."""
    return {
        "num_vars": len(names),
        "names": list(names),
        "bounds": [list(PARAMETERS[n]) for n in names],
    }


def morris_samples(names: list[str], trajectories: int, seed: int) -> pd.DataFrame:
    """Morris design: trajectories x (k + 1) parameter sets (columns = parameter names)."""
    from SALib.sample import morris

    x = morris.sample(salib_problem(names), trajectories, num_levels=MORRIS_LEVELS, seed=seed)
    return pd.DataFrame(x, columns=names)


def sobol_samples(names: list[str], n: int, seed: int) -> pd.DataFrame:
    """Saltelli design without second order: n x (k + 2) parameter sets."""
    from SALib.sample import sobol

    x = sobol.sample(salib_problem(names), n, calc_second_order=False, seed=seed)
    return pd.DataFrame(x, columns=names)


def morris_table(names: list[str], x: pd.DataFrame, y: pd.DataFrame, seed: int) -> pd.DataFrame:
    """mu, mu_star, sigma, mu_star_conf (index units per whole range) and rank, per outcome."""
    from SALib.analyze import morris

    frames = []
    for outcome in y.columns:
        si = morris.analyze(
            salib_problem(names),
            x[names].to_numpy(dtype=float),
            y[outcome].to_numpy(dtype=float),
            num_resamples=RESAMPLES,
            conf_level=CONFIDENCE,
            num_levels=MORRIS_LEVELS,
            seed=np.random.default_rng(seed),
        )
        df = pd.DataFrame(
            {
                "parameter": names,
                **{k: np.asarray(si[k], dtype=float) for k in ("mu", "mu_star", "sigma")},
                "mu_star_conf": np.asarray(si["mu_star_conf"], dtype=float),
            }
        )
        df["rank"] = df.mu_star.rank(ascending=False, method="min").astype(int)
        df["outcome"] = outcome
        frames.append(df.sort_values(["rank", "parameter"]))
    return pd.concat(frames, ignore_index=True)


def sobol_table(names: list[str], y: pd.DataFrame, seed: int) -> pd.DataFrame:
    """First-order S1 and total ST indices (shares of variance) with conf, per outcome."""
    from SALib.analyze import sobol

    frames = []
    for outcome in y.columns:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # constant outcome: NaN indices
            si = sobol.analyze(
                salib_problem(names),
                y[outcome].to_numpy(dtype=float),
                calc_second_order=False,
                num_resamples=RESAMPLES,
                conf_level=CONFIDENCE,
                seed=np.random.default_rng(seed),  # SALib ignores seed=0
            )
        df = pd.DataFrame(
            {"parameter": names, **{k: np.asarray(si[k], dtype=float) for k in _SOBOL_KEYS}}
        )
        df["outcome"] = outcome
        frames.append(df.sort_values("ST", ascending=False, kind="stable"))
    return pd.concat(frames, ignore_index=True)


_SOBOL_KEYS = ("S1", "S1_conf", "ST", "ST_conf")


def top_parameters(morris: pd.DataFrame, k: int) -> list[str]:
    """The k parameters with the largest mu_star relative to each outcome's largest (any
    outcome counts); ties keep the order of PARAMETERS."""
    rel = morris.copy()
    top = rel.groupby("outcome").mu_star.transform("max")
    rel["score"] = np.where(top > 0, rel.mu_star / top.where(top > 0, 1.0), 0.0)
    score = rel.groupby("parameter").score.max()
    order = sorted(score.index, key=lambda n: (-score[n], list(PARAMETERS).index(n)))
    return order[:k]


def ranking_table(samples: pd.DataFrame) -> pd.DataFrame:
    """Per stage: share of parameter sets where A beats B, mean and 95% range of A - B."""
    rows = []
    for stage, df in samples.groupby("stage", sort=False):
        d = df.difference.to_numpy()
        rows.append(
            {
                "stage": stage,
                "parameter_sets": len(d),
                "share_a_beats_b": float(np.mean(d > 0)),
                "share_equal": float(np.mean(d == 0)),
                "difference_mean": float(np.mean(d)),
                "difference_p2_5": float(np.percentile(d, 2.5)),
                "difference_p97_5": float(np.percentile(d, 97.5)),
                "gain_a_mean": float(df.gain_a.mean()),
                "gain_b_mean": float(df.gain_b.mean()),
            }
        )
    return pd.DataFrame(rows)


# --- figure -----------------------------------------------------------------------------------


def _morris_panel(ax, df: pd.DataFrame, title: str) -> None:
    """Bars of mu_star (with its bootstrap interval) and diamonds of sigma, index points."""
    df = df.sort_values("mu_star", kind="stable")
    y = np.arange(len(df))
    ax.barh(
        y,
        df.mu_star * POINTS,
        xerr=df.mu_star_conf * POINTS,
        color=COLOURS["mu_star"],
        ecolor="#333333",
        capsize=2,
        label="\u03bc* (mean |effect|), 95% bootstrap",
    )
    ax.plot(df.sigma * POINTS, y, "D", color=COLOURS["sigma"], ms=5, label="\u03c3 (spread)")
    ax.set_yticks(y, df.parameter)
    ax.set_xlim(left=0)
    ax.set_xlabel("change over the parameter's range (index points)")
    ax.set_title(title, loc="left")
    ax.legend(loc="lower right", fontsize=8, frameon=False)


def _sobol_panel(ax, df: pd.DataFrame, title: str) -> None:
    """Paired bars of S1 and ST with their bootstrap intervals (shares of variance)."""
    df = df.sort_values("ST", kind="stable")
    y = np.arange(len(df))
    h = 0.38
    for shift, key in ((h / 2, "ST"), (-h / 2, "S1")):
        ax.barh(
            y + shift,
            df[key].fillna(0),
            height=h,
            xerr=df[f"{key}_conf"].fillna(0),
            color=COLOURS[key],
            ecolor="#333333",
            capsize=2,
            label={"S1": "S1 (first order)", "ST": "ST (total, with interactions)"}[key],
        )
    ax.set_yticks(y, df.parameter)
    ax.axvline(0, color="#333333", lw=0.8)  # small samples can give slightly negative S1
    ax.set_xlabel("share of the outcome's variance")
    ax.set_title(title, loc="left")
    ax.legend(loc="lower right", fontsize=8, frameon=False)


def draw_figure(
    morris: pd.DataFrame | None,
    sobol: pd.DataFrame | None,
    outcomes: list[str],
    heading: str,
    stem: Path,
) -> list[Path]:
    """sensitivity.png/.svg: a row per method (Morris, Sobol), a column per outcome."""
    import matplotlib  # only the main process draws: workers need not import it
    from matplotlib.figure import Figure

    rows = [(name, df) for name, df in (("morris", morris), ("sobol", sobol)) if df is not None]
    heights = [0.32 * df.parameter.nunique() + 1.5 for _, df in rows]
    paths = []
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(5.2 * len(outcomes), sum(heights) + 0.7), layout="constrained")
        axes = fig.subplots(
            len(rows), len(outcomes), squeeze=False, gridspec_kw={"height_ratios": heights}
        )
        for i, (method, df) in enumerate(rows):
            for j, outcome in enumerate(outcomes):
                part = df[df.outcome == outcome]
                label = OUTCOME_LABELS[outcome]
                if method == "morris":
                    _morris_panel(axes[i, j], part, f"Morris screening: {label}")
                else:
                    _sobol_panel(axes[i, j], part, f"Sobol indices: {label}")
        fig.suptitle(heading)
        for ext in ("png", "svg"):
            paths.append(atomic_write_bytes(stem.with_suffix(f".{ext}"), _render(fig, ext)))
    return paths


def _render(fig, ext: str) -> bytes:
    """The figure as PNG (150 dpi) or SVG bytes, without a date (reproducible files)."""
    import io

    buf = io.BytesIO()
    meta = {"Date": None} if ext == "svg" else {"Software": None}
    fig.savefig(buf, format=ext, dpi=150, metadata=meta)
    return buf.getvalue()


# --- terminal summary -----------------------------------------------------------------------


def _top_line(df: pd.DataFrame, value: str, n: int = 5, scale: float = 1.0) -> str:
    best = df.sort_values(value, ascending=False, kind="stable").head(n)
    return ", ".join(f"{r.parameter} {getattr(r, value) * scale:.3g}" for r in best.itertuples())


def summary_lines(
    morris: pd.DataFrame | None,
    sobol: pd.DataFrame | None,
    ranking: pd.DataFrame | None,
    labels: tuple[str, str | None],
) -> list[str]:
    """Top parameters by mu_star (index points) and ST per outcome; how often A beats B."""
    lines = []
    for name, df, value, scale, unit in (
        ("mu_star", morris, "mu_star", POINTS, "index points over the range"),
        ("total Sobol index ST", sobol, "ST", 1.0, "share of variance"),
    ):
        if df is None:
            continue
        lines.append(f"Top parameters by {name} ({unit}):")
        for outcome, part in df.groupby("outcome", sort=False):
            lines.append(f"  {OUTCOME_LABELS[outcome]}: {_top_line(part, value, scale=scale)}")
    if ranking is not None:
        r = ranking.iloc[0]
        lines.append(
            f"Design A beats design B in {100 * r.share_a_beats_b:.0f}% of the "
            f"{r.parameter_sets} sampled parameter sets ({r.stage} sample; A: {labels[0]}; "
            f"B: {labels[1]}); difference A \u2212 B {POINTS * r.difference_mean:+.3f} index "
            f"points on average, 95% of sets in [{POINTS * r.difference_p2_5:+.3f}, "
            f"{POINTS * r.difference_p97_5:+.3f}]"
        )
    return lines


# --- main -----------------------------------------------------------------------------------


def run_stage(
    stage: str,
    x: pd.DataFrame,
    base: ModelConfig,
    designs: tuple[ModelConfig, ModelConfig | None],
    args: argparse.Namespace,
) -> pd.DataFrame:
    """Evaluate one stage's parameter sets; rows: stage, point, every parameter, outcomes."""
    full = pd.DataFrame({n: float(getattr(base.behavior, n)) for n in PARAMETERS}, index=x.index)
    full[list(x.columns)] = x
    started = time.perf_counter()
    y = evaluate(full, designs[0], designs[1], args.replicates, args.workers, stage)
    minutes = (time.perf_counter() - started) / 60
    print(f"{stage}: {len(x)} parameter sets x {args.replicates} replicates, {minutes:.1f} min")
    full.insert(0, "point", np.arange(len(full)))
    full.insert(0, "stage", stage)
    return pd.concat([full, y], axis=1)


def analyse(args: argparse.Namespace, designs, base: ModelConfig) -> dict:
    """Run the requested stages; return samples, morris, sobol, and the Sobol parameters."""
    names = list(args.parameters or PARAMETERS)
    outcomes = ["gain_a"] + (["gain_b", "difference"] if designs[1] is not None else [])
    samples, morris, sobol, sobol_names = [], None, None, []
    if args.method in ("morris", "both"):
        x = morris_samples(names, args.trajectories, args.seed)
        samples.append(run_stage("morris", x, base, designs, args))
        morris = morris_table(names, samples[-1], samples[-1][outcomes], args.seed)
    if args.method in ("sobol", "both"):
        sobol_names = top_parameters(morris, args.top) if morris is not None else names
        x = sobol_samples(sobol_names, args.sobol_n, args.seed)
        samples.append(run_stage("sobol", x, base, designs, args))
        sobol = sobol_table(sobol_names, samples[-1][outcomes], args.seed)
    return {
        "samples": pd.concat(samples, ignore_index=True),
        "morris": morris,
        "sobol": sobol,
        "sobol_parameters": sobol_names,
        "outcomes": outcomes,
    }


def write_outputs(out: Path, result: dict, settings: dict, heading: str) -> None:
    """Tables, figure and settings.json (written last), each atomically."""
    out.mkdir(parents=True, exist_ok=True)
    write_table(result["samples"], out / "samples")
    for name in ("morris", "sobol", "ranking"):
        if result.get(name) is not None:
            atomic_write_text(out / f"{name}.csv", result[name].to_csv(index=False))
    draw_figure(result["morris"], result["sobol"], result["outcomes"], heading, out / "sensitivity")
    write_json(out / "settings.json", settings)


def prepare(argv: list[str]) -> tuple[argparse.Namespace, list[str], list[str] | None]:
    """Parse and check everything (raises UserError); nothing is written."""
    args = parse_args(argv)
    check_options(args)
    design = program_overrides(args.design, "--design")
    versus = program_overrides(args.versus, "--versus")
    check_designs(args.overrides, [design] + ([versus] if versus is not None else []))
    return args, design, versus


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
    config_a = compose_config([*args.overrides, *design])
    config_b = compose_config([*args.overrides, *versus]) if versus is not None else None
    labels = (design_label(design), design_label(versus) if versus is not None else None)
    out = args.out or Path("results") / "sensitivity" / command_key(args)

    result = analyse(args, (config_a, config_b), config_a)
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
