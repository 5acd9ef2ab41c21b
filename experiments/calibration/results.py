"""What a calibration leaves: the generations, the posterior summarised and drawn, the
posterior predictive check, the figures and the report.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from experiments.calibration.sampling import Calibration
from experiments.calibration.targets import Z90
from experiments.jobs.outputs import atomic_write_text, save_figure, write_table
from experiments.present.markup import figure_block, html_page, paragraph, section
from experiments.study.posterior import DRAWS_FILE

BLUE, ORANGE, GREY = "#0072B2", "#D55E00", "#6E6E6E"


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
        smc = gen[gen.method == "ABC-SMC"]
        fig = Figure(figsize=(10, 3.2), layout="constrained")
        left, mid, right = fig.subplots(1, 3)
        label = f"ABC-SMC (scenario.scale {smc.scale.iloc[0]:g})"
        for ax, column in ((left, "temperature"), (mid, "acceptance"), (right, "ess")):
            ax.plot(smc.generation, smc[column], "o-", color=BLUE, label=label)
            if len(smc) < len(gen):  # the correction on the city itself (multifidelity)
                last = gen.iloc[-1]
                ax.plot([last.generation], [last[column]], "s", color=ORANGE,
                        label=f"the city itself, scale {last.scale:g} ({int(last.samples)} "
                              "runs, weighted)")  # fmt: skip
            ax.set_xlabel("Generation")
            ax.set_xticks(list(gen.generation))
        left.axhline(1.0, color=GREY, ls="--")
        left.set_yscale("log")
        left.set_title("Temperature (1 = exact posterior)")
        mid.set_title("Acceptance rate")
        mid.set_ylim(0, 1)
        right.axhline(settings["population"], color=GREY, ls="--")
        right.set_title("Effective sample size")
        if len(smc) < len(gen):
            fig.legend(*right.get_legend_handles_labels(), loc="outside lower center", ncols=2)
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
    "model; with a smaller city (the table's scale) that is the smaller city's posterior, and a "
    "last row of importance sampling on the city itself corrects it; the acceptance rate and "
    "the effective sample size (dashed: the population) show how hard each generation was and "
    "how well its weights are spread.",
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
        "under it. Priors: uniform over the ranges below, times the likelihood of the targets "
        "that are functions of the parameters themselves (no simulation needed)."
        + _proposals(settings)
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


def _proposals(settings: dict) -> str:
    """What the proposal generations simulated, when not the calibrated city itself."""
    share = settings.get("proposal_scale", 1.0)
    if share >= 1.0:
        return ""
    return (
        f" Multifidelity: ABC-SMC ran on the city at {share:g} of its scale (cheaper; its "
        "statistics differ), and its posterior only proposed parameters: "
        f"{settings.get('city_runs')} runs of the calibrated city itself, each weighed by its "
        "exact posterior density over its proposal density (importance sampling), give the "
        "posterior below; the last row of the generations says how many of them carry weight "
        "(effective sample size)."
    )
