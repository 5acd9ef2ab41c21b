"""A real organisation: a staff roster and a tie list instead of generated staff and ties.

Roster CSV: one row per staff member with columns `id`, `department`, `rank` (staff,
section_head, division_head, head; or 0-3), `tenure` (months), and optionally `supervisor` (a
staff id), `capacity`, `willingness` (0-1) and `proficiency_<practice>` (0-1). Posts are ordered
by department (in the order of the departments file), then as listed in the roster, so list a
team's members together. Ties: an edge list CSV (`source`, `target`, optional `weight` in (0, 1])
or a GraphML file whose node ids are staff ids. Every problem is reported with file, line and
column.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from sim.errors import DataError, first_line
from sim.inputs.files import cut, finite_float, read_bytes, read_csv_rows, shown
from sim.network import Ties, ties_from_edges
from sim.organisation import HEAD, RANK_NAMES, STAFF, Organisation
from sim.state import StaffState, Structure

ROSTER_REQUIRED = ("id", "department", "rank", "tenure")


@dataclass(frozen=True)
class Roster:
    """Staff in post order (grouped by department)."""

    ids: list[str]
    dept: np.ndarray  # int32 (n,)
    rank: np.ndarray  # int8 (n,)
    tenure: np.ndarray  # int32 (n,), months
    supervisor: np.ndarray  # int32 (n,), post index or -1 (-2: to be assigned)
    capacity: np.ndarray  # float (n,), NaN where not given
    willingness: np.ndarray  # float (n,), NaN where not given
    proficiency: dict[str, np.ndarray]  # practice id -> float (n,), NaN where not given


def _read_csv(path: Path, what: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line, cells) rows of a CSV file; one-line DataErrors."""
    rows = read_csv_rows(path, f"{what} file")
    if not rows:
        raise DataError(f"{path}: empty file")
    header = [c.strip() for c in rows[0][1]]
    if len(rows) == 1:
        raise DataError(f"{path}: no rows after the header line")
    return header, rows[1:]


def _number(path, line, header, col, text, low, high, whole=False):
    where = f"{path}:{line}: column {col} (col {header.index(col) + 1})"
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise DataError(f"{where}: {shown(text)} is not {kind}") from None
    if not whole and finite_float(value) is None:
        raise DataError(f"{where}: {cut(text)} must be a finite number in [{low}, {high}]")
    if not low <= value <= high:
        raise DataError(f"{where}: {value} must be in [{low}, {high}]")
    return value


