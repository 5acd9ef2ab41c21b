"""Calibration: tie the uncertain behavioural parameters to observed patterns (ABC-SMC, pyabc).

- Targets (a YAML file, `load_targets`): observed values of model statistics with their
  uncertainty and source. A statistic is a column of the monthly city table at a month, or
  `returnees_applying`: the share of staff back from Tokyo who still apply what they learnt
  `lag` months after their return (docs/model.md §7.14).
- Priors (`make_priors`): uniform over the plausible ranges the settings declare
  (sim/config.py), or over ranges given.
- Simulation (`Simulator`): one run of the calibration scenario with a parameter set and a seed
  drawn from numpy's global generator (so a single-process run is reproducible from its seed).
- Error model (`error_model`): each observed value is the model's statistic plus a normal error
  of the target's sd; pyabc's stochastic acceptor with a temperature schedule ending at 1 samples
  the exact posterior under that model.
- Results in the run folder: pyabc's SQLite history, the final posterior (particles and weights,
  Parquet), equally weighted posterior draws for `experiments/run.py posterior=...`, the
  generations' acceptance and effective sample size, a posterior predictive check, a report.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import random
import shlex
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Executor, Future
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from html import escape
from pathlib import Path

import cloudpickle
import matplotlib
import numpy as np
import pandas as pd
import pyabc
import yaml
from dask.distributed import Client
from matplotlib.figure import Figure
from pyabc.sampler.eps_mixin import EPSMixin

from experiments.cluster import refusal
from experiments.outputs import atomic_write_text, save_figure, write_table
from experiments.report import figure_block, html_page, paragraph, section
from experiments.signals import forked_pool
from experiments.study import DRAWS_FILE, one_thread, with_behaviour
from sim import ExchangeModel, ModelConfig, UserError, rules, run_detailed
from sim.config import BehaviorConfig
from sim.files import finite_float, load_yaml, shown
from sim.settings import declared, is_number, plausible_ranges

#: The returnee statistics, by months after return (`lag`): the share of returnees who still
#: master a practice taught at their Tokyo bureau (learnt), and who master and use one relevant
#: to their department (applying) (docs/model.md §7.14).
RETURNEES = "returnees_applying"
LEARNT = "returnees_learnt"
BY_LAG = {RETURNEES: "share", LEARNT: "share_learnt"}
#: Statistics of the whole run (no lag or month; `sim.reporters.Recorder.statistics`).
RUN = ("returnees_sharing", "months_to_sop")
#: Statistics of the behaviour itself: the half-life (months) of a skill out of use.
RULES = {"unused_half_life": lambda b: rules.half_life(b.forgetting_rate)}
#: What a statistic's observed value (and interval) may be: shares of people lie from 0 to 1,
#: months are not negative; other city columns are not bounded here.
BOUNDS = {
    **{k: (0.0, 1.0, "a share from 0 to 1") for k in (*BY_LAG, "returnees_sharing")},
    "months_to_sop": (0.0, math.inf, "a number of months >= 0"),
    "unused_half_life": (0.0, math.inf, "a number of months >= 0"),
}
#: Keys a target may have.
TARGET_KEYS = ("name", "statistic", "observed", "sd", "interval", "lag", "month", "source")
#: A target's interval is read as a 90% interval of a normal law: sd = width / (2 x Z90).
Z90 = 1.6448536269514722
#: Parameters calibrated by default: those the packaged targets inform (configs/targets/
#: evidence.yaml); the others are carried as stated uncertainty (`behaviour_draws`).
DEFAULT_PARAMETERS = (
    "abroad_learning_rate",
    "forgetting_rate",
    "forgetting_in_use",
    "willingness_mean",
    "sop_adoption_rate",
)


# --- targets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An observed value of a model statistic, with its uncertainty and source."""

    name: str
    statistic: str  # in BY_LAG, RUN or RULES, or a column of the monthly city table
    observed: float
    sd: float  # > 0
    source: str
    lag: int | None = None  # months after return (BY_LAG)
    month: int | None = None  # month of the run (a city-table column)
    line: int = 0  # line of the targets file


def load_targets(path: str | Path) -> list[Target]:
    """Read and check a targets file; a problem is one UserError line naming file and line."""
    path = Path(path)
    data, root = load_yaml(path, "the targets file")  # a DataError (a UserError) names the line
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("targets"), list)
        or not data["targets"]
    ):
        raise UserError(f"{path}: must hold a non-empty list `targets:`")
    items = data["targets"]
    node = next((v for k, v in root.value if k.value == "targets"), None)
    if isinstance(node, yaml.SequenceNode) and len(node.value) == len(items):
        lines = [n.start_mark.line + 1 for n in node.value]
    else:  # `targets` from a merge key (<<): the mapping's line
        lines = [root.start_mark.line + 1] * len(items)
    targets, names = [], set()
    for line, item in zip(lines, items, strict=True):
        target = _target(path, line, item)
        if target.name in names:
            raise UserError(f"{path}:{target.line}: target {target.name!r}: duplicate name")
        names.add(target.name)
        targets.append(target)
    return targets


