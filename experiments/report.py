"""A one-file HTML report of a sweep for readers who do not read code.

Gains are shown in index points (the service index runs from 0 to 1; one point is 0.01) and money
in IDR billion (the tables carry IDR million). Figures are referenced by relative path; the page
has inline CSS and no scripts or external assets.
"""

from __future__ import annotations

import math
import os
import tempfile
from html import escape
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from experiments.figures import (
    POINTS,
    SweepTables,
    design_labels,
    efficient_frontier,
    format_value,
    horizon_months,
    ranked,
    shown_scenarios,
)

#: Lever column -> plain description with unit.
LEVER_WORDS = {
    "cohort_size": "cohort size (simulated staff sent per departure)",
    "frequency": "frequency (months between departures)",
    "duration": "stay (months each cohort spends in Tokyo)",
    "selection": "selection policy (who is chosen to go)",
    "start": "start (month of the first departure)",
    "experts_per_visit": "Tokyo experts per visit to Jakarta",
    "months_between_expert_visits": "months between expert visits",
    "target_departments": "target departments",
}
#: Meta keys the "What was run" sentences already use.
_USED_META = {"horizon", "horizon_months", "replicates", "scale", "seeds", "target_gain", "n_staff"}
FULL_STAFF = 60_000

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: #1f2328; line-height: 1.5; margin: 0; background: #fafafa; }
main { max-width: 1040px; margin: 0 auto; padding: 1.5rem 2rem 3rem; background: #fff; }
h1 { font-size: 1.7rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid #e1e4e8; padding-bottom: 0.2rem;
  margin-top: 2rem; }
h3 { font-size: 1.1rem; margin-bottom: 0.3rem; }
.headline { font-size: 1.1rem; background: #eef5fb; border-left: 4px solid #0072B2;
  padding: 0.7rem 1rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { padding: 0.35rem 0.5rem; border-bottom: 1px solid #e1e4e8; text-align: right;
  vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.design, th.design { text-align: left; }
tbody tr:nth-child(even) { background: #fafbfc; }
.code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.8rem; color: #57606a; }
.tag { font-size: 0.75rem; color: #D55E00; border: 1px solid #D55E00; border-radius: 3px;
  padding: 0 0.25rem; margin-left: 0.3rem; white-space: nowrap; }
.note { font-size: 0.88rem; color: #57606a; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #e1e4e8; }
figcaption { font-size: 0.95rem; margin-top: 0.4rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 1rem; font-size: 0.9rem; }
dt { font-weight: 600; } dd { margin: 0; }
"""

#: Figure name -> (heading, "how to read this" caption).
CAPTIONS = {
    "ranked_designs": (
        "Designs ranked against a reference",
        "Left: each design's gain over no exchange in the final year, with its 95% confidence "
        "interval. Right: how much more (or less) it gains than the reference design on the "
        "same random seeds; an interval that does not cross the dashed zero line means the "
        "difference is clear with this many replicates.",
    ),
    "duration_tradeoff": (
        "Many short stays or few long ones",
        "Each line keeps the other levers fixed and varies how long each person stays in Tokyo; "
        "with a fixed budget, longer stays mean fewer people. The shaded band is the 95% "
        "confidence interval.",
    ),
    "index_curves": (
        "City service index over time",
        "The top panel shows the city service index (0 to 1) under each design, averaged over "
        "the replicates; the shaded band is the 95% confidence interval and the dashed grey line "
        "is the same city without any exchange. The bottom panel shows the difference from that "
        "no-exchange run in index points: above zero means the exchange helped. Bands that "
        "overlap mean the designs cannot be told apart with this many replicates.",
    ),
    "gain_heatmap": (
        "Gain by cohort size and frequency",
        "Each cell is one combination of how many staff leave per cohort (rows) and how many "
        "months pass between departures (columns); the number is the mean gain over the final "
        "year in index points, and brighter cells mean larger gains. Read along a row to "
        "see what sending the same cohort more or less often does.",
    ),
    "gain_vs_cost": (
        "Gain against cost",
        "Each point is one design: its total cost (IDR billion; further right is dearer) "
        "against its gain in the final year (higher is better), with a bar for the 95% confidence "
        "interval. Designs ringed by a diamond and joined by the stepped line are efficient: no "
        "other design gains more for the same or less money. Designs below or right of that line "
        "cost more for less.",
    ),
    "adoption": (
        "Spread of each Tokyo practice",
        "Each small panel is one practice learnt in Tokyo and shows the share of all city staff "
        "who are proficient in it over time. The solid line is the best design and the dashed "
        "line the design with the smallest gain. Flat lines near zero mark practices that "
        "neither design spread.",
    ),
    "departments_end": (
        "Which departments improved",
        "Each bar is one department: how much its service quality rose (in index points) from "
        "the first to the last month under the best design, averaged over the replicates. "
        "Colours show the service domain; bars near zero mark departments the exchange hardly "
        "reached, and bars below zero departments that were worse at the end, usually because "
        "some of their staff were away in Tokyo in the last month.",
    ),
    "network": (
        "How knowledge moves between departments",
        "Each circle is a department, sized by its staff; lines join departments whose staff "
        "work together, wider for more ties. The colour shows the share of staff proficient in "
        "the practices that matter to that department, at four moments of one run of the best "
        "design, so you can follow the practices spreading from department to department.",
    ),
}


def _p(text: str, cls: str | None = None) -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{escape(text)}</p>"


def _section(heading: str, *parts: str) -> str:
    return "\n".join([f"<section>\n<h2>{escape(heading)}</h2>", *parts, "</section>"])


def _num(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:,.{digits}f}"


def _billion(idr_million: float) -> str:
    """IDR million -> 'x.x' billion, with fewer decimals for large amounts."""
    b = idr_million / 1000
    if not math.isfinite(b):
        return "n/a"
    return f"{b:,.0f}" if abs(b) >= 100 else f"{b:,.1f}" if abs(b) >= 10 else f"{b:,.2f}"


def _percent(share: float) -> str:
    return f"{share * 100:g}%"


def _ci_text(low: float, high: float) -> str:
    """A 95% CI of a gain (index units) in index points, for a sentence."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no CI: one replicate"
    return f"95% CI {low * POINTS:.2f} to {high * POINTS:.2f}"


def _staff_count(meta: dict) -> int | None:
    """Simulated staff: meta['n_staff'], else estimated from the packaged departments file."""
    if "n_staff" in meta:
        return int(meta["n_staff"])
    if "scale" not in meta:
        return None
    try:
        from sim.config import ScenarioConfig
        from sim.organisation import load_departments, scaled_headcounts

        heads = load_departments()["headcount"].to_numpy()
        min_size = ScenarioConfig().min_department_size
        return int(scaled_headcounts(heads, float(meta["scale"]), min_size).sum())
    except Exception:  # the sentence is then left out
        return None


def what_was_run(tables: SweepTables) -> str:
    """Plain sentences on horizon, replicates, scale and levers, then the other meta facts."""
    meta, sc = tables.meta, tables.scenarios
    h = int(meta.get("horizon_months", meta.get("horizon", horizon_months(tables))))
    reps = int(meta.get("replicates", sc["n"].max()))
    seeds = f" ({meta['seeds']})" if "seeds" in meta else ""
    designs = "The exchange design" if len(sc) == 1 else f"Each of the {len(sc)} exchange designs"
    times = "once" if reps == 1 else f"{reps} times with different random seeds{seeds}"
    parts = [
        _p(
            f"{designs} below was simulated for {h} months ({h / 12:g} years), {times}. "
            "Every run was paired with a run of the same simulated city without any exchange, "
            "using the same seed; the gain of a design is the difference between the two."
        )
    ]
    if "scale" in meta:
        scale, staff = float(meta["scale"]), _staff_count(meta)
        about = f" (about {staff:,} people)" if staff else ""
        text = (
            f"The model simulated {_percent(scale)} of every department's staff{about} out of "
            f"the roughly {FULL_STAFF:,} staff of Jakarta's provincial government."
        )
        if scale < 1:
            text += (
                " Cohort sizes count simulated people, so a cohort of 10 stands for about "
                f"{10 / scale:,.0f} real staff."
            )
        parts.append(_p(text))
    if tables.levers:
        items = []
        for k in tables.levers:
            values = sorted(sc[k].unique(), key=lambda v: (isinstance(v, str), v))
            words = LEVER_WORDS.get(k, k.replace("_", " "))
            items.append(
                f"<li>{escape(words)}: {escape(', '.join(map(format_value, values)))}</li>"
            )
        parts.append(_p("The designs differ in:"))
        parts.append("<ul>" + "".join(items) + "</ul>")
        parts.append(_p("Every other setting was the same for every design."))
    else:
        parts.append(_p("All runs used the same design."))
    if "target_gain" in meta:
        points = float(meta["target_gain"]) * POINTS
        target = f"{points:g} index point" + ("" if points == 1 else "s")
    else:
        target = "the sweep's target gain"
    parts.append(
        _p(
            "Gains are in index points: the service index runs from 0 to 1 and one point is "
            f"0.01. Months to target is the first month the gain reached {target}."
        )
    )
    extra = {k: v for k, v in meta.items() if k not in _USED_META}
    if extra:
        rows = "".join(
            f'<dt>{escape(str(k).replace("_", " "))}</dt><dd class="code">{escape(str(v))}</dd>'
            for k, v in extra.items()
        )
        parts.append(f"<h3>Run details</h3>\n<dl>{rows}</dl>")
    return _section("What was run", *parts)


def headline(tables: SweepTables) -> str:
    """One or two sentences naming the best design, its gain with 95% CI and its cost."""
    best = ranked(tables).iloc[0]
    label = design_labels(tables)[best["scenario"]]
    years = f"{horizon_months(tables) / 12:g} years"
    gain, low, high = best["gain_mean"], best["gain_ci_low"], best["gain_ci_high"]
    name = f"{label} ({best['scenario']})" if label != best["scenario"] else label
    if not gain > 0:
        text = (
            f"No design raised the city service index on average after {years}; the largest "
            f"mean gain was {gain * POINTS:.2f} index points ({name})."
        )
    else:
        text = (
            f"The best design was {name}: after {years} it raised the city service index by "
            f"{gain * POINTS:.2f} index points ({_ci_text(low, high)}) compared with no "
            f"exchange, at a cost of IDR {_billion(best['cost_mean'])} billion."
        )
        if math.isfinite(low) and low <= 0:
            text += (
                " Its confidence interval reaches zero, so with this many replicates the gain "
                "cannot be told apart from no effect."
            )
    front = efficient_frontier(tables.scenarios)
    labels = design_labels(tables)
    more = _p(
        "Efficient designs (no other design gains more for the same or less money), cheapest "
        "first: " + "; ".join(labels[s] for s in front["scenario"]) + "."
    )
    return _section("Headline", f'<p class="headline">{escape(text)}</p>', more)


def ranked_table(tables: SweepTables) -> str:
    """HTML table of the designs, best first, in planner units."""
    labels = design_labels(tables)
    on_front = set(efficient_frontier(tables.scenarios)["scenario"])
    head = (
        '<tr><th>Rank</th><th class="design">Design</th>'
        "<th>Gain (index points, 95% CI)</th><th>Final index (0–1)</th>"
        "<th>Staff-months abroad</th><th>Cost (IDR billion)</th>"
        "<th>Cost per index point (IDR billion)</th><th>Months to target (median)</th></tr>"
    )
    rows = []
    for _, r in ranked(tables).iterrows():
        design = escape(labels[r["scenario"]])
        if labels[r["scenario"]] != r["scenario"]:
            design += f'<br><span class="code">{escape(r["scenario"])}</span>'
        if r["scenario"] in on_front:
            design += '<span class="tag">efficient</span>'
        mtt, cpp = r["months_to_target_median"], r["cost_per_point"]
        low, high = r["gain_ci_low"], r["gain_ci_high"]
        ci = f"{_num(low * POINTS)} to {_num(high * POINTS)}" if pd.notna(low) else "no CI"
        gain = f"{_num(r['gain_mean'] * POINTS)} ({ci})"
        numbers = [
            gain,
            _num(r["final_index_mean"], 3),
            _num(r["staff_months_abroad_mean"], 0),
            _billion(r["cost_mean"]),
            "no gain" if pd.isna(cpp) else _billion(cpp),
            "not reached" if pd.isna(mtt) else format_value(float(mtt)),
        ]
        cells = [f"<td>{int(r['rank'])}</td>", f'<td class="design">{design}</td>']
        cells += [f"<td>{escape(v)}</td>" for v in numbers]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = _p(
        "Rank 1 has the largest mean gain over the final year (the mean of the last 12 months, "
        "which evens out months when a cohort happens to be away). Cost per index point is the "
        "mean cost divided by the mean gain; it is left out when the gain is not positive. "
        'Months to target is the median over replicates; "not reached" means that in at least '
        "half of the replicates the gain never reached the target.",
        "note",
    )
    table = f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    return _section("Designs ranked by gain", table, note)


def figure_blocks(tables: SweepTables, figures: dict[str, Path], folder: Path) -> str:
    """Each figure with its heading and "how to read this" caption; paths relative to `folder`."""
    blocks = []
    for name, png in figures.items():
        heading, caption = CAPTIONS.get(name, (name.replace("_", " ").capitalize(), ""))
        if name == "index_curves" and len(shown_scenarios(tables.scenarios)) < len(
            tables.scenarios
        ):
            caption += " Only the five best designs and the lowest-ranked one are drawn."
        src = quote(Path(os.path.relpath(png, folder)).as_posix())
        svg = Path(png).with_suffix(".svg")
        link = (
            f' <a href="{escape(quote(Path(os.path.relpath(svg, folder)).as_posix()))}">'
            "Vector version (SVG)</a>"
            if svg.exists()
            else ""
        )
        blocks.append(
            f"<figure>\n<h3>{escape(heading)}</h3>\n"
            f'<img src="{escape(src)}" alt="{escape(heading)}">\n'
            f"<figcaption><strong>How to read this.</strong> {escape(caption)}{link}</figcaption>\n"
            "</figure>"
        )
    return _section("Figures", *blocks)


def caveats(tables: SweepTables) -> str:
    reps = int(tables.meta.get("replicates", tables.scenarios["n"].max()))
    items = [
        "Every parameter of the model (how fast staff learn, forget, share and leave, what the "
        "exchange costs, how practices raise service quality) is an assumption or an estimate; "
        "each is documented with its unit, range and source in docs/model.md. The results show "
        "what follows from those assumptions; they are not a forecast.",
        "Gains are differences against the run without any exchange that used the same random "
        "seeds, so they are paired: chance differences between simulated cities cancel out.",
        f"The 95% confidence intervals are across the {reps} replicates (random seeds) only; "
        "they do not include the uncertainty of the parameters themselves.",
        "Costs are the direct program costs (staff-months in Tokyo and expert visits at assumed "
        "unit prices), summed over the whole period without discounting.",
    ]
    if float(tables.meta.get("scale", 1.0)) < 1:
        items.append(
            "The model ran on a scaled-down city; compare designs only with others run at the "
            "same scale."
        )
    return _section("Caveats", "<ul>" + "".join(f"<li>{escape(t)}</li>" for t in items) + "</ul>")


def _atomic_write(path: Path, text: str) -> None:
    """Write `text` to a temporary file next to `path`, then rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(tables: SweepTables, figures: dict[str, Path], out_path: Path, title: str) -> Path:
    """Write the HTML report to `out_path` atomically and return its path."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(
        [
            what_was_run(tables),
            headline(tables),
            ranked_table(tables),
            figure_blocks(tables, figures, out_path.parent),
            caveats(tables),
        ]
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )
    _atomic_write(out_path, page)
    return out_path
