"""The tables of an aggregated sweep and their statistics: the contract figures and report read.

Units: service index in [0, 1] (one index point = 0.01); people are real Jakarta staff; money is
IDR million; time is months. Every design is identified exactly by `design_id` (a digest of its
configuration and inputs); `design` is its exact label. Intervals are two-sided 95% t intervals
across replicates; comparisons between designs are paired on the same seeds (common random
numbers), so a difference is "clear" when the 95% interval of the paired differences excludes 0.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.analysis.intervals import censored_median, clear, t_interval
from experiments.study.levers import LEVERS, label_designs, reference_design
from experiments.study.outcomes import OUTCOMES, cost_per_point
from experiments.study.settings import RunConfig
from sim.pairing import CHANNELS
from sim.trend import ombudsman_points, own_improvement, own_months, packaged_trend


@dataclass
class SweepTables:
    """Tables of a sweep (see the README's output files for every column).

    timeseries: one row per (design, replicate, month): the model's city table, baseline_index,
    gain. baseline: the paired no-exchange runs' city tables. summary: one row per (design,
    replicate). designs: one row per design (means, intervals, rank, judgements). effects: one
    row per (design, kind, outcome): what the gain means, with intervals. comparisons: one row
    per ordered pair of designs: paired difference in gain. departments: one row per (design,
    replicate, month, department), with the baseline's quality.
    """

    timeseries: pd.DataFrame
    baseline: pd.DataFrame
    summary: pd.DataFrame
    designs: pd.DataFrame
    effects: pd.DataFrame
    comparisons: pd.DataFrame
    departments: pd.DataFrame
    department_ties: pd.DataFrame  # department, other_department, ties (first replicate)
    levers: list[str]  # lever columns that vary across designs
    meta: dict  # facts: horizon, replicates, scale, seeds, command, provenance, ...
    #: With posterior draws: one row per (design, rank): the share of draws at that rank.
    ranks: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    #: One row per (design, department): how close it is to standard procedures at the end
    #: (`readiness_table`; empty for departments tables without SOP columns).
    readiness: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)

    @property
    def under_posterior(self) -> bool:
        """Whether replicates drew their behaviour from a calibrated posterior."""
        return drawn_from_posterior(self.designs)


def design_table(summary: pd.DataFrame, levers: list[str]) -> pd.DataFrame:
    """One row per design: its levers (those that vary first, then the program's others), then
    every outcome of `study.outcomes.OUTCOMES` summarised as it declares (mean, sd and 95%
    interval as <name>_mean, _sd, _ci_low, _ci_high; a censored <name>_median; a <name>_share),
    cost per index point (only for a clear gain) and the rank by mean gain."""
    columns = [*levers, *(k for k in LEVERS if k in summary and k not in levers)]
    rows = []
    for did, g in summary.groupby("design_id", sort=False):
        row = {"design": g.design.iloc[0], "design_id": did}
        row.update({k: g[k].iloc[0] for k in columns})
        row["n"] = len(g)
        for name, outcome in OUTCOMES.items():
            if name not in g or outcome.summary == "none":
                continue
            if outcome.summary == "mean":
                mean, low, high = t_interval(g[name])
                sd = float(g[name].std(ddof=1)) if len(g) > 1 else float("nan")
                row.update({f"{name}_mean": mean, f"{name}_sd": sd, f"{name}_ci_low": low,
                            f"{name}_ci_high": high})  # fmt: skip
            elif outcome.summary == "median":
                row[f"{name}_median"] = censored_median(g[name])
            else:
                row[f"{name}_share"] = float(g[name].mean())
        row.update(planner_units(row, float(g.baseline_final_index.mean())))
        clear_gain = clear(row["gain_ci_low"])
        row["cost_per_point"] = (
            cost_per_point(row["cost_mean"], row["gain_mean"]) if clear_gain else float("nan")
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    out["rank"] = out.gain_mean.rank(ascending=False, method="min").astype(int)
    return out.sort_values(["rank", "cost_mean", "design"]).reset_index(drop=True)


#: Columns of the designs table that give the gain in units a planner knows (docs/model.md
#: §7.17): Ombudsman compliance points (gap-proportional mapping, an assumption) and months of
#: Jakarta's own recent improvement.
PLANNER_UNITS = ("gain_ombudsman", "gain_own_months")


def planner_units(row: dict, baseline_index: float) -> dict:
    """The gain's mean and interval (`row`, index units) as Ombudsman points and as months of
    the city's own improvement at `baseline_index` (`PLANNER_UNITS`; sim.trend)."""
    trend, out = packaged_trend(), {}
    for suffix in ("mean", "ci_low", "ci_high"):
        gain = row[f"gain_{suffix}"]
        out[f"gain_ombudsman_{suffix}"] = float(ombudsman_points(gain, baseline_index, trend))
        out[f"gain_own_months_{suffix}"] = float(own_months(gain, baseline_index, trend))
    return out


def with_own_trend(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """`df` (monthly city tables) with `own_improvement`, the city's own documented improvement
    drawn for each seed (sim.trend; the same for a design and its no-exchange run), and
    `service_index_with_trend` = service_index + own_improvement; `service_index` is unchanged."""
    trend, parts = packaged_trend(), []
    for _, g in df.groupby(keys, sort=False):
        start = float(g.loc[g.month.idxmin(), "service_index"])
        parts.append(pd.Series(own_improvement(int(g.seed.iloc[0]), g.month.to_numpy(), start,
                                               trend), index=g.index))  # fmt: skip
    own = pd.concat(parts).reindex(df.index) if parts else pd.Series(dtype=float)
    return df.assign(own_improvement=own, service_index_with_trend=df.service_index + own)


def paired_comparisons(summary: pd.DataFrame) -> pd.DataFrame:
    """Every ordered pair of designs (a, b): mean of gain_a - gain_b over the seeds both ran,
    its 95% t interval and the share of seeds on which a did better."""
    wide = summary.pivot_table(index="seed", columns="design_id", values="gain", aggfunc="first")
    ids = list(wide.columns)
    values = wide.to_numpy(float)
    rows = []
    for i, a in enumerate(ids):
        for j, b in enumerate(ids):
            if i == j:
                continue
            diff = values[:, i] - values[:, j]
            diff = diff[np.isfinite(diff)]
            mean, low, high = t_interval(diff)
            better = float((diff > 0).mean()) if diff.size else float("nan")
            rows.append((a, b, diff.size, mean, low, high, better))
    return pd.DataFrame(
        rows,
        columns=["design_id", "versus_id", "pairs", "diff_mean", "diff_ci_low", "diff_ci_high",
                 "better_share"],
    )  # fmt: skip


def judge(designs: pd.DataFrame, comparisons: pd.DataFrame) -> pd.DataFrame:
    """Add what can be said with this many replicates.

    gain_clear: the gain's interval is above zero. diff_vs_best_*: paired difference from the
    design with the largest mean gain; tied_with_best: that interval includes zero.
    efficient: a clear gain that is clearly larger than that of every cheaper design, and no
    design costing the same is clearly better: the money buys a gain that can be told apart.
    no_clear_gain_over: the cheapest cheaper design whose gain this one's is not clearly above
    ("" if none).
    """
    d = designs.copy()
    d["gain_clear"] = [clear(x) for x in d.gain_ci_low]
    pair = comparisons.set_index(["design_id", "versus_id"])
    best = d.loc[d["rank"].idxmin(), "design_id"] if len(d) else None
    for col in ("diff_mean", "diff_ci_low", "diff_ci_high"):
        d[col.replace("diff", "diff_vs_best")] = [
            0.0 if x == best else pair.loc[(x, best), col] for x in d.design_id
        ]
    high = d.diff_vs_best_ci_high
    d["tied_with_best"] = [
        x != best and not hi < 0 for x, hi in zip(d.design_id, high, strict=True)
    ]
    cost = dict(zip(d.design_id, d.cost_mean, strict=True))
    efficient, matched = [], []
    for a, ok in zip(d.design_id, d.gain_clear, strict=True):
        cheaper = sorted(
            (b for b in d.design_id if cost[b] < cost[a] and not math.isclose(cost[a], cost[b])),
            key=cost.get,
        )
        # the cheapest design whose gain this one's cannot be told apart from (or falls below)
        match = next((b for b in cheaper if not clear(pair.loc[(a, b), "diff_ci_low"])), "")
        same = [b for b in d.design_id if b != a and math.isclose(cost[a], cost[b])]
        beaten = any(clear(pair.loc[(b, a), "diff_ci_low"]) for b in same)
        efficient.append(bool(ok and not match and not beaten))
        matched.append(match)
    d["efficient"] = efficient
    d["no_clear_gain_over"] = matched
    return d


#: Share of draws a posterior interval of the gain leaves out on each side (a 90% interval).
POSTERIOR_TAIL = 0.05


#: Columns of `replicate_ranking` only a sweep under posterior draws keeps in its designs table.
POSTERIOR_COLUMNS = ("gain_p05", "gain_p95")


def replicate_ranking(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per design, over the replicates every design ran, paired as the comparisons are (on the
    seed; under posterior draws, on the draw, which replicate r of every design shares with its
    seed): `paired_replicates`, how many; `p_best`, the share of them on which the design had
    the largest gain (ties shared); `p_gain_positive`, the share on which its gain was above
    zero; and the 5% and 95% quantiles of its gain over them (`gain_p05`, `gain_p95`: under a
    posterior, the posterior predictive interval, parameter and seed uncertainty together).
    Also the share of those replicates at each rank, per design."""
    key = "draw" if "draw" in summary else "seed"
    wide = summary.pivot_table(index=key, columns="design_id", values="gain", aggfunc="first")
    wide = wide.dropna()
    ranks = pd.DataFrame(columns=["design_id", "rank", "share"])
    if wide.empty:  # no replicate that every design ran: no shares
        names = ["p_best", "p_gain_positive", *POSTERIOR_COLUMNS]
        return pd.DataFrame({"design_id": wide.columns, "paired_replicates": 0,
                             **dict.fromkeys(names, np.nan)}), ranks  # fmt: skip
    gains = wide.to_numpy(float)
    top = gains == gains.max(axis=1, keepdims=True)
    p_best = (top / top.sum(axis=1, keepdims=True)).mean(axis=0)
    per_design = pd.DataFrame(
        {
            "design_id": wide.columns,
            "paired_replicates": len(wide),
            "p_best": p_best,
            "p_gain_positive": (gains > 0).mean(axis=0),
            "gain_p05": np.quantile(gains, POSTERIOR_TAIL, axis=0),
            "gain_p95": np.quantile(gains, 1 - POSTERIOR_TAIL, axis=0),
        }
    )
    order = (-gains).argsort(axis=1, kind="stable").argsort(axis=1) + 1  # rank on each one
    ranks = pd.DataFrame(
        [
            (did, rank, float((order[:, j] == rank).mean()))
            for j, did in enumerate(wide.columns)
            for rank in range(1, len(wide.columns) + 1)
        ],
        columns=["design_id", "rank", "share"],
    )
    return per_design, ranks


def drawn_from_posterior(designs: pd.DataFrame | pd.Series) -> bool:
    """Whether a designs table (or one of its rows) is of a sweep whose replicates drew their
    behaviour from posterior draws (it alone keeps the posterior range of the gain,
    `POSTERIOR_COLUMNS`)."""
    return set(POSTERIOR_COLUMNS) <= set(designs.keys())


def versus_reference(designs: pd.DataFrame, comparisons: pd.DataFrame, ref: str) -> pd.DataFrame:
    """designs with diff_vs_reference (mean, interval) and better_than_reference_share."""
    pair = comparisons[comparisons.versus_id == ref].set_index("design_id")
    out = designs.copy()
    for src, dst in (
        ("diff_mean", "diff_vs_reference"),
        ("diff_ci_low", "diff_ci_low"),
        ("diff_ci_high", "diff_ci_high"),
        ("better_share", "better_than_reference_share"),
    ):
        out[dst] = [0.0 if x == ref else pair.loc[x, src] for x in out.design_id]
    out.loc[out.design_id == ref, "better_than_reference_share"] = 0.0
    return out


def effects_table(effects: pd.DataFrame) -> pd.DataFrame:
    """Per design and outcome: mean design value, mean no-exchange value, and the mean paired
    difference with its interval."""
    rows = []
    for (did, kind, outcome), g in effects.groupby(["design_id", "kind", "outcome"], sort=False):
        mean, low, high = t_interval(g.difference)
        rows.append(
            {
                "design": g.design.iloc[0],
                "design_id": did,
                "kind": kind,
                "outcome": outcome,
                "value_mean": float(g.value.mean()),
                "baseline_mean": float(g.baseline.mean()),
                "difference_mean": mean,
                "difference_ci_low": low,
                "difference_ci_high": high,
            }
        )
    return pd.DataFrame(rows)


def has_channels(designs: pd.DataFrame) -> bool:
    """Whether the gain was decomposed by channel (`sim.pairing.CHANNELS`): every part has a
    mean column with a value for at least one design (a sweep run with channels=false has none)."""
    columns = [f"{name}_mean" for name in CHANNELS]
    return set(columns) <= set(designs) and bool(designs[columns].notna().all(axis=1).any())


#: The report's real yearly discount rate when the sweep does not record one (the declared
#: default of `discount_rate`).
DISCOUNT_RATE = RunConfig.__dataclass_fields__["discount_rate"].default


def discount_rate(meta: dict) -> float:
    """The sweep's real yearly discount rate (per year, 0-1)."""
    rate = meta.get("discount_rate")
    return DISCOUNT_RATE if rate is None else float(rate)


def present_costs(timeseries: pd.DataFrame, rate: float) -> pd.Series:
    """Per design_id, the mean over replicates of the present value (IDR million) of its costs:
    each month's cost (the rise of the cumulative `cost` since the month before) divided by
    (1 + rate) ** (month / 12)."""
    ts = timeseries.sort_values(["design_id", "replicate", "month"])
    spent = ts.groupby(["design_id", "replicate"], sort=False).cost.diff().fillna(ts.cost)
    factor = (1.0 + rate) ** (-ts.month.to_numpy(float) / 12.0)
    value = (spent * factor).groupby([ts.design_id, ts.replicate]).sum()
    return value.groupby(level="design_id").mean()


def years(tables: SweepTables) -> float:
    """The horizon in years."""
    return horizon_months(tables) / 12.0


def budget_choices(tables: SweepTables) -> pd.DataFrame:
    """The design to choose at each budget level of the sweep (a yearly cost, IDR million): the
    design with the largest mean gain among those costing at most that much a year, one row each
    time a dearer budget changes the choice, cheapest first. Columns: design_id, cost_per_year
    (its own yearly cost: the level from which it is the choice), gain_mean, gain_ci_low,
    gain_ci_high, p_best_within (share of the paired replicates on which it had the largest gain
    of the affordable designs), previous_id (the choice of the budget below, "" for the first)
    and diff_vs_previous_mean/_ci_low/_ci_high (its paired gain minus that choice's)."""
    d = tables.designs.assign(cost_per_year=tables.designs.cost_mean / years(tables))
    pair = tables.comparisons.set_index(["design_id", "versus_id"])
    rows, previous = [], ""
    for level in np.sort(d.cost_per_year.unique()):
        affordable = d[d.cost_per_year <= level * (1 + 1e-9)]
        top = affordable.sort_values(["gain_mean", "cost_mean"], ascending=[False, True]).iloc[0]
        if top.design_id == previous:
            continue
        shares, _ = replicate_ranking(tables.summary[tables.summary.design_id.isin(
            affordable.design_id)])  # fmt: skip
        p_best = shares.set_index("design_id").p_best.get(top.design_id, float("nan"))
        diff = (
            pair.loc[(top.design_id, previous), ["diff_mean", "diff_ci_low", "diff_ci_high"]]
            if previous
            else [float("nan")] * 3
        )
        rows.append((top.design_id, top.cost_per_year, top.gain_mean, top.gain_ci_low,
                     top.gain_ci_high, float(p_best), previous, *map(float, diff)))  # fmt: skip
        previous = top.design_id
    return pd.DataFrame(
        rows,
        columns=["design_id", "cost_per_year", "gain_mean", "gain_ci_low", "gain_ci_high",
                 "p_best_within", "previous_id", "diff_vs_previous_mean",
                 "diff_vs_previous_ci_low", "diff_vs_previous_ci_high"],
    )  # fmt: skip


def cheapest_reaching(designs: pd.DataFrame, target: float) -> tuple[pd.Series | None, bool]:
    """The cheapest design whose gain clearly reaches `target` (index units: the 95% interval's
    lower end at or above it), and True; else the cheapest whose mean gain reaches it, and False;
    else (None, False)."""
    for clearly, column in ((True, "gain_ci_low"), (False, "gain_mean")):
        reached = designs[designs[column] >= target]
        if len(reached):
            return reached.sort_values(["cost_mean", "gain_mean"], ascending=[True, False]).iloc[
                0
            ], clearly
    return None, False


#: Columns of a department's final month that `readiness_table` summarises.
READINESS_COLUMNS = ("sops", "sop_readiness")


def readiness_table(departments: pd.DataFrame) -> pd.DataFrame:
    """Per design and department, in the final month: `sop_readiness_mean` (its most advanced
    pilot as a multiple of its SOP threshold, mean over replicates; >= 1: ready for an SOP
    decision), `sops_mean` (practices that are SOP there, mean) and `sop_share` (share of
    replicates with at least one SOP, 0-1), with the number of `replicates`; empty when the
    table has no SOP columns."""
    names = ["design", "design_id", "department", "domain", "replicates", "sop_readiness_mean",
             "sops_mean", "sop_share"]  # fmt: skip
    if departments.empty or not set(READINESS_COLUMNS) <= set(departments):
        return pd.DataFrame(columns=names)
    last = departments[departments.month == departments.groupby("design_id").month.transform("max")]
    g = last.assign(has_sop=last.sops >= 1).groupby(
        ["design_id", "department"], sort=False, observed=True
    )
    out = g.agg(
        design=("design", "first"),
        domain=("domain", "first"),
        replicates=("replicate", "nunique"),
        sop_readiness_mean=("sop_readiness", "mean"),
        sops_mean=("sops", "mean"),
        sop_share=("has_sop", "mean"),
    ).reset_index()
    return out[names]


def varying_levers(summary: pd.DataFrame) -> list[str]:
    """Lever columns (and other swept settings) whose value differs between designs."""
    start = summary.columns.get_loc("design_id") + 1
    end = summary.columns.get_loc("replicate")
    candidates = [c for c in LEVERS if c in summary]
    candidates += [c for c in summary.columns[start:end] if c not in candidates]
    return [c for c in candidates if summary[c].astype(str).nunique() > 1]


def combine(jobs: list[dict[str, pd.DataFrame]], meta: dict, reference: str | None) -> SweepTables:
    """SweepTables from the tables of each job (as `experiments.jobs.job.run_job` returns them)."""

    def concat(name: str) -> pd.DataFrame:
        return pd.concat([job[name] for job in jobs], ignore_index=True)

    summary = concat("summary")
    # an optimising sweeper may run the same design twice: identical configuration and seeds
    # give identical results, so keep one copy rather than counting its seeds twice
    repeated = summary.duplicated(["design_id", "replicate"])
    summary = summary[~repeated].reset_index(drop=True)
    levers = varying_levers(summary)
    comparisons = paired_comparisons(summary)
    designs = judge(design_table(summary, levers), comparisons)
    meta = dict(meta)
    try:
        ref = reference_design(summary, reference)
    except ValueError as err:
        print(f"warning: {err}; no paired comparison with a reference", file=sys.stderr)
        ref = None
    if ref is not None:
        designs = versus_reference(designs, comparisons, ref)
        meta["reference"] = ref
    if repeated.any():
        meta["repeated_designs"] = f"{int(repeated.sum())} repeated replicate(s) counted once"
    first = ["design_id", "replicate"]
    baseline = concat("baseline")
    # designs that share their no-exchange runs (same city and behaviour) share one copy of
    # them: each design knows its baseline by id
    designs["baseline_id"] = designs.design_id.map(
        baseline.drop_duplicates("design_id").set_index("design_id").baseline_id
    )
    baseline = baseline.iloc[:, baseline.columns.get_loc("replicate") :]
    # P(best) and P(gain > 0) for every sweep: over seeds, or over posterior draws
    per_design, ranks = replicate_ranking(summary)
    if "draw" not in summary:
        per_design, ranks = per_design.drop(columns=list(POSTERIOR_COLUMNS)), pd.DataFrame()
    designs = designs.merge(per_design, on="design_id", how="left")
    timeseries = concat("timeseries").drop_duplicates([*first, "month"])
    designs["cost_present_value"] = designs.design_id.map(
        present_costs(timeseries, discount_rate(meta))
    )
    tables = SweepTables(
        timeseries=with_own_trend(timeseries, ["design_id", "replicate"]),
        baseline=with_own_trend(
            baseline.drop_duplicates(["baseline_id", "replicate", "month"]),
            ["baseline_id", "replicate"],
        ),
        summary=summary,
        designs=designs,
        effects=effects_table(concat("effects").drop_duplicates([*first, "kind", "outcome"])),
        comparisons=comparisons,
        departments=concat("departments").drop_duplicates([*first, "month", "department"]),
        department_ties=jobs[0]["department_ties"],
        levers=levers,
        meta=meta,
        ranks=ranks,
    )
    tables.readiness = readiness_table(tables.departments)
    tables.designs.insert(
        1, "label", tables.designs.design_id.map(label_designs(tables.designs, tables.levers))
    )
    return tables


def ranked(tables: SweepTables) -> pd.DataFrame:
    """Designs ordered by rank (1 = largest mean gain), ties by cost."""
    return tables.designs.sort_values(["rank", "cost_mean", "design"]).reset_index(drop=True)


def best_design(tables: SweepTables) -> str:
    """design_id of the design with the largest mean gain."""
    return str(ranked(tables).iloc[0]["design_id"])


def horizon_months(tables: SweepTables) -> int:
    return int(tables.timeseries["month"].max())