def _finite(v) -> bool:
    """A finite int or float, not a bool nor text (an integer beyond float range is not)."""
    return isinstance(v, int | float) and finite_float(v) is not None


def _target(path: Path, line: int, item) -> Target:
    where = f"{path}:{line}"
    if not isinstance(item, dict):
        raise UserError(f"{where}: a target must be a mapping of {', '.join(TARGET_KEYS)}")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise UserError(f"{where}: target without a name (name: a non-empty string)")
    where = f"{where}: target {shown(name)}"
    unknown = [k for k in item if k not in TARGET_KEYS]
    if unknown:
        raise UserError(
            f"{where}: unknown key {shown(unknown[0])}; allowed: {', '.join(TARGET_KEYS)}"
        )
    for key in ("statistic", "observed", "source"):
        if key not in item:
            raise UserError(f"{where}: missing {key}")
    statistic, observed, source = item["statistic"], item["observed"], item["source"]
    if not isinstance(statistic, str) or not statistic:
        raise UserError(f"{where}: statistic = {shown(statistic)}: must be a statistic's name")
    if not _finite(observed):
        raise UserError(f"{where}: observed = {shown(observed)}: must be a finite number")
    if not isinstance(source, str) or not source.strip():
        raise UserError(f"{where}: source = {shown(source)}: must say where the value comes from")
    if ("sd" in item) == ("interval" in item):
        raise UserError(f"{where}: give its uncertainty as sd or as interval, one of them")
    if "sd" in item:
        sd = item["sd"]
        if not _finite(sd) or sd <= 0:
            infinite = isinstance(sd, float) and not math.isfinite(sd)
            allowed = "a positive finite number" if infinite else "a positive number"
            raise UserError(f"{where}: sd = {shown(sd)}: must be {allowed}")
    else:
        iv = item["interval"]
        if not (isinstance(iv, list) and len(iv) == 2 and all(_finite(v) for v in iv)):
            raise UserError(
                f"{where}: interval = {shown(iv)}: must be [low, high] (a 90% interval of "
                "finite numbers)"
            )
        if not iv[0] < iv[1]:
            raise UserError(f"{where}: interval = {shown(iv)}: low must be below high")
        sd = (float(iv[1]) - float(iv[0])) / (2 * Z90)
        if not math.isfinite(sd):
            raise UserError(f"{where}: interval = {shown(iv)}: too wide to be a 90% interval")
    low, high, allowed = BOUNDS.get(
        statistic,
        (0.0, 1.0, "a share from 0 to 1") if statistic.startswith("adoption_") else
        (-math.inf, math.inf, ""),
    )  # fmt: skip
    given = [("observed", observed)] + [("interval", v) for v in item.get("interval", [])]
    for key, value in given:
        if not low <= float(value) <= high:
            raise UserError(f"{where}: {key} = {shown(value)}: {statistic} is {allowed}")
    lag, month = item.get("lag"), item.get("month")
    if statistic in BY_LAG:
        if month is not None:
            raise UserError(f"{where}: {statistic} is measured by lag (months after return)")
        if not isinstance(lag, int) or isinstance(lag, bool) or lag < 0:
            raise UserError(f"{where}: lag = {shown(lag)}: must be a whole number of months >= 0")
    elif statistic in RUN or statistic in RULES:
        if lag is not None or month is not None:
            raise UserError(f"{where}: {statistic} is one number per run: no lag or month")
    else:
        if lag is not None:
            raise UserError(
                f"{where}: lag is for {', '.join(BY_LAG)}; a city-table column needs month"
            )
        if not isinstance(month, int) or isinstance(month, bool) or month < 0:
            raise UserError(
                f"{where}: month = {shown(month)}: must be a whole number of months >= 0"
            )
    return Target(name, statistic, float(observed), float(sd), source.strip(), lag, month, line)


def check_targets(targets: list[Target], config: ModelConfig) -> None:
    """Refuse a target the calibration scenario cannot measure (unknown column, beyond the
    horizon), in one line."""
    model = ExchangeModel(config, seed=0)
    columns = set(model.results().columns)
    model.release()
    known = (*BY_LAG, *RUN, *RULES)
    for t in targets:
        where = f"target {t.name!r} (line {t.line})"
        if t.statistic not in known and t.statistic not in columns:
            allowed = ", ".join([*known, *sorted(c for c in columns if c != "month")])
            raise UserError(f"{where}: statistic = {t.statistic!r}: unknown; allowed: {allowed}")
        when = when_measured(t)
        if when is not None and when > config.horizon:
            raise UserError(f"{where}: {when} months is beyond horizon = {config.horizon}")


