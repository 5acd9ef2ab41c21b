"""Where a design's gain comes from, in the report: the staff sent, the colleagues they taught and
standard procedures (`sim.pairing`'s channels), with counts of people and procedures, and the
departments readiest to make a practice standard procedure.
"""

from __future__ import annotations

import math
from html import escape

import pandas as pd

from experiments.analysis.tables import (
    SweepTables,
    best_design,
    has_channels,
    ranked,
)
from experiments.present import words
from experiments.present.labels import department_name, design_labels, pretty
from experiments.present.markup import paragraph
from sim.pairing import CHANNELS, FINAL_YEAR

#: Counts of the final month the report gives beside the gain's parts: column -> (words for a
#: table row, words for a sentence, digits).
COUNTS = {
    "colleagues_proficient": (
        "Staff never trained by the program, proficient in a Tokyo practice (real staff, "
        "final month)",
        "staff who were never trained by the program were proficient in a Tokyo practice",
        0,
    ),
    "colleagues_proficient_without_sops": (
        "of whom learnt it from the trained and their colleagues: the same, without standard "
        "procedures (real staff, final month)",
        "of them would have been proficient without standard procedures (having learnt from the "
        "trained and their colleagues rather than on the job under an SOP)",
        0,
    ),
    "trained_proficient": (
        "Staff trained by the program, still proficient (real staff, final month)",
        "staff trained by the program were still proficient",
        0,
    ),
    "departments_with_sop": (
        "Departments with a Tokyo practice as SOP (final month)",
        "departments had a Tokyo practice as standard procedure",
        1,
    ),
}


NOT_DECOMPOSED = (
    "The gain was not decomposed by channel: this sweep ran with channels=false. Run the same "
    "command with channels=true (the default; two more runs of each replicate) to see how much "
    "of it came from the staff trained, from their colleagues and from standard procedures."
)


def _estimate(row: pd.Series, name: str) -> tuple[float, float, float]:
    """Mean and 95% interval of outcome `name` in a designs row (NaN where absent)."""
    return tuple(float(row.get(f"{name}_{k}", float("nan"))) for k in ("mean", "ci_low", "ci_high"))


def _count(x: float, digits: int) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:,.{digits}f}"


