"""A calibration's sampling: the calibration scenario simulated with a parameter set, and
pyabc's ABC-SMC run over it, the same posterior on any number of workers.

- Simulation (`Simulator`): one run of the calibration scenario with a parameter set and a seed
  (`calibration.targets.measure` gives its statistics). ABC-SMC may run on a smaller city
  (`proposal_city`), whose posterior then only proposes: `correct` weighs the proposals with
  runs of the city itself (multifidelity).
- Error model (`error_model`): each observed value is the model's statistic plus a normal error
  of the target's sd; pyabc's stochastic acceptor with a temperature schedule ending at 1 samples
  the exact posterior under that model. Targets that are functions of the parameters themselves
  (`targets.RULES`) need no simulation: their likelihood multiplies the prior (`RulePrior`).
- Sampling (`ReproducibleSampler`): a seed per particle, so one process, several, or dask workers
  on a SLURM cluster (`slurm_client`, dask-jobqueue) give the same posterior for the same seed.
- `predictive_check`: each target against the model's 90% posterior predictive interval.
"""

from __future__ import annotations

import dataclasses
import importlib
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
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pyabc
from dask.distributed import Client
from pyabc.sampler.eps_mixin import EPSMixin

from experiments import PROJECT
from experiments.calibration.posterior import (
    effective_size,
    generation_table,
    posterior_draws,
    posterior_summary,
)
from experiments.calibration.targets import BY_LAG, RULES, Prior, Target, measure, when_measured
from experiments.jobs.cluster import refusal
from experiments.jobs.job import one_thread
from experiments.jobs.signals import forked_pool
from experiments.study.posterior import with_behaviour
from sim import ModelConfig, UserError, run_detailed

#: ABC-SMC runs on the city at this share of its scale; its posterior only proposes, and runs of
#: the city itself correct it (`correct`; multifidelity, docs/model.md §11).
PROPOSAL_SCALE = 0.25


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


def proposal_share(config: ModelConfig, share: float | None = None) -> float:
    """The share of the city's scale ABC-SMC simulates: `share`, by default
    PROPOSAL_SCALE, or 1 for a city from a roster (never scaled). One-line UserError if bad."""
    roster = config.scenario.roster_file is not None
    if share is None:
        return 1.0 if roster else PROPOSAL_SCALE
    if not 0.0 < share <= 1.0:
        raise UserError(f"--proposal-scale {share:g}: must be a share in (0, 1]")
    if roster and share < 1.0:
        raise UserError(
            f"--proposal-scale {share:g}: a city from a roster is simulated as it is, not "
            "scaled; leave the option out (or give 1)"
        )
    return share


def proposal_city(config: ModelConfig, share: float | None = None) -> ModelConfig:
    """The city ABC-SMC simulates: `config` at `proposal_share` of its scale (1 = the
    calibrated city itself). Cheaper, and its statistics differ from the calibrated city's
    (docs/model.md §11), which `correct` corrects."""
    scale = config.scenario.scale * proposal_share(config, share)
    return dataclasses.replace(config, scenario=dataclasses.replace(config.scenario, scale=scale))


class RuleLikelihood:
    """The likelihood of the targets that are functions of the parameters themselves (RULES,
    e.g. the half-life of an unused skill from forgetting_rate), as a factor in [0, 1] of the
    prior: the normal error model's density relative to its peak. Exact, and it spares the
    simulations that the acceptor would otherwise reject for these targets."""

    def __init__(self, config: ModelConfig, targets: list[Target]):
        self.behaviour = config.behavior
        self.targets = [t for t in targets if t.statistic in RULES]

    def __call__(self, parameters) -> float:
        if not self.targets:
            return 1.0
        values = {k: float(v) for k, v in dict(parameters).items()}
        behaviour = dataclasses.replace(self.behaviour, **values)
        z2 = sum(((RULES[t.statistic](behaviour) - t.observed) / t.sd) ** 2 for t in self.targets)
        return math.exp(-0.5 * z2)


class RulePrior(pyabc.Distribution):
    """Uniform priors times `RuleLikelihood` (unnormalised: pyabc normalises its weights).
    Sampled by rejection from the uniform priors, with numpy's global generator as pyabc's."""

    def __init__(self, likelihood: RuleLikelihood, **rvs):
        super().__init__(**rvs)
        self.likelihood = likelihood

    def copy(self) -> RulePrior:
        return RulePrior(self.likelihood, **{k: v.copy() for k, v in self.items()})

    def rvs(self, *args, **kwargs):
        while True:
            theta = super().rvs(*args, **kwargs)
            if np.random.uniform() < self.likelihood(theta):  # noqa: NPY002
                return theta

    def pdf(self, x) -> float:
        density = super().pdf(x)
        return density * self.likelihood(x) if density > 0 else density


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
    root = shlex.quote(str(PROJECT))
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


#: Runs of the calibrated city that correct the proposals (`correct`): enough for an effective
#: sample of about a hundred when the proposals are close (docs/model.md §11).
CITY_RUNS = 500