def when_measured(target: Target) -> int | None:
    """Months after return (a returnee statistic), month of the run (a city-table column), or
    None (a statistic of the whole run or of the behaviour)."""
    return target.lag if target.statistic in BY_LAG else target.month


def measure(result, targets: list[Target], behavior: BehaviorConfig) -> dict[str, float]:
    """The targets' statistics in one run with `behavior` (NaN where the run has no value:
    nobody returned that long before its end, or no SOP followed a return)."""
    out = {}
    for t in targets:
        if t.statistic in BY_LAG:
            out[t.name] = float(result.returnees[BY_LAG[t.statistic]].iloc[t.lag])
        elif t.statistic in RUN:
            value = float(result.statistics[t.statistic])
            if t.statistic == "months_to_sop" and math.isnan(value):
                value = float(len(result.months) - 1)  # no SOP yet: censored at the horizon
            out[t.name] = value
        elif t.statistic in RULES:
            out[t.name] = float(RULES[t.statistic](behavior))
        else:
            out[t.name] = float(result.months[t.statistic].iloc[t.month])
    return out


# --- priors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prior:
    """A uniform prior over [low, high] for behavior.<name>."""

    name: str
    low: float
    high: float


def make_priors(names: list[str] | None, ranges: dict[str, tuple[float, float]]) -> list[Prior]:
    """Uniform priors for `names` (default: DEFAULT_PARAMETERS) over `ranges` or, where not
    given, the plausible ranges their settings declare. One-line UserError for a bad one."""
    declarations = dict(declared(BehaviorConfig))
    plausible = plausible_ranges(BehaviorConfig)
    names = list(names or DEFAULT_PARAMETERS)
    for name in [*names, *ranges]:
        if name not in declarations or not isinstance(declarations[name].default, float):
            allowed = ", ".join(n for n, s in declarations.items() if isinstance(s.default, float))
            raise UserError(f"prior {name!r}: not a behaviour parameter; allowed: {allowed}")
    if len(set(names)) < len(names):
        raise UserError("priors: a parameter is named twice")
    priors = []
    for name in names:
        if name not in ranges and name not in plausible:
            raise UserError(f"prior {name!r}: no plausible range declared; give one (--range)")
        low, high = ranges.get(name, plausible.get(name))
        allowed = declarations[name].allowed
        if not (is_number(low) and is_number(high) and low < high):
            raise UserError(f"prior {name!r}: range {low!r}:{high!r}: low must be below high")
        for end in (low, high):
            if not allowed.accepts(end):
                raise UserError(f"prior {name!r}: range end {end!r}: {allowed.problem}")
        priors.append(Prior(name, float(low), float(high)))
    return priors


# --- simulation ---------------------------------------------------------------------------------


class Simulator:
    """The model as pyabc calls it: parameters in, the targets' statistics out (one run, its
    seed drawn from numpy's global generator)."""

    def __init__(self, config: ModelConfig, targets: list[Target], parallel: bool = False):
        self.config, self.targets, self.parallel = config, targets, parallel

    def __call__(self, parameters: dict) -> dict[str, float]:
        # pyabc draws from numpy's global generator: seeded once, it makes the run reproducible
        seed = int(np.random.randint(0, 2**31 - 1))  # noqa: NPY002
        return self.statistics(dict(parameters), seed)

    def statistics(self, parameters: dict[str, float], seed: int) -> dict[str, float]:
        config = with_behaviour(self.config, parameters)
        if self.parallel:  # the sampler's processes fill the cores
            with one_thread():
                return measure(run_detailed(config, seed), self.targets, config.behavior)
        return measure(run_detailed(config, seed), self.targets, config.behavior)


def check_measurable(config: ModelConfig, targets: list[Target], priors: list[Prior]) -> None:
    """Refuse a scenario in which a target has no value (e.g. no returnees), in one line."""
    middle = {p.name: (p.low + p.high) / 2 for p in priors}
    values = Simulator(config, targets).statistics(middle, 0)
    for t in targets:
        if not math.isfinite(values[t.name]):
            what = (
                f"nobody was back from Tokyo {t.lag} months before the end"
                if t.statistic in BY_LAG
                else "no value"
            )
            raise UserError(
                f"target {t.name!r}: the calibration scenario gives {what}; send cohorts "
                "(program.cohort_size) or lengthen the horizon"
            )


def in_children(function, calls: list[tuple], workers: int) -> list:
    """`function(*call)` for each call in `workers` forked processes, in order. pyabc's parallel
    sampler forks this process: it must not have run the model's parallel kernels itself (a
    forked child would fall back to the serial ones, `sim.kernels.parallel`)."""
    with forked_pool(workers) as pool:
        return list(pool.map(function, *zip(*calls, strict=True)))


