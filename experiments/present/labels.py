"""How a sweep names things: its designs (by `study.levers.label_designs`), and its
departments, practices and columns.
"""

from __future__ import annotations

import textwrap
from functools import cache

from experiments.analysis.tables import SweepTables
from experiments.study.levers import label_designs
from sim.errors import UserError
from sim.organisation import load_departments
from sim.practices import load_practices


def design_labels(tables: SweepTables) -> dict[str, str]:
    """design_id -> plain-words label of every design of a sweep (`levers.label_designs`)."""
    return label_designs(tables.designs, tables.levers)


def pretty(name: str) -> str:
    """'disaster_safety' -> 'Disaster safety'."""
    text = str(name).replace("_", " ")
    return text[:1].upper() + text[1:]


@cache
def _packaged_names() -> tuple[dict[str, str], dict[str, str]]:
    """English names of the packaged departments and practices, by id (empty if unreadable)."""
    try:
        deps = load_departments()
        cat = load_practices()
    except UserError:  # names are cosmetic: fall back to ids
        return {}, {}
    dep_names = {}
    for pid, name in zip(deps["id"], deps["name"], strict=True):
        inner = name[name.rfind("(") + 1 : name.rfind(")")] if name.endswith(")") else name
        inner = inner.rsplit(": ", 1)[-1].removesuffix(" City Administration")
        dep_names[pid] = textwrap.shorten(inner, 36, placeholder="…")
    return dep_names, dict(zip(cat.ids, cat.names, strict=True))


def department_name(dep_id: str) -> str:
    """Short English name of a packaged department, else its id."""
    return _packaged_names()[0].get(dep_id, str(dep_id))


def practice_name(practice_id: str) -> str:
    """Name of a packaged practice, else its id in words."""
    return _packaged_names()[1].get(practice_id, pretty(practice_id))