#: The correcting proposal: pyabc's kernel density of the proposal posterior, its covariance
#: widened by WIDEN (the smaller city's posterior is shifted), mixed with a share DEFENSIVE of
#: the uniform prior (weights stay below 1 / DEFENSIVE: defensive importance sampling,
#: Hesterberg 1995).
WIDEN, DEFENSIVE = 2.0, 0.1


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
    proposal_scale: float | None = 1.0,
    city_runs: int = CITY_RUNS,
) -> Calibration:
    """ABC-SMC (pyabc's history in <folder>/history.db) on the city at `proposal_scale` of its
    scale (`proposal_city`; None: PROPOSAL_SCALE). At 1 its last generation, at temperature 1,
    is the posterior. Below 1 that posterior is the smaller city's, and only proposes: `correct`
    then runs the city itself `city_runs` times and weighs each proposal by its exact posterior
    density over its proposal density (multifidelity ABC). Reproducible from `seed` for any
    number of workers: every job is seeded from its number. `client` (a dask client, e.g. on a
    SLURM cluster, with `cores` slots) replaces the local processes."""
    np.random.seed(seed)  # noqa: NPY002 (pyabc draws from numpy's global generator)
    random.seed(seed)
    rule = RuleLikelihood(config, targets)
    prior = RulePrior(rule, **{p.name: pyabc.RV("uniform", p.low, p.high - p.low) for p in priors})
    simulated = [t for t in targets if t.statistic not in RULES]
    if not simulated:
        raise UserError(
            "every target is a function of the parameters themselves ("
            + ", ".join(t.statistic for t in targets)
            + "): add a target the model must simulate"
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.db").unlink(missing_ok=True)
    parallel = workers > 1 or client is not None
    proposal = proposal_city(config, proposal_scale)
    names = [p.name for p in priors]
    with local_client(workers) if client is None else nullcontext(client) as executor:
        abc = pyabc.ABCSMC(
            Simulator(proposal, targets, parallel),
            prior,
            error_model(simulated),
            population_size=population,
            sampler=ReproducibleSampler(executor, cores or workers, seed),
            eps=pyabc.Temperature(),
            acceptor=pyabc.StochasticAcceptor(),
        )
        abc.new(f"sqlite:///{folder / 'history.db'}", {t.name: t.observed for t in simulated})
        history = abc.run(max_nr_populations=generations)
        particles, weights = history.get_distribution(m=0, t=history.max_t)
        posterior = particles[names].reset_index(drop=True).assign(weight=np.asarray(weights))
        table = generation_table(history)
        table.insert(2, "scale", proposal.scenario.scale)
        table.insert(3, "method", "ABC-SMC")
        if proposal.scenario.scale != config.scenario.scale:
            simulator = Simulator(config, targets, parallel)
            posterior = correct(simulator, priors, rule, posterior, city_runs, seed, executor)
            row = {"generation": len(table), "temperature": 1.0, "scale": config.scenario.scale,
                   "method": "importance sampling", "samples": city_runs, "particles": city_runs,
                   "acceptance": math.nan, "ess": effective_size(posterior.weight)}  # fmt: skip
            table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    return Calibration(
        posterior=posterior,
        draws=posterior_draws(posterior, names, draws, seed),
        generations=table,
        summary=posterior_summary(posterior, priors),
    )


def correct(
    simulator: Simulator,
    priors: list[Prior],
    rule: RuleLikelihood,
    proposals: pd.DataFrame,
    runs: int,
    seed: int,
    executor,
) -> pd.DataFrame:
    """The calibrated city's posterior from proposals (particles and weights of a posterior of a
    cheaper model): `runs` parameter sets drawn from q = (1 - DEFENSIVE) x pyabc's kernel density
    of the proposals (covariance x WIDEN) + DEFENSIVE x the uniform prior, inside the priors'
    box; one run of the city each (seeded by its number, in `executor`); weight = prior x rule
    likelihood x the error model's likelihood of the observed values / q. Self-normalised
    importance sampling with an unbiased likelihood estimate (one run): consistent for the exact
    posterior as `runs` grows, whatever the proposals (Wilkinson 2013; Prescott & Baker 2020)."""
    names = [p.name for p in priors]
    low = np.array([p.low for p in priors])
    high = np.array([p.high for p in priors])
    kde = pyabc.MultivariateNormalTransition(scaling=WIDEN)
    kde.fit(proposals[names], proposals.weight.to_numpy(float) / proposals.weight.sum())
    np.random.seed(np.random.SeedSequence([seed, 1]).generate_state(1))  # noqa: NPY002
    thetas = []
    while len(thetas) < runs:
        if np.random.uniform() < DEFENSIVE:  # noqa: NPY002
            theta = np.random.uniform(low, high)  # noqa: NPY002
        else:
            particle = kde.rvs_single()
            theta = np.array([particle[n] for n in names], float)
        if np.all((low <= theta) & (theta <= high)):
            thetas.append(theta)
    drawn = pd.DataFrame(thetas, columns=names)
    uniform = 1.0 / np.prod(high - low)
    q = (1 - DEFENSIVE) * np.atleast_1d(kde.pdf(drawn)) + DEFENSIVE * uniform
    seeds = [int(np.random.SeedSequence([seed, 2, i]).generate_state(1)[0]) for i in range(runs)]
    calls = [
        (dict(zip(names, map(float, theta), strict=True)), s)
        for theta, s in zip(thetas, seeds, strict=True)
    ]
    values = [f.result() for f in [executor.submit(simulator.statistics, *c) for c in calls]]
    simulated = [t for t in simulator.targets if t.statistic not in RULES]
    z2 = np.zeros(runs)
    for t in simulated:
        x = np.array([v[t.name] for v in values], float)
        z2 += np.where(np.isfinite(x), ((x - t.observed) / t.sd) ** 2, np.inf)
    prior = uniform * np.array([rule(c[0]) for c in calls])
    with np.errstate(divide="ignore"):
        log_w = np.log(prior) - 0.5 * z2 - np.log(q)
    w = np.exp(log_w - np.max(log_w[np.isfinite(log_w)]))
    return drawn.assign(weight=w / w.sum())


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