def error_model(targets: list[Target]) -> pyabc.IndependentNormalKernel:
    """The likelihood of the observed values given the model's statistics: independent normal
    errors with the targets' sds (measurement error and the gap between what a source measured and
    what the model computes). With pyabc's stochastic acceptor and a temperature that reaches 1 in
    the last generation, ABC-SMC then samples this exact posterior (Wilkinson 2013), rather than
    one blurred by a finite tolerance."""
    return pyabc.IndependentNormalKernel(
        var=[t.sd**2 for t in targets], keys=[t.name for t in targets]
    )


@dataclass
class Calibration:
    """What a calibration produced."""

    posterior: pd.DataFrame  # particles of the last generation: parameters and weight
    draws: pd.DataFrame  # equally weighted draws: draw, parameters
    generations: pd.DataFrame  # generation, temperature, samples, particles, acceptance, ess
    summary: pd.DataFrame  # per parameter: prior range, posterior median and 90% interval


# --- sampling: the same posterior on any number of workers -------------------------------------


def _seeded_jobs(simulate_one_pickle: bytes, seed: int, generation: int, jobs: list[int]):
    """pyabc's job body with numpy's and Python's generators seeded from (seed, generation,
    job): the proposal, the simulation and the acceptance of job j are then the same wherever
    and whenever it runs."""
    simulate_one = cloudpickle.loads(simulate_one_pickle)
    out = []
    for job in jobs:
        state = np.random.SeedSequence([seed, generation + 1, job]).generate_state(2)
        np.random.seed(state)  # noqa: NPY002 (pyabc draws from numpy's global generator)
        random.seed(int(state[0]))
        result = simulate_one()
        out.append((result, result.accepted, job))
    return out


class _SeededClient:
    """A client (a concurrent.futures executor or a dask client) whose jobs run `_seeded_jobs`."""

    def __init__(self, client, seed: int, generation: int):
        self.client, self.seed, self.generation = client, seed, generation

    def submit(self, _function, simulate_one_pickle, _batch_size, jobs):
        return self.client.submit(
            _seeded_jobs, simulate_one_pickle, self.seed, self.generation, list(jobs)
        )


class ReproducibleSampler(EPSMixin, pyabc.sampler.Sampler):
    """pyabc's job-submission sampler (as its ConcurrentFutureSampler and DaskDistributedSampler)
    with one seed per job rather than per process. pyabc already keeps the first n accepted
    particles in job order, whatever order jobs finish in; seeding each job from its number makes
    the posterior the same for any number of workers, on one machine or a cluster. `client` is a
    concurrent.futures executor or a dask.distributed client; `cores` jobs run at a time."""

    def __init__(self, client, cores: int, seed: int):
        EPSMixin.__init__(self, client, client_max_jobs=cores, default_pickle=True, batch_size=1)
        pyabc.sampler.Sampler.__init__(self)
        self.executor, self.cores, self.seed = client, cores, seed

    def client_cores(self) -> int:
        return self.cores

    def sample_until_n_accepted(self, n, simulate_one, t, **kwargs):
        self.client = _SeededClient(self.executor, self.seed, t)
        try:
            return super().sample_until_n_accepted(n, simulate_one, t, **kwargs)
        finally:
            self.client = self.executor

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("client", None)
        state.pop("executor", None)
        return state