def load_roster(path, departments: pd.DataFrame, practice_ids) -> Roster:
    """Read and check a roster against the departments (ids and headcounts)."""
    path = Path(path)
    header, rows = _read_csv(path, "roster")
    missing = [c for c in ROSTER_REQUIRED if c not in header]
    if missing:
        raise DataError(f"{path}:1: missing column(s) {', '.join(missing)}")
    known = {"supervisor", "capacity", "willingness", *ROSTER_REQUIRED}
    known |= {f"proficiency_{p}" for p in practice_ids}
    extra = [c for c in header if c not in known]
    if extra:
        raise DataError(
            f"{path}:1: unknown column(s) {', '.join(extra)}; allowed: {', '.join(sorted(known))}"
        )
    dep_index = {d: i for i, d in enumerate(departments["id"])}
    records, seen = [], {}
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{path}:{line}: {len(row)} fields, header has {len(header)}")
        rec = dict(zip(header, (c.strip() for c in row), strict=True))

        def where(col, line=line):
            return f"{path}:{line}: column {col} (col {header.index(col) + 1})"

        if not rec["id"]:
            raise DataError(f"{where('id')}: empty id")
        if rec["id"] in seen:
            raise DataError(
                f"{where('id')}: duplicate id {shown(rec['id'])} (first on line {seen[rec['id']]})"
            )
        seen[rec["id"]] = line
        if rec["department"] not in dep_index:
            raise DataError(f"{where('department')}: unknown department {shown(rec['department'])}")
        rank = rec["rank"]
        if rank in RANK_NAMES:
            rank = RANK_NAMES.index(rank)
        elif rank in ("0", "1", "2", "3"):
            rank = int(rank)
        else:
            raise DataError(f"{where('rank')}: {shown(rank)} is not one of {', '.join(RANK_NAMES)}")
        rec["rank"] = rank
        rec["dept"] = dep_index[rec["department"]]
        rec["tenure"] = _number(path, line, header, "tenure", rec["tenure"], 0, 720, whole=True)
        for col in header:
            if col in ("capacity", "willingness") or col.startswith("proficiency_"):
                text = rec[col]
                rec[col] = np.nan if text == "" else _number(path, line, header, col, text, 0, 1)
        rec["line"] = line
        records.append(rec)
    # posts grouped by department in the departments' order, roster order within
    records.sort(key=lambda r: r["dept"])
    counts = np.bincount([r["dept"] for r in records], minlength=len(departments))
    for d, (did, hc) in enumerate(zip(departments["id"], departments["headcount"], strict=True)):
        if counts[d] != hc:
            raise DataError(
                f"{path}: department {did!r} has headcount {hc} in the departments file but "
                f"{counts[d]} staff in the roster"
            )
    index = {r["id"]: i for i, r in enumerate(records)}
    supervisor = np.full(len(records), -2, dtype=np.int32)
    if "supervisor" in header:
        for i, r in enumerate(records):
            sup = r["supervisor"]
            if sup == "":
                supervisor[i] = -2
            elif sup not in index:
                col = header.index("supervisor") + 1
                raise DataError(
                    f"{path}:{r['line']}: column supervisor (col {col}): "
                    f"unknown staff id {shown(sup)}"
                )
            else:
                supervisor[i] = index[sup]

    def column(name):
        return np.array([r.get(name, np.nan) for r in records], dtype=float)

    return Roster(
        ids=[r["id"] for r in records],
        dept=np.array([r["dept"] for r in records], dtype=np.int32),
        rank=np.array([r["rank"] for r in records], dtype=np.int8),
        tenure=np.array([r["tenure"] for r in records], dtype=np.int32),
        supervisor=assign_supervisors(
            supervisor,
            np.array([r["dept"] for r in records]),
            np.array([r["rank"] for r in records]),
        ),
        capacity=column("capacity"),
        willingness=column("willingness"),
        proficiency={p: column(f"proficiency_{p}") for p in practice_ids},
    )


