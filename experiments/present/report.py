"""A one-file HTML report of a sweep (or of one design) for readers who do not read code.

Gains are shown in index points (the service index runs from 0 to 1; one point is 0.01), people
as real Jakarta staff (whole numbers) and every amount of money in IDR billion (the tables carry
IDR million), undiscounted or as a present value at the sweep's `discount_rate`. The page opens
with what to do: the design to choose at each budget, the cheapest that reaches the target and
the efficient designs. Every statement of
a difference rests on a 95% interval shown in the same report: a design is called best, efficient
or better only when the interval of the paired differences excludes zero. Figures are referenced
by relative path; the page has inline CSS and no scripts or external assets.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

import pandas as pd

from experiments.analysis.intervals import interval_side
from experiments.analysis.tables import (
    SweepTables,
    best_design,
    discount_rate,
    horizon_months,
    ranked,
)
from experiments.jobs.outputs import atomic_write_text
from experiments.present import words
from experiments.present.advice import recommendation
from experiments.present.channels import channels, readiness
from experiments.present.figures import MAX_BARS, PLOTS, shown_designs
from experiments.present.labels import design_labels, practice_name, pretty
from experiments.present.markup import figure_block, html_page, paragraph, section
from experiments.present.scale import caveat
from experiments.study.levers import LEVERS, format_value, short_value
from experiments.study.outcomes import EFFECTS, OUTCOMES, POINTS
from sim.organisation import packaged_file
from sim.pairing import FINAL_YEAR
from sim.rules import score_points_per_index_point
from sim.trend import own_months, packaged_trend

#: Meta keys the "What was run" sentences already use.
_USED_META = {
    "horizon_months", "replicates", "scale", "seeds", "target_gain", "real_staff",
    "simulated_staff", "provenance", "failed_jobs", "folder", "experiment",
    "cost_per_staff_month", "jobs", "posterior", "organisation", "discount_rate", "optimiser_pick",
}  # fmt: skip


def banners(tables: SweepTables) -> str:
    """Warnings a reader must see first: missing jobs, a scaled-down city."""
    parts = []
    failed = tables.meta.get("failed_jobs")
    if failed:
        items = "".join(f"<li>{escape(str(f))}</li>" for f in failed)
        parts.append(
            '<div class="warning"><strong>Incomplete sweep.</strong> These jobs failed or did '
            "not finish and are not in this report; run the same command again to retry them:"
            f"<ul>{items}</ul></div>"
        )
    scale = float(tables.meta.get("scale", 1.0))
    if scale < 1:
        parts.append(
            '<div class="warning"><strong>Smoke run at reduced scale.</strong> '
            + escape(
                f"{tables.meta.get('simulated_staff', 0):,} simulated people stood for "
                f"{tables.meta.get('real_staff', 0):,} (scale {scale:g}): staff and costs are "
                "real, gains noisier and smaller than at full scale; quote full-scale runs only."
            )
            + (
                "<details><summary>How much smaller</summary>"
                + paragraph(caveat(scale))
                + "</details>"
                if caveat(scale)
                else ""
            )
            + "</div>"
        )
    return "\n".join(parts)


def what_was_run(tables: SweepTables) -> str:
    """Plain sentences on horizon, replicates, scale and levers, then the other meta facts."""
    meta, sc = tables.meta, tables.designs
    h = int(meta.get("horizon_months", horizon_months(tables)))
    reps = int(meta.get("replicates", sc["n"].max()))
    seeds = f" ({meta['seeds']})" if "seeds" in meta else ""
    designs = "The exchange design" if len(sc) == 1 else f"Each of the {len(sc)} exchange designs"
    times = "once" if reps == 1 else f"{reps} times with different random seeds{seeds}"
    parts = [
        paragraph(
            f"{designs} below was simulated for {h} months ({h / 12:g} years), {times}. "
            "Every run was paired with a run of the same simulated city without any exchange, "
            "using the same seed; the gain of a design is the difference between the two. That "
            "no-exchange run is the reference of every design; it is not listed as a design."
        )
    ]
    if "posterior" in meta:
        post = meta["posterior"]
        parts.append(
            paragraph(
                f"Replicate r drew the behavioural parameters {', '.join(post['parameters'])} "
                f"from draw r of the calibrated posterior {post['path']} ({post['draws']} draws, "
                f"sha256 {post['sha256'][:12]}…): every design and its no-exchange run used the "
                "same draw with the same seed, so differences between designs are paired on "
                "parameters as well as on chance."
            )
        )
    if "real_staff" in meta:
        real, simulated = meta["real_staff"], meta["simulated_staff"]
        whom = meta.get("organisation", f"the organisation '{meta.get('scenario')}'")
        if simulated == real:
            text = f"The model simulated every one of the {real:,} staff of {whom}."
        else:
            text = (
                f"The model simulated {simulated:,} people standing for the {real:,} staff of "
                f"{whom} (scale {float(meta['scale']):g})."
            )
        text += (
            " Cohort sizes, staff sent and costs are real people and real money: a cohort of 10 "
            "is 10 of the city's staff, at IDR "
            f"{meta.get('cost_per_staff_month', 0):g} million per staff-month in Tokyo."
        )
        parts.append(paragraph(text))
    if tables.levers:
        items = []
        for k in tables.levers:
            values = sorted(sc[k].unique(), key=lambda v: (isinstance(v, str), v))
            said = LEVERS[k].words if k in LEVERS else k.replace("_", " ")
            items.append(f"<li>{escape(said)}: {escape(', '.join(map(format_value, values)))}</li>")
        parts.append(paragraph("The designs differ in:"))
        parts.append("<ul>" + "".join(items) + "</ul>")
        parts.append(paragraph("Every other setting was the same for every design."))
    pick = meta.get("optimiser_pick")
    if pick:
        params = ", ".join(
            f"{k}={short_value(v) if isinstance(v, float) else v}"
            for k, v in pick["best_params"].items()
        )
        value = pick.get("best_value")
        value = f"{value:+.2f} index points" if isinstance(value, int | float) else "not recorded"
        parts.append(
            paragraph(
                f"The optimiser's own pick (optimization_results.yaml): {params}, with a mean "
                f"gain of {value} (its objective: a trial's mean gain over its replicates, the "
                "same mean as the tables'). The tables rank every trial with its interval; a "
                "trial ranked first by a small margin may not be told apart from the next."
            )
        )
    points = float(meta.get("target_gain", 0.005)) * POINTS
    target = f"{points:g} index point" + ("" if points == 1 else "s")
    parts.append(
        paragraph(
            "Gains are in index points: the service index runs from 0 to 1 and one point is "
            f"0.01. The headline gain is the mean over the final {FINAL_YEAR} months. Months to "
            f"target is the first month the gain reached {target}."
        )
    )
    extra = {k: v for k, v in meta.items() if k not in _USED_META}
    if extra:
        rows = "".join(
            f'<dt>{escape(str(k).replace("_", " "))}</dt><dd class="code">{escape(str(v))}</dd>'
            for k, v in extra.items()
        )
        parts.append(f"<h3>Run details</h3>\n<dl>{rows}</dl>")
    return section("What was run", *parts)


#: Keys of meta['posterior'] (the run's posterior, with what its draws file's metadata says)
#: the behaviour sentence reads besides path, draws and parameters (which every run under a
#: posterior records), each optional: `packaged` (bool: the posterior the project ships; else
#: told by its path) and these lists of parameter names, with what the sentence says of them.
POSTERIOR_ROLES = {
    "calibrated": "calibrated to evidence",
    "from_ranges": "not calibrated but drawn from their stated plausible ranges, as uncertainty",
}


#: Where the packaged data live: a posterior file there is the packaged one.
PACKAGE = packaged_file("")


def _packaged(post: dict) -> bool:
    if "packaged" in post:
        return bool(post["packaged"])
    path = post.get("path")
    return bool(path) and Path(str(path)).resolve().is_relative_to(PACKAGE)


def behaviour_sentence(tables: SweepTables) -> str:
    """Under what behaviour of the staff the numbers were computed: posterior draws (the
    packaged posterior or a user's file, naming the parameters calibrated and those drawn from
    their plausible ranges when its metadata says so), or the assumed defaults (naming behaviour
    settings the command line changed)."""
    command = str(tables.meta.get("provenance", {}).get("command", ""))
    changed = [w.lstrip("+~") for w in command.split() if w.lstrip("+~").startswith("behavior")]
    given = f", with {' '.join(changed)} from the command line" if changed else ""
    post = tables.meta.get("posterior")
    if tables.under_posterior or post:
        post = post if isinstance(post, dict) else {}
        source = (
            "the packaged posterior"
            if _packaged(post)
            else f"the posterior file {post['path']}"
            if post.get("path")
            else "a posterior file"
        )
        if isinstance(post.get("draws"), int):
            source += f" ({post['draws']:,} draws)"
        roles = [
            f"{words.joined(post[k])} {said}" for k, said in POSTERIOR_ROLES.items() if post.get(k)
        ]
        if roles:
            what = f" ({'; '.join(roles)})"
        elif post.get("parameters"):
            what = f" ({words.joined(post['parameters'])})"
        else:
            what = ""
        return (
            f"Behaviour: drawn from {source}. Each replicate took its behavioural "
            f"parameters{what} from one draw, the same draw for every design and its "
            "no-exchange run (see 'What was run'); every other behaviour setting is the "
            f"configured one{given}."
        )
    return (
        "Behaviour: assumed defaults (posterior=none). The behavioural parameters are the "
        f"configured settings{given}, each an assumption or estimate with its source in "
        "docs/model.md §9, not drawn from a posterior: the intervals describe the seeds only, "
        "not the uncertainty of these parameters."
    )


def headline(tables: SweepTables) -> str:
    """The design with the largest mean gain (said to be the dearest when it is) with its gain,
    interval, P(best), P(gain > 0) and cost, said only as strongly as the intervals allow
    (`words.gain_words`): which comparisons with it are resolved, which designs' gains cannot be
    told apart from zero or are losses."""
    labels, d = design_labels(tables), ranked(tables)
    best = d.iloc[0]
    span = f"{horizon_months(tables) / 12:g} years"
    name = labels[best.design_id]
    present = best.get("cost_present_value", math.nan)
    cost = (
        f"Cost: IDR {words.billion(best.cost_mean)} billion over {span}"
        + (
            f" (present value IDR {words.billion(present)} billion)"
            if math.isfinite(present)
            else ""
        )
        + f" for {words.people(best.staff_sent_mean)} staff sent."
    )
    gain = words.gain_words(
        best.gain_mean, best.gain_ci_low, best.gain_ci_high, words.shares_note(best, len(d) > 1)
    )
    behaviour = paragraph(behaviour_sentence(tables), "note")
    if len(d) == 1:
        lead = f"{name}: after {span}, compared with no exchange, it {gain}. {cost}"
        return section("Headline", f'<p class="lead">{escape(lead)}</p>', behaviour)
    side = words.sides(d.gain_ci_low, d.gain_ci_high)
    dearest = math.isclose(best.cost_mean, d.cost_mean.max())
    lead = (
        f"{name} had the largest mean gain{' and is the dearest design' if dearest else ''}: "
        f"after {span}, compared with no exchange, it {gain}. {words.resolved_words(d, labels)}"
    )
    if not (side > 0).any():
        lead = (
            f"No design clearly raised the city service index after {span} (no gain's 95% "
            f"interval lies wholly above zero). {lead}"
        )
    texts = [cost]
    tied = d[d.tied_with_best]
    cheapest = tied.sort_values("cost_mean").iloc[0] if len(tied) else None
    if cheapest is not None and cheapest.cost_mean < best.cost_mean:
        texts.append(
            f"The cheapest design not resolved from it is {labels[cheapest.design_id]}: "
            f"{words.points(cheapest.gain_mean)} index points "
            f"({words.ci_text(cheapest.gain_ci_low, cheapest.gain_ci_high)}) for IDR "
            f"{words.billion(cheapest.cost_mean)} billion."
        )
    others = side.iloc[1:]
    if (side > 0).any() and (others == 0).any():
        ids = d.design_id[others.index[others == 0]]
        texts.append(
            f"{len(ids)} design(s) had a gain that cannot be told apart from zero (95% "
            f"interval includes zero): {words.listed(ids, labels)}."
        )
    if (others < 0).any():
        ids = d.design_id[others.index[others < 0]]
        texts.append(
            f"{len(ids)} design(s) lowered the city service index (a loss: the whole 95% "
            f"interval below zero): {words.listed(ids, labels)}."
        )
    parts = [f'<p class="lead">{escape(lead)}</p>', paragraph(" ".join(texts))]
    return section("Headline", *parts, behaviour)


def posterior_section(tables: SweepTables) -> str:
    """Under posterior draws: each design's probability of being best and of a gain above
    zero, and the 90% posterior interval of its gain (empty otherwise)."""
    if not tables.under_posterior:
        return ""
    labels = design_labels(tables)
    d = tables.designs.sort_values(["p_best", "gain_mean"], ascending=False)
    draws = int(d.paired_replicates.iloc[0])
    top = d.iloc[0]
    mc = math.sqrt(max(top.p_best * (1 - top.p_best), 1e-12) / draws)
    lead = (
        f"Under the calibrated posterior, {labels[top.design_id]} was the best design on "
        f"{top.p_best:.0%} of {draws} draws (Monte Carlo standard error {mc:.0%}); its gain "
        f"was above zero on {top.p_gain_positive:.0%} of draws and lay between "
        f"{words.points(top.gain_p05)} and {words.points(top.gain_p95)} index points on 90% of "
        "them."
    )
    if len(d) == 1:
        lead = (
            f"Under the calibrated posterior, the gain of {labels[top.design_id]} was above zero "
            f"on {top.p_gain_positive:.0%} of {draws} draws and lay between "
            f"{words.points(top.gain_p05)} and {words.points(top.gain_p95)} index points on 90% "
            "of them."
        )
    head = (
        '<tr><th class="design">Design</th><th>P(best)</th><th>P(gain &gt; 0)</th>'
        "<th>Mean gain (index points)</th><th>90% of draws (index points)</th></tr>"
    )
    rows = "".join(
        f'<tr><td class="design">{escape(labels[r.design_id])}</td><td>{r.p_best:.0%}</td>'
        f"<td>{r.p_gain_positive:.0%}</td><td>{words.points(r.gain_mean)}</td>"
        f"<td>{words.points(r.gain_p05)} to {words.points(r.gain_p95)}</td></tr>"
        for r in d.itertuples()
    )
    note = paragraph(
        "Each replicate is one posterior draw of the behavioural parameters with its own seed, "
        "the same for every design. P(best) is the share of draws on which a design had the "
        "largest gain in the final year; P(gain > 0) the share on which its gain was above "
        "zero; the 90% range holds the middle 90% of its gains over draws (parameter and chance "
        "uncertainty together). These shares are estimated from "
        f"{draws} draws: with few draws they are rough (the standard error of a share p is "
        "√(p(1−p)/draws)). The gains' intervals describe these draws of one calibration (the "
        "same for the same seed, whatever the number of workers): a calibration with another "
        "seed, more particles or other targets can move the gain by more than these intervals, "
        "since they leave out how the posterior itself varies between calibrations; quote a "
        "size from many replicates, and a ranking sooner than a size.",
        "note",
    )
    table = f"<table>\n<thead>{head}</thead>\n<tbody>{rows}</tbody>\n</table>"
    return section("Under calibrated uncertainty", f'<p class="headline">{escape(lead)}</p>',
                   table, note)  # fmt: skip


def ranked_table(tables: SweepTables) -> str:
    """HTML table of the designs, best first, in planner units."""
    labels = design_labels(tables)
    several = len(tables.designs) > 1
    head = (
        '<tr><th>Rank</th><th class="design">Design</th>'
        "<th>Gain (index points, 95% CI)</th>"
        + ("<th>Minus the best (paired, 95% CI)</th>" if several else "")
        + "<th>Staff sent</th><th>Staff-months in Tokyo</th><th>Cost (IDR billion)</th>"
        f"<th>Present value of costs (IDR billion, {discount_rate(tables.meta):.0%})</th>"
        "<th>Cost per index point (IDR billion)</th><th>Months to target (median; share "
        "reached)</th></tr>"
    )
    rows = []
    for r in ranked(tables).itertuples():
        design = escape(labels[r.design_id])
        if r.efficient and several:
            design += '<span class="tag">efficient</span>'
        if not r.gain_clear:
            loss = interval_side(r.gain_ci_low, r.gain_ci_high) < 0
            design += f'<span class="tag">{"a loss" if loss else "no clear gain"}</span>'
        elif r.tied_with_best:
            design += '<span class="tag">tied with the best</span>'
        if r.gain_clear and r.no_clear_gain_over:
            cheaper = labels[r.no_clear_gain_over]
            design += (
                f'<br><span class="note">not clearly above the cheaper {escape(cheaper)}</span>'
            )
        mtt = r.months_to_target_median
        reached = f"{r.reached_target_share:.0%} reached"
        numbers = [
            f"{words.number(r.gain_mean * POINTS)} "
            f"({words.ci_range(r.gain_ci_low, r.gain_ci_high)})"
        ]
        if several:
            numbers.append(
                "—"
                if r.rank == 1 and r.diff_vs_best_mean == 0
                else f"{words.points(r.diff_vs_best_mean, True)} "
                f"({words.ci_range(r.diff_vs_best_ci_low, r.diff_vs_best_ci_high)})"
            )
        numbers += [
            words.people(r.staff_sent_mean),
            words.people(r.staff_months_abroad_mean),
            words.billion(r.cost_mean),
            words.billion(getattr(r, "cost_present_value", math.nan)),
            "no clear gain" if pd.isna(r.cost_per_point) else words.billion(r.cost_per_point),
            f"{'not reached' if pd.isna(mtt) else format_value(float(mtt))} ({reached})",
        ]
        cells = [f"<td>{int(r.rank)}</td>", f'<td class="design">{design}</td>']
        cells += [f"<td>{escape(v)}</td>" for v in numbers]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    ranks = (
        f"Rank 1 has the largest mean gain over the final {FINAL_YEAR} months (which evens out "
        "months when a cohort happens to be away). 'Minus the best' is the paired difference "
        "from the rank-1 design on the same seeds: an interval that includes zero means the two "
        "cannot be told apart with this many replicates. "
        if several
        else f"The gain is the mean over the final {FINAL_YEAR} months (which evens out months "
        "when a cohort happens to be away). "
    )
    note = paragraph(
        ranks + "Staff sent and staff-months count real "
        "Jakarta staff over the whole horizon; cost is its sum, the "
        f"{words.present_value_words(tables)}. Cost "
        "per index point is the mean (undiscounted) cost divided by the mean gain, shown only "
        "when the gain is clear. Months to target is the median over "
        "replicates, counting a replicate that never reached the target as later than any that "
        "did: 'not reached' means that half or more never reached it.",
        "note",
    )
    table = f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    return section("Designs ranked by gain" if several else "The design", table, note)


def _effect_rows(effects: pd.DataFrame, level, diff, name) -> str:
    """Rows: outcome, no-exchange level, level with the design, difference (95% CI)."""
    rows = []
    for r in effects.itertuples():
        low, high = r.difference_ci_low, r.difference_ci_high
        tag = words.clear_tag(low, high)
        ci = "no CI" if not math.isfinite(low) else f"{diff(low)} to {diff(high)}"
        rows.append(
            f"<tr><td class='design'>{escape(name(r.outcome))}</td>"
            f"<td>{escape(level(r.baseline_mean))}</td><td>{escape(level(r.value_mean))}</td>"
            f"<td>{escape(diff(r.difference_mean, True))} ({escape(ci)}){tag}</td></tr>"
        )
    return "\n".join(rows)


def _signed(fmt: str):
    """A formatter for levels and (with sign=True) differences."""
    return lambda x, sign=False: format(x, ("+" if sign else "") + fmt)


#: How the report names the outcomes of an effect (study.outcomes.Effect.names).
NAMES = {"domain": pretty, "practice": practice_name}


def meaning(tables: SweepTables) -> str:
    """What the best design's gain means: where it came from (`channels`), every effect of
    `study.outcomes.EFFECTS` (per service domain, staff proficient per practice, departments where a
    practice is standard procedure), the departments closest to standard procedures
    (`readiness`) and every outcome."""
    best = best_design(tables)
    label = design_labels(tables)[best]
    eff = tables.effects[tables.effects.design_id == best]
    blocks = [channels(tables)]
    rank = " (rank 1)" if len(tables.designs) > 1 else ""
    if not eff.empty:
        blocks.append(
            paragraph(
                f"For {label}{rank}: what changed compared with the same city without the "
                "exchange, mean of the replicates with the 95% interval of the paired "
                "difference. 'Not clear' marks a difference whose interval includes zero."
            )
        )
    for kind, effect in EFFECTS.items():
        part = eff[eff.kind == kind].sort_values("difference_mean", ascending=False)
        if part.empty:
            continue
        blocks.append(f"<h3>{escape(effect.heading)}</h3>")
        if effect.none and not part[["value_mean", "baseline_mean"]].to_numpy().any():
            blocks.append(paragraph(effect.none))
            continue
        level = _signed(effect.level_format)
        diff = (lambda x, sign=False: words.points(x, sign)) if effect.points else level
        head = (
            f"<tr><th class='design'>{escape(effect.names.capitalize())}</th><th>No exchange"
            f"</th><th>With the design</th><th>Difference ({escape(effect.unit)}), 95% CI</th></tr>"
        )
        blocks.append(
            f"<table>\n<thead>{head}</thead>\n<tbody>\n"
            + _effect_rows(part, level, diff, NAMES[effect.names])
            + "\n</tbody>\n</table>"
        )
    blocks.append(readiness(tables, best))
    blocks.append(all_outcomes(tables, best))
    return section("What the gain means", *(b for b in blocks if b)) + planner_units_section(tables)


def _value(x: float, outcome) -> str:
    """An outcome's value as the report shows it: index points, IDR billion, a whole number of
    things (people, visits, departments), else three decimals (an index, a share)."""
    if not math.isfinite(x):
        return "n/a"
    if outcome.points:
        return f"{x * POINTS:.2f}"
    if outcome.money:
        return words.billion(x)
    if outcome.count or abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.3f}"


#: How the report names the unit of an outcome shown in IDR billion
#: (`study.outcomes.Outcome.money`).
MONEY = "IDR billion"


def all_outcomes(tables: SweepTables, did: str) -> str:
    """Every outcome of `study.outcomes.OUTCOMES` that designs average, for design `did`."""
    row = tables.designs.set_index("design_id").loc[did]
    rows = []
    for name, outcome in OUTCOMES.items():
        if outcome.summary != "mean" or f"{name}_mean" not in row:
            continue
        low, high = row[f"{name}_ci_low"], row[f"{name}_ci_high"]
        if outcome.count:  # a count is never negative
            low, high = max(low, 0.0), max(high, 0.0)
        ci = (
            "no CI"
            if not math.isfinite(low)
            else (f"{_value(low, outcome)} to {_value(high, outcome)}")
        )
        said = f"{outcome.words} ({MONEY})" if outcome.money else outcome.words
        rows.append(
            f"<tr><td class='design'>{escape(said)}</td>"
            f"<td>{escape(_value(row[f'{name}_mean'], outcome))}</td>"
            f"<td>{escape(ci)}</td></tr>"
        )
    head = "<tr><th class='design'>Outcome</th><th>Mean</th><th>95% CI</th></tr>"
    return (
        "<h3>Every outcome (mean of the replicates)</h3>\n"
        f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def figure_blocks(tables: SweepTables, figures: dict[str, Path], folder: Path) -> str:
    """Each figure with its heading and "how to read this" caption; paths relative to `folder`."""
    blocks = []
    for name, png in figures.items():
        heading, caption = PLOTS[name].heading, PLOTS[name].caption
        if name == "index_curves" and len(shown_designs(tables.designs)) < len(tables.designs):
            caption += " Only the five best designs and the lowest-ranked one are drawn."
        if name == "gain_channels" and len(tables.designs) > MAX_BARS:
            caption += (
                f" Only the {MAX_BARS - 1} best designs and the lowest-ranked one are drawn "
                "(below the dotted line); the table under 'What the gain means' has them all."
            )
        blocks.append(figure_block(heading, caption, png, folder))
    return section("Figures", *blocks)


def caveats(tables: SweepTables) -> str:
    reps = int(tables.meta.get("replicates", tables.designs["n"].max()))
    items = [
        "Every parameter of the model (how fast staff learn, forget, share and leave, what the "
        "exchange costs, how practices raise service quality) is an assumption or an estimate; "
        "each is documented with its unit, range and source in docs/model.md. The results show "
        "what follows from those assumptions; they are not a forecast.",
        "Gains are differences against the run without any exchange that used the same random "
        "seeds, so they are paired: chance differences between simulated cities cancel out.",
        (
            f"Each of the {reps} replicates drew the calibrated behavioural parameters from the "
            "posterior, so the 95% confidence intervals are of the mean gain over posterior "
            "draws; how far the gain itself varies with the parameters is the 90% range under "
            "'Under calibrated uncertainty'. Parameters that were not calibrated keep their "
            "configured values."
            if tables.under_posterior
            else f"The 95% confidence intervals are across the {reps} replicates (random seeds) "
            "only; they do not include the uncertainty of the parameters themselves "
            "(experiments/calibrate.py and posterior=... carry a calibrated posterior into the "
            "comparison)."
        ),
        "Costs are the direct program costs for real staff (staff-months in Tokyo and expert "
        "visits at assumed unit prices, constant over the run), summed over the whole period "
        f"and also given as a {words.present_value_words(tables)}. A budget's yearly cost is the "
        "whole "
        "period's cost spread evenly over its years; the gains are not discounted.",
    ]
    if float(tables.meta.get("scale", 1.0)) < 1:
        items.append(
            "The model ran on a scaled-down city; compare designs only with others run at the "
            "same scale, and rerun at full scale (scenario.scale=1.0) before quoting numbers."
        )
    return section("Caveats", "<ul>" + "".join(f"<li>{escape(t)}</li>" for t in items) + "</ul>")


def provenance_block(tables: SweepTables) -> str:
    """Command, date, commit, code digest and package versions of this report."""
    prov = tables.meta.get("provenance", {})
    if not prov:
        return ""
    packages = ", ".join(f"{k} {v}" for k, v in prov.get("packages", {}).items())
    items = {
        "command": prov.get("command"),
        "run": prov.get("run_at"),
        "aggregated": prov.get("aggregated_at"),
        "git commit": prov.get("git_commit") or "not a git checkout",
        "code digest": prov.get("code_digest"),
        "packages": packages,
        "jobs": f"{len(prov.get('jobs', {}))} (keys in aggregate/provenance.json)",
    }
    rows = "".join(
        f'<dt>{escape(k)}</dt><dd class="code">{escape(str(v))}</dd>' for k, v in items.items()
    )
    note = paragraph(
        "The code digest covers the model's code and packaged data by contents; a job's results "
        "are reused only when its configuration, input files, code and package versions are "
        "unchanged.",
        "note",
    )
    return section("Provenance", f"<dl>{rows}</dl>", note)


def planner_units_section(tables: SweepTables) -> str:
    """The best design's gain in units a planner knows, with the conversions' assumptions and
    ranges, and the no-exchange city following Jakarta's own trend."""
    best = tables.designs.iloc[0]
    units = words.planner_units_words(best)
    if not units:
        return ""
    trend = packaged_trend()
    index = float(tables.summary.baseline_final_index.mean())
    low, high = trend.yearly_range
    fast = own_months(best.gain_mean, index, trend, high)
    base = tables.baseline
    end = base[base.month == base.month.max()]
    with_trend = float(end.service_index_with_trend.mean())
    return section(
        "In units Jakarta reports",
        paragraph(
            f"The best design's gain, {words.points(best.gain_mean, True)} index points, is about "
            f"{units}. Index points are converted by assuming that an index point closes the same "
            "share of the remaining gap to a perfect score as Ombudsman RI's compliance score: "
            f"today's no-exchange index ({index:.3f}) stands for the province's latest score "
            f"({trend.anchor_score:g}, {trend.anchor_year}), so one index point is "
            f"{words.number(float(own_months(0.01, index, trend)), 1)} months and "
            f"{score_points_per_index_point(trend.anchor_score, index):.2f} Ombudsman points (an "
            "assumption: the two measure different things). Jakarta's own recent improvement is "
            f"the {low:.1%} of its gap to a perfect score that the Ombudsman score closed each "
            f"year from 2017 to 2021; at the {high:.0%} a year of 2015–2017, the catch-up years "
            f"of the first surveys, the gain would be {fast:+.1f} months."
        ),
        paragraph(
            "The model's service index leaves this own improvement out, so that gains are pure "
            "exchange effects. Added as an outside trend (the same for a design and its "
            "no-exchange run with the same seed, varying from year to year and seed to seed), "
            f"the no-exchange city would reach an index of {with_trend:.3f} by the final month "
            "(dotted line in the service-index figure; column service_index_with_trend of the "
            "timeseries and baseline tables). That trend is an extrapolation of four survey "
            "values from many causes, whose method changed after 2019, not a forecast.",
            "note",
        ),
    )


def write_report(tables: SweepTables, figures: dict[str, Path], out_path: Path, title: str) -> Path:
    """Write the HTML report to `out_path` atomically and return its path."""
    out_path = Path(out_path)
    body = "\n".join(
        part
        for part in (
            banners(tables),
            recommendation(tables),  # the answer first, in view without scrolling
            headline(tables),
            what_was_run(tables),
            posterior_section(tables),
            ranked_table(tables),
            meaning(tables),
            figure_blocks(tables, figures, out_path.parent),
            caveats(tables),
            provenance_block(tables),
        )
        if part
    )
    atomic_write_text(out_path, html_page(title, body))
    return out_path