class _InProcess(Executor):
    """An executor that runs each job when submitted (one worker, no process to fork)."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@contextmanager
def local_client(workers: int):
    """An executor of `workers` forked processes (`signals.forked_pool`: a stop ends them at
    once), or this process for one worker."""
    if workers == 1:
        yield _InProcess()
        return
    with forked_pool(workers) as pool:
        yield pool


#: The options of experiments/calibrate.py that set SLURMCluster's own arguments.
CLUSTER_OWN = {"queue": "--cluster-queue", "cores": "--cluster-cores",
               "processes": "--cluster-cores", "memory": "--cluster-memory",
               "walltime": "--cluster-walltime", "n_workers": "--cluster-jobs"}  # fmt: skip


@contextmanager
def slurm_client(
    jobs: int,
    cores: int = 1,
    memory: str = "4GB",
    walltime: str = "02:00:00",
    queue: str | None = None,
    options: dict | None = None,
    wait: float = 600.0,
    logs: Path | None = None,
):
    """A dask client on `jobs` SLURM jobs (dask-jobqueue's SLURMCluster), each of `cores` worker
    processes of one thread, started in this directory with this Python and the project on
    PYTHONPATH; `options` go to SLURMCluster, the jobs' logs to `logs`. Yields the client as soon
    as one job's workers have connected. On exit, also on an error, Ctrl-C or SIGTERM, the jobs
    are cancelled. sbatch refusing the job, or no job starting within `wait` seconds, is a
    UserError (one line)."""
    SLURMCluster = jobqueue().SLURMCluster
    options = dict(options or {})
    python = options.pop("python", sys.executable)
    root = shlex.quote(str(Path(__file__).resolve().parents[1]))
    prologue = [
        f"cd {shlex.quote(os.getcwd())}",
        f"export PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}}",
        "export NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1",
        *options.pop("job_script_prologue", []),
    ]
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_signal) if main else None
    cluster = client = None
    try:
        cluster = SLURMCluster(
            queue=queue, cores=cores, processes=cores, memory=memory, walltime=walltime,
            job_script_prologue=prologue, python=python,
            log_directory=options.pop("log_directory", None if logs is None else str(logs)),
            **options,
        )  # fmt: skip
        check = subprocess.run(
            ["sbatch", "--test-only"], input=cluster.job_script(), capture_output=True, text=True
        )
        if check.returncode != 0:
            raise UserError(
                f"--cluster slurm: sbatch refuses the job ({refusal(check.stderr)}); check "
                "--cluster-queue, --cluster-cores, --cluster-memory, --cluster-walltime and "
                "--cluster-option"
            )
        cluster.scale(jobs=jobs)
        client = Client(cluster)
        _wait_for_a_job(client, cluster, wait, logs, python)
        yield client
    finally:
        ids = [] if cluster is None else [j.job_id for j in cluster.workers.values()]
        for resource in (client, cluster):
            if resource is not None:
                resource.close()
        if ids := [i for i in ids if i]:  # whatever close() left: no orphaned job
            subprocess.run(["scancel", *ids], capture_output=True)
        if main:
            signal.signal(signal.SIGTERM, previous)


def jobqueue():
    """dask_jobqueue, imported without the SIGINT handler it installs (which turns Ctrl-C into
    exit code 0, skipping this program's own handling)."""
    handler = signal.getsignal(signal.SIGINT)
    # imported when a cluster is asked for, not with this module: the import replaces the handler
    dask_jobqueue = importlib.import_module("dask_jobqueue")
    if handler is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)
    return dask_jobqueue


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def _wait_for_a_job(client, cluster, wait: float, logs: Path | None, python: str) -> None:
    """Until one job's workers have connected; a UserError when none did within `wait` seconds
    or every job has already ended."""
    where = f"the job logs in {logs}" if logs else "the jobs' slurm-*.out files"
    deadline = time.monotonic() + wait
    while not client.scheduler_info()["workers"]:
        ids = [j.job_id for j in cluster.workers.values() if j.job_id]
        queued = subprocess.run(
            ["squeue", "--noheader", "--format=%i", "--jobs", ",".join(ids)],
            capture_output=True, text=True,
        ).stdout.split() if ids else ["submitting"]  # fmt: skip
        if not queued:
            raise UserError(
                f"--cluster slurm: the SLURM jobs ended before their workers connected (see "
                f"{where}); can the compute nodes run {python}?"
            )
        if time.monotonic() > deadline:
            raise UserError(
                f"--cluster-wait {wait:g}: no SLURM job started within {wait:g} s (see squeue "
                f"and {where}); raise --cluster-wait or choose a partition with free nodes "
                "(--cluster-queue)"
            )
        time.sleep(1)


def calibrate(
    config: ModelConfig,
    targets: list[Target],
    priors: list[Prior],
    population: int,
    generations: int,
    seed: int,
    workers: int,
    folder: Path,
    draws: int = 1000,
    client=None,
    cores: int | None = None,
) -> Calibration:
    """ABC-SMC; pyabc's history goes to <folder>/history.db. Reproducible from `seed` for any
    number of workers: every job is seeded from (seed, generation, job). `client` (a dask
    client, e.g. on a SLURM cluster, with `cores` slots) replaces the local processes."""
    np.random.seed(seed)  # noqa: NPY002 (pyabc draws from numpy's global generator)
    random.seed(seed)
    prior = pyabc.Distribution(
        **{p.name: pyabc.RV("uniform", p.low, p.high - p.low) for p in priors}
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.db").unlink(missing_ok=True)
    with local_client(workers) if client is None else nullcontext(client) as executor:
        abc = pyabc.ABCSMC(
            Simulator(config, targets, parallel=workers > 1 or client is not None),
            prior,
            error_model(targets),
            population_size=population,
            sampler=ReproducibleSampler(executor, cores or workers, seed),
            eps=pyabc.Temperature(),
            acceptor=pyabc.StochasticAcceptor(),
        )
        abc.new(f"sqlite:///{folder / 'history.db'}", {t.name: t.observed for t in targets})
        history = abc.run(max_nr_populations=generations)
    particles, weights = history.get_distribution(m=0, t=history.max_t)
    names = [p.name for p in priors]
    posterior = particles[names].reset_index(drop=True).assign(weight=np.asarray(weights))
    return Calibration(
        posterior=posterior,
        draws=posterior_draws(posterior, names, draws, seed),
        generations=generation_table(history),
        summary=posterior_summary(posterior, priors),
    )


def generation_table(history) -> pd.DataFrame:
    """Per generation: temperature, samples, accepted particles, acceptance rate and effective
    sample size (1 / sum of squared normalised weights)."""
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0].reset_index(drop=True)
    ess = []
    for t in pops.t:
        _, w = history.get_distribution(m=0, t=int(t))
        w = np.asarray(w) / np.sum(w)
        ess.append(float(1.0 / np.sum(w**2)))
    return pd.DataFrame(
        {
            "generation": pops.t.astype(int),
            "temperature": pops.epsilon.astype(float),
            "samples": pops.samples.astype(int),
            "particles": pops.particles.astype(int),
            "acceptance": pops.particles / pops.samples,
            "ess": ess,
        }
    )


def weighted_quantile(values, weights, q: float) -> float:
    """Quantile q of a weighted sample (linear in the cumulative weight)."""
    order = np.argsort(values)
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cum, v))