def _count_ci(low: float, high: float, digits: int) -> str:
    """A count's 95% interval, cut at zero (a count is never negative)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no CI"
    return f"{_count(max(low, 0.0), digits)} to {_count(max(high, 0.0), digits)}"


def no_exchange_final(tables: SweepTables, did: str, column: str) -> float:
    """Mean over design `did`'s replicates of `column` in the final month of the paired
    no-exchange runs (NaN when the baseline table lacks it)."""
    base = tables.baseline
    if base is None or column not in base:
        return float("nan")
    bid = tables.designs.set_index("design_id").loc[did, "baseline_id"]
    seeds = tables.summary.loc[tables.summary.design_id == did, "seed"].unique()
    base = base[(base.baseline_id == bid) & base.seed.isin(seeds)]
    return float(base.loc[base.month == base.month.max(), column].mean())


def channel_sentence(tables: SweepTables, did: str, label: str) -> str:
    """The design's gain and, with channels, its parts in one sentence; then its final-month
    counts of proficient staff and departments with an SOP."""
    row = tables.designs.set_index("design_id").loc[did]
    mean, low, high = _estimate(row, "gain")
    gain = f"{words.points(mean)} index points ({words.ci_text(low, high)})"
    if has_channels(tables.designs) and math.isfinite(row.get("gain_travellers_mean", math.nan)):
        t, c, o = (words.points(row[f"{name}_mean"], True) for name in CHANNELS)
        text = (
            f"Under {label}, the gain of {gain} came {t} from the staff trained by the program "
            f"themselves, {c} from colleagues who learnt from them and {o} from standard "
            "procedures departments adopted (index points; the parts add up to the gain)."
        )
    else:
        text = f"Under {label}, the gain over no exchange was {gain}."
    counts = []
    for name, (_, said, digits) in COUNTS.items():
        m, lo, hi = _estimate(row, name)
        if not math.isfinite(m):
            continue
        without = no_exchange_final(tables, did, name)
        base = ""
        if name != "trained_proficient" and math.isfinite(without):
            base = "; none" if without == 0 else f"; {_count(without, digits)}"
            base += " without the exchange"
        counts.append(f"{_count(m, digits)} {said} ({_count_ci(lo, hi, digits)}{base})")
    if counts:
        text += " In the final month (means with 95% intervals), " + "; ".join(counts) + "."
    return text


def channel_table(tables: SweepTables, did: str) -> str:
    """One design's gain, its parts (with channels) and its final-month counts: mean and 95%
    interval each, in index points and real people."""
    row = tables.designs.set_index("design_id").loc[did]
    rows = []
    names = ["gain", *CHANNELS] if has_channels(tables.designs) else ["gain"]
    for name in names:
        mean, low, high = _estimate(row, name)
        if not math.isfinite(mean):
            continue
        said = "Gain over no exchange" if name == "gain" else "… through " + CHANNELS[name]
        tag = words.clear_tag(low, high) if name != "gain" else ""
        rows.append(
            f"<tr><td class='design'>{escape(said)} (index points)</td>"
            f"<td>{escape(words.points(mean, name != 'gain'))}</td>"
            f"<td>{escape(words.ci_range(low, high))}{tag}</td></tr>"
        )
    for name, (said, _, digits) in COUNTS.items():
        mean, low, high = _estimate(row, name)
        if not math.isfinite(mean):
            continue
        rows.append(
            f"<tr><td class='design'>{escape(said)}</td><td>{escape(_count(mean, digits))}</td>"
            f"<td>{escape(_count_ci(low, high, digits))}</td></tr>"
        )
    head = "<tr><th class='design'>Outcome</th><th>Mean</th><th>95% CI</th></tr>"
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"


def channels_overview(tables: SweepTables) -> str:
    """Every design, best first: mean gain and (with channels) its parts in index points, staff
    never trained but proficient and departments with an SOP in the final month."""
    labels = design_labels(tables)
    points = {"gain": "Gain"}
    if has_channels(tables.designs):
        points |= {"gain_travellers": "Trained staff", "gain_colleagues": "Colleagues",
                   "gain_sops": "SOPs"}  # fmt: skip
    counts = {"colleagues_proficient": "Never trained, proficient (real staff)",
              "departments_with_sop": "Departments with an SOP"}  # fmt: skip
    counts = {c: w for c, w in counts.items() if f"{c}_mean" in tables.designs}
    head = "<tr><th>Rank</th><th class='design'>Design</th>"
    head += "".join(f"<th>{escape(w)} (index points)</th>" for w in points.values())
    head += "".join(f"<th>{escape(w)}</th>" for w in counts.values()) + "</tr>"
    rows = []
    for r in ranked(tables).itertuples():
        row = tables.designs.loc[tables.designs.design_id == r.design_id].iloc[0]
        values = [words.points(row[f"{c}_mean"], c != "gain") for c in points]
        values += [_count(row[f"{c}_mean"], COUNTS[c][2]) for c in counts]
        rows.append(
            f"<tr><td>{int(r.rank)}</td><td class='design'>{escape(labels[r.design_id])}</td>"
            + "".join(f"<td>{escape(v)}</td>" for v in values)
            + "</tr>"
        )
    body = "\n".join(rows)
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def channels(tables: SweepTables) -> str:
    """Where the gain comes from: for the best design (and the reference design, if any) a
    sentence and a table of the gain, its parts and the final-month counts; a table of every
    design; or, without the decomposition, one sentence on how to get it."""
    labels = design_labels(tables)
    several = len(tables.designs) > 1
    shown = [(best_design(tables), " (rank 1)" if several else "")]
    reference = tables.meta.get("reference")
    if reference and reference != shown[0][0]:
        shown.append((reference, " (the reference design)"))
    blocks = ["<h3>Where the gain comes from</h3>"]
    if has_channels(tables.designs):
        blocks.append(
            paragraph(
                "Each replicate's gain is split by channel, adding them in causal order on the "
                "same seed: the staff trained by the program themselves (their absence from "
                "work can make this part negative), then colleagues who learnt from them, then "
                "standard procedures (SOPs) departments adopted on top. The parts add up "
                f"exactly to the gain (mean of the final {FINAL_YEAR} months, index points)."
            )
        )
    else:
        blocks.append(paragraph(NOT_DECOMPOSED))
    for did, role in shown:
        blocks.append(f"<h3>{escape(labels[did] + role)}</h3>")
        blocks.append(paragraph(channel_sentence(tables, did, labels[did])))
        blocks.append(channel_table(tables, did))
    if several:
        blocks.append("<h3>Every design</h3>")
        blocks.append(channels_overview(tables))
    blocks.append(
        paragraph(
            "Means of the replicates. 'Not clear' marks a part whose 95% interval includes "
            "zero. People are real staff at every scale, counted in the final month: staff "
            "never trained by the program (neither in Tokyo nor by visiting experts) but "
            "proficient in at least one Tokyo practice learnt it at home, from colleagues; "
            "intervals of counts are cut at zero.",
            "note",
        )
    )
    return "\n".join(blocks)


#: Departments the report lists in the readiness table.
READINESS_TOP = 10


def readiness(tables: SweepTables, did: str) -> str:
    """The departments of design `did` closest to standard procedures in the final month: the
    READINESS_TOP highest readiness (most advanced pilot as a multiple of its SOP threshold),
    with their SOPs and the share of replicates with one."""
    ready = tables.readiness
    if ready.empty:
        return ""
    ready = ready[ready.design_id == did]
    started = ready[(ready.sop_readiness_mean > 0) | (ready.sops_mean > 0)]
    top = started.sort_values(
        ["sop_readiness_mean", "sop_share", "sops_mean", "department"],
        ascending=[False, False, False, True],
    ).head(READINESS_TOP)
    label = design_labels(tables)[did]
    heading = "<h3>Departments closest to standard procedures (final month)</h3>"
    if top.empty:
        return heading + paragraph(
            f"Under {label}, no department had a pilot of a Tokyo practice under a champion "
            "with authority in the final month, so none was on its way to a standard "
            "procedure (SOP)."
        )
    lead = f"Under {label}, the {len(top)} departments with the highest readiness:"
    if len(started) < READINESS_TOP:
        lead = (
            f"Under {label}, only {len(started)} department(s) had a pilot of a Tokyo practice "
            "or an SOP in the final month (every other one is at 0 × threshold):"
        )
    rows = "\n".join(
        f"<tr><td class='design'>{escape(department_name(r.department))}</td>"
        f"<td class='design'>{escape(pretty(r.domain))}</td>"
        f"<td>{r.sop_readiness_mean:.2f} × threshold</td><td>{r.sops_mean:.1f}</td>"
        f"<td>{r.sop_share:.0%}</td></tr>"
        for r in top.itertuples()
    )
    head = (
        "<tr><th class='design'>Department</th><th class='design'>Service domain</th>"
        "<th>Readiness (mean)</th><th>SOPs (mean)</th><th>Replicates with an SOP</th></tr>"
    )
    reps = int(ready.replicates.max())
    note = paragraph(
        "Readiness is a department's most advanced pilot of a Tokyo practice (a unit under a "
        "champion with authority carrying it out) as a multiple of the practice's threshold "
        "for a standard procedure: at 1 × or more the department is ready and its champion "
        "adopts the SOP with a chance each month. Means over the "
        f"{reps} replicate(s); SOPs counts the practices that are standard procedure there. "
        "Every department's numbers are in aggregate/sop_readiness.csv.",
        "note",
    )
    table = f"<table>\n<thead>{head}</thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    return "\n".join([heading, paragraph(lead), table, note])