def assign_supervisors(supervisor: np.ndarray, dept: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Fill missing supervisors (-2): each person reports, in turn, to someone of the next rank
    up in the same department that exists (heads report to nobody: -1)."""
    out = supervisor.copy()
    for d in np.unique(dept):
        posts = np.flatnonzero(dept == d)
        for r in range(STAFF, HEAD + 1):
            todo = posts[(rank[posts] == r) & (out[posts] == -2)]
            if todo.size == 0:
                continue
            above = [posts[rank[posts] == up] for up in range(r + 1, HEAD + 1)]
            bosses = next((a for a in above if a.size), None)
            out[todo] = -1 if bosses is None else bosses[np.arange(todo.size) % bosses.size]
    return out


def organisation_from_roster(departments: pd.DataFrame, roster: Roster) -> Organisation:
    deps = departments.copy()
    deps["full_headcount"] = deps["headcount"]
    sizes = np.bincount(roster.dept, minlength=len(deps))
    ids = list(deps["id"])
    related = tuple(tuple(ids.index(x) for x in rel) for rel in deps["related_list"])
    return Organisation(
        departments=deps.drop(columns=["related_list"]),
        dept=roster.dept.copy(),
        rank=roster.rank.copy(),
        supervisor=roster.supervisor.copy(),
        dept_start=np.concatenate([[0], np.cumsum(sizes)]),
        related=related,
    )


def load_ties(path, staff_ids: list[str]) -> Ties:
    """Ties between roster staff from an edge list CSV or a GraphML file (undirected; a pair
    listed twice keeps its strongest tie)."""
    path = Path(path)
    index = {s: i for i, s in enumerate(staff_ids)}
    if path.suffix.lower() == ".graphml":
        edges = _graphml_edges(path, index)
    else:
        edges = _csv_edges(path, index)
    n = len(staff_ids)
    if not edges:
        raise DataError(f"{path}: no ties")
    src, dst, w = (np.array(x) for x in zip(*edges, strict=True))
    return ties_from_edges(n, src, dst, w)


def _csv_edges(path: Path, index: dict[str, int]) -> list[tuple[int, int, float]]:
    header, rows = _read_csv(path, "ties")
    missing = [c for c in ("source", "target") if c not in header]
    if missing:
        raise DataError(f"{path}:1: missing column(s) {', '.join(missing)}")
    edges = []
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{path}:{line}: {len(row)} fields, header has {len(header)}")
        rec = dict(zip(header, (c.strip() for c in row), strict=True))
        ends = []
        for col in ("source", "target"):
            if rec[col] not in index:
                raise DataError(
                    f"{path}:{line}: column {col} (col {header.index(col) + 1}): "
                    f"unknown staff id {shown(rec[col])}"
                )
            ends.append(index[rec[col]])
        if ends[0] == ends[1]:
            raise DataError(f"{path}:{line}: a tie from {rec['source']!r} to itself")
        weight = 1.0
        if "weight" in header and rec["weight"] != "":
            weight = _number(path, line, header, "weight", rec["weight"], 1e-9, 1.0)
        edges.append((ends[0], ends[1], weight))
    return edges


def _graphml_edges(path: Path, index: dict[str, int]) -> list[tuple[int, int, float]]:
    data = read_bytes(path, "ties file")  # XML declares its own encoding: bytes, not text
    try:
        graph = nx.read_graphml(io.BytesIO(data))
    except Exception as exc:  # networkx raises several kinds for malformed XML
        bad = _bad_graphml_weight(data)
        if bad is not None:
            a, b, text = bad
            raise DataError(
                f"{path}: edge {shown(a)}-{shown(b)}: weight {shown(text)} must be a finite "
                "number in (0, 1]"
            ) from None
        reason = first_line(exc)
        raise DataError(f"{path}: not a readable GraphML file ({cut(reason, 200)})") from None
    edges = []
    for a, b, attributes in graph.edges(data=True):
        for node in (a, b):
            if str(node) not in index:
                raise DataError(
                    f"{path}: edge {shown(a)}-{shown(b)}: unknown staff id {shown(node)}"
                )
        value = attributes.get("weight", 1.0)
        weight = finite_float(value)
        if weight is None:
            raise DataError(
                f"{path}: edge {shown(a)}-{shown(b)}: weight {shown(value)} must be a finite "
                "number in (0, 1]"
            )
        if not 0 < weight <= 1:
            raise DataError(
                f"{path}: edge {shown(a)}-{shown(b)}: weight {weight} must be in (0, 1]"
            )
        if a == b:  # as the edge list says it: a tie joins two people
            raise DataError(f"{path}: edge {shown(a)}-{shown(b)}: a tie from {a!r} to itself")
        edges.append((index[str(a)], index[str(b)], weight))
    return edges


def _local(tag) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _bad_graphml_weight(data: bytes) -> tuple[str, str, str] | None:
    """(source, target, text) of the first GraphML edge whose weight is not a finite number,
    or None (also for XML that does not parse)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    keys = {
        k.get("id")
        for k in root.iter()
        if _local(k.tag) == "key"
        and k.get("attr.name") == "weight"
        and k.get("for", "all") in ("edge", "all")
    }
    for edge in root.iter():
        if _local(edge.tag) != "edge":
            continue
        for d in edge:
            weight = d.text if _local(d.tag) == "data" and d.get("key") in keys else None
            # an empty weight is no weight (networkx skips it): the default 1 applies
            if weight is not None and finite_float(weight) is None:
                return edge.get("source", "?"), edge.get("target", "?"), weight
    return None


def staff_ids(structure: Structure) -> list[str]:
    """Ids of the posts' holders: the roster's, or s0, s1, ... for a generated organisation."""
    if structure.staff_ids is not None:
        return structure.staff_ids
    return [f"s{i}" for i in range(structure.n_staff)]


def roster_frame(staff: StaffState, structure: Structure) -> pd.DataFrame:
    """The current staff as a roster table (for export)."""
    org, s = structure.organisation, staff
    ids = staff_ids(structure)
    sup = org.supervisor
    data = {
        "id": ids,
        "department": np.asarray(org.department_ids)[org.dept],
        "rank": np.asarray(RANK_NAMES)[org.rank],
        "tenure": s.tenure,
        "supervisor": [ids[j] if j >= 0 else "" for j in sup],
        "capacity": [repr(float(x)) for x in s.base_capacity],
        "willingness": [repr(float(x)) for x in s.willingness],
    }
    for k, pid in enumerate(structure.catalogue.ids):
        data[f"proficiency_{pid}"] = [repr(float(x)) for x in s.proficiency[:, k]]
    return pd.DataFrame(data)