def posterior_summary(posterior: pd.DataFrame, priors: list[Prior]) -> pd.DataFrame:
    rows = []
    for p in priors:
        v, w = posterior[p.name], posterior.weight
        rows.append(
            {
                "parameter": p.name,
                "prior_low": p.low,
                "prior_high": p.high,
                "default": dict(declared(BehaviorConfig))[p.name].default,
                "median": weighted_quantile(v, w, 0.5),
                "p05": weighted_quantile(v, w, 0.05),
                "p95": weighted_quantile(v, w, 0.95),
            }
        )
    return pd.DataFrame(rows)


def posterior_draws(posterior: pd.DataFrame, names: list[str], n: int, seed: int) -> pd.DataFrame:
    """`n` equally weighted draws (resampled in proportion to the weights, with `seed`), in a
    fixed order: replicate i of a run with `posterior=` uses draw i."""
    rng = np.random.default_rng(seed)
    w = posterior.weight.to_numpy(float)
    pick = rng.choice(len(posterior), size=n, replace=True, p=w / w.sum())
    out = posterior.iloc[pick][names].reset_index(drop=True)
    out.insert(0, "draw", np.arange(n))
    return out


def behaviour_draws(draws: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """Every replicate's behaviour: the posterior `draws` of the calibrated parameters and, beside
    them, draws uniform over its plausible range (with `seed`) of every other behaviour parameter
    that declares one: the uncertainty the targets do not inform, carried as stated. Returns the
    table (draw, parameters) and the names drawn from ranges."""
    calibrated = [c for c in draws.columns if c != "draw"]
    ranges = {n: r for n, r in plausible_ranges(BehaviorConfig).items() if n not in calibrated}
    rng = np.random.default_rng([seed, len(draws)])
    out = draws.copy()
    for name, (low, high) in ranges.items():
        out[name] = rng.uniform(low, high, len(draws))
    return out, list(ranges)


def predictive_check(
    config: ModelConfig,
    targets: list[Target],
    draws: pd.DataFrame,
    n: int,
    seed: int,
    workers: int = 1,
    client=None,
) -> pd.DataFrame:
    """Each target against the model's 90% predictive interval: `n` runs, run i with posterior
    draw i and seed `seed + i` (in `workers` processes or through a dask `client`, the same
    result). `predicted_*` are quantiles of the model's statistic; `observable_*` add the target's
    normal error (the posterior predictive of an observation), and `inside` says whether the
    observed value lies within that 90% interval."""
    simulator = Simulator(config, targets, parallel=workers > 1 or client is not None)
    names = [c for c in draws.columns if c != "draw"]
    calls = [
        ({k: float(draws.iloc[i][k]) for k in names}, seed + i) for i in range(min(n, len(draws)))
    ]
    if client is not None:
        futures = [client.submit(simulator.statistics, *call) for call in calls]
        values = pd.DataFrame([future.result() for future in futures])
    elif workers > 1:
        values = pd.DataFrame(in_children(simulator.statistics, calls, workers))
    else:
        values = pd.DataFrame([simulator.statistics(*call) for call in calls])
    rows = []
    noise = np.random.default_rng(seed)
    for t in targets:
        v = values[t.name].dropna().to_numpy()
        low, mid, high = np.quantile(v, [0.05, 0.5, 0.95]) if v.size else (np.nan,) * 3
        seen = v + noise.normal(0.0, t.sd, v.size)
        seen_low, seen_high = np.quantile(seen, [0.05, 0.95]) if v.size else (np.nan,) * 2
        rows.append(
            {
                "target": t.name,
                "statistic": t.statistic,
                "when": when_measured(t),
                "observed": t.observed,
                "sd": t.sd,
                "predicted_p05": float(low),
                "predicted_median": float(mid),
                "predicted_p95": float(high),
                "observable_p05": float(seen_low),
                "observable_p95": float(seen_high),
                "inside": bool(seen_low <= t.observed <= seen_high),
                "runs": int(v.size),
            }
        )
    return pd.DataFrame(rows)


# --- writing ------------------------------------------------------------------------------------


def write_results(
    folder: Path, result: Calibration, predictive: pd.DataFrame, settings: dict
) -> None:
    """Tables (Parquet and CSV), figures, report.html and settings.json, each atomically."""
    write_table(result.posterior, folder / "posterior")
    write_table(result.draws, (folder / DRAWS_FILE).with_suffix(""))
    write_table(result.generations, folder / "generations")
    write_table(result.summary, folder / "summary")
    write_table(predictive, folder / "predictive")
    figures = draw_figures(result, predictive, settings, folder / "figures")
    atomic_write_text(folder / "report.html", report(result, predictive, settings, figures, folder))
    atomic_write_text(folder / "settings.json", json.dumps(settings, indent=2, default=str) + "\n")


STYLE = {"font.size": 10, "axes.spines.top": False, "axes.spines.right": False,
         "axes.grid": True, "grid.alpha": 0.3, "svg.hashsalt": "calibration"}  # fmt: skip
BLUE, ORANGE, GREY = "#0072B2", "#D55E00", "#6E6E6E"


def _save(fig: Figure, folder: Path, name: str) -> Path:
    return save_figure(fig, folder / f"{name}.png")


def draw_figures(
    result: Calibration, predictive: pd.DataFrame, settings: dict, folder: Path
) -> dict[str, Path]:
    post, summary = result.posterior, result.summary
    names = list(summary.parameter)
    out = {}
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(3.2 * len(names), 3.0), layout="constrained")
        for ax, row in zip(fig.subplots(1, len(names), squeeze=False)[0], summary.itertuples(),
                           strict=True):  # fmt: skip
            bins = np.linspace(row.prior_low, row.prior_high, 25)
            ax.hist(post[row.parameter], bins=bins, weights=post.weight, color=BLUE, alpha=0.8)
            ax.axvspan(row.p05, row.p95, color=BLUE, alpha=0.12, lw=0)
            ax.axvline(row.median, color=BLUE, lw=2)
            ax.axvline(row.default, color=ORANGE, ls="--", lw=1.5)
            ax.set_xlim(row.prior_low, row.prior_high)
            ax.set_yticks([])
            ax.set_title(row.parameter)
        fig.suptitle(
            "Posterior of each parameter over its prior range (uniform): median (line), 90% "
            "interval (band), model default (dashed)"
        )
        out["marginals"] = _save(fig, folder, "marginals")

        k = len(names)
        fig = Figure(figsize=(2.4 * k, 2.4 * k), layout="constrained")
        axes = fig.subplots(k, k, squeeze=False)
        size = 4 + 60 * post.weight / post.weight.max()
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                ax = axes[i, j]
                if i == j:
                    ax.hist(post[a], bins=20, weights=post.weight, color=BLUE, alpha=0.8)
                    ax.set_yticks([])
                else:
                    ax.scatter(post[b], post[a], s=size, color=BLUE, alpha=0.35, lw=0)
                if i == k - 1:
                    ax.set_xlabel(b)
                if j == 0 and i != j:
                    ax.set_ylabel(a)
        fig.suptitle("Posterior pairs (point size: weight)")
        out["pairs"] = _save(fig, folder, "pairs")

        gen = result.generations
        fig = Figure(figsize=(10, 3.2), layout="constrained")
        left, mid, right = fig.subplots(1, 3)
        left.plot(gen.generation, gen.temperature, "o-", color=BLUE)
        left.axhline(1.0, color=GREY, ls="--")
        left.set_yscale("log")
        left.set_title("Temperature (1 = exact posterior)")
        mid.plot(gen.generation, gen.acceptance, "o-", color=BLUE)
        mid.set_title("Acceptance rate")
        mid.set_ylim(0, 1)
        right.plot(gen.generation, gen.ess, "o-", color=BLUE)
        right.axhline(settings["population"], color=GREY, ls="--")
        right.set_title("Effective sample size")
        for ax in (left, mid, right):
            ax.set_xlabel("Generation")
        out["generations"] = _save(fig, folder, "generations")

        # each target on its own scale: in its sds from the observed value (shares and months
        # side by side)
        fig = Figure(figsize=(8, 0.6 * len(predictive) + 1.8), layout="constrained")
        ax = fig.subplots()
        y = np.arange(len(predictive))

        def z(column: str) -> pd.Series:
            return (predictive[column] - predictive.observed) / predictive.sd

        ax.hlines(y, z("observable_p05"), z("observable_p95"), color=BLUE, lw=2, alpha=0.6,
                  label="observable (model + error), 90%")  # fmt: skip
        ax.hlines(y, z("predicted_p05"), z("predicted_p95"), color=BLUE, lw=7, alpha=0.4,
                  label="model statistic, 90%")  # fmt: skip
        ax.plot(z("predicted_median"), y, "|", color=BLUE, ms=14, mew=2)
        ax.errorbar(np.zeros(len(y)), y, xerr=Z90, fmt="o", color=ORANGE, capsize=4,
                    label="observed ± 1.645 sd")  # fmt: skip
        ax.set_yticks(y, [f"{t} ({o:.3g})" for t, o in zip(predictive.target, predictive.observed,
                                                             strict=True)])  # fmt: skip
        ax.set_xlabel("Distance from the observed value, in the target's sds")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
        out["predictive"] = _save(fig, folder, "predictive")
    return out


CAPTIONS = {
    "marginals": "Each panel is one calibrated parameter: the histogram is the weighted "
    "posterior over its prior range, the solid line its median, the band its 90% interval, the "
    "dashed line the model's default. A posterior as flat as the prior means the targets say "
    "nothing about that parameter.",
    "pairs": "Each off-diagonal panel plots two parameters of the posterior particles against "
    "each other; a diagonal band means the targets pin down a combination (a trade-off) rather "
    "than each parameter.",
    "generations": "ABC-SMC lowers the temperature generation by generation until it reaches 1 "
    "in the last one, where the particles are a sample of the exact posterior under the error "
    "model; the acceptance rate and the effective sample size (dashed: the population) show how "
    "hard each generation was and how well its weights are spread.",
    "predictive": "Each row is one target (its observed value in brackets), drawn on its own "
    "scale: distances from the observed value in the target's sds, so shares and months sit "
    "side by side. The orange point is the observed value with its assumed uncertainty; the "
    "thick blue bar is the range in which 90% of model runs with "
    "posterior parameters put the statistic, the thin bar the same with the target's error added "
    "(where 90% of observations would fall if the model and error model were right). An observed "
    "point outside the thin bar is a pattern the calibrated model does not reproduce.",
}


def _table(df: pd.DataFrame, digits: int = 3) -> str:
    def cell(v) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "<td>—</td>"
        if isinstance(v, float | np.floating):
            return f"<td>{v:.{digits}g}</td>"
        if isinstance(v, str):  # text reads from the left
            return f'<td class="design">{escape(v)}</td>'
        return f"<td>{escape(str(v))}</td>"

    text = [df[c].map(lambda v: isinstance(v, str)).all() for c in df.columns]
    head = "".join(
        f'<th class="design">{escape(c)}</th>' if t else f"<th>{escape(c)}</th>"
        for c, t in zip(df.columns, text, strict=True)
    )
    rows = "".join(
        "<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


#: The predictive check as the report shows it (predictive.csv keeps every column).
PREDICTIVE_COLUMNS = {
    "target": "target",
    "observed": "observed",
    "sd": "sd",
    "predicted_p05": "model 5%",
    "predicted_median": "model median",
    "predicted_p95": "model 95%",
    "observable_p05": "observation 5%",
    "observable_p95": "observation 95%",
    "inside": "inside",
}


def report(
    result: Calibration,
    predictive: pd.DataFrame,
    settings: dict,
    figures: dict[str, Path],
    folder: Path,
) -> str:
    inside = int(predictive.inside.sum())
    intro = paragraph(
        f"ABC-SMC (pyabc) on {len(settings['targets'])} targets from {settings['targets_file']}: "
        f"population {settings['population']}, {settings['generations']} generations, seed "
        f"{settings['seed']}, {settings['workers']} worker(s); scenario "
        f"{settings['scenario']} ({settings['overrides']}). Error model: each observed value is "
        "the model's statistic plus a normal error with the target's sd; a stochastic acceptor "
        "with a temperature that reaches 1 in the last generation samples the exact posterior "
        "under it. Priors: uniform over the ranges below."
    )
    verdict = paragraph(
        f"{inside} of {len(predictive)} targets lie inside the 90% posterior predictive interval "
        "of an observation (model statistic plus error)."
    )
    targets = pd.DataFrame(settings["targets"])
    sources = (
        "<ul>"
        + "".join(
            f"<li><b>{escape(t.name)}</b>: {escape(str(t.source))}</li>"
            for t in targets.itertuples()
        )
        + "</ul>"
    )
    targets = targets[["name", "statistic", "lag", "month", "observed", "sd"]]
    body = "\n".join(
        [
            section("What was calibrated", intro, _table(targets), paragraph("Sources:"), sources),
            section(
                "Posterior",
                _table(result.summary),
                verdict,
                _table(predictive[list(PREDICTIVE_COLUMNS)].rename(columns=PREDICTIVE_COLUMNS)),
            ),
            section("Generations", _table(result.generations)),
            section(
                "Figures",
                *(figure_block(n.capitalize(), CAPTIONS[n], p, folder) for n, p in figures.items()),
            ),
            section(
                "What the posterior says and does not",
                paragraph(
                    "The posterior is what the targets, through this model and this scenario, say "
                    "about the parameters: it is only as good as the targets (their sources, how "
                    "far they describe Jakarta's exchange) and the model's structure. Parameters "
                    "whose posterior stays as wide as their prior are not informed by these "
                    "targets. See docs/model.md, Calibration."
                ),
            ),
        ]
    )
    return html_page("Calibration of the behavioural parameters", body)
