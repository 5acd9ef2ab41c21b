"""The organisation: departments, their staff posts, ranks and reporting lines.

Departments come from a CSV (the packaged Jakarta file by default). Every department is expanded
into posts ordered as head, then per division its head followed by its sections (section head,
then that section's staff), so that neighbouring posts are team-mates: the ring lattice of
`sim.network` then ties each person to their own team first. No randomness here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import MAX_STAFF
from sim.errors import DataError
from sim.inputs.files import cut, finite_float, is_float_text, read_csv_rows, shown

STAFF, SECTION_HEAD, DIVISION_HEAD, HEAD = 0, 1, 2, 3
RANK_NAMES = ("staff", "section_head", "division_head", "head")
DOMAINS = (
    "public_services",
    "infrastructure",
    "social_welfare",
    "environment",
    "disaster_safety",
    "governance",
    "economy",
)
DEPARTMENT_COLUMNS = (
    "id",
    "name",
    "kind",
    "domain",
    "headcount",
    "baseline_quality",
    "weight",
    "tokyo_bureau",
    "related",
    "source",
)
_REQUIRED = ("id", "name", "domain", "headcount", "baseline_quality")
#: Tokyo counterpart bureau of a department whose file gives none, by service domain.
DEFAULT_BUREAU = {
    "public_services": "ward_office",
    "infrastructure": "construction",
    "social_welfare": "social_welfare",
    "environment": "environment",
    "disaster_safety": "general_affairs",
    "governance": "general_affairs",
    "economy": "industrial_labor",
}


def packaged_file(name: str) -> Path:
    """Path of a data file shipped in sim/data."""
    return Path(str(resources.files("sim") / "data" / name))


@dataclass(frozen=True)
class Organisation:
    """Departments and posts. Arrays are indexed by post (row) 0..n-1; departments by 0..D-1."""

    departments: pd.DataFrame  # one row per department, scaled `headcount`
    dept: np.ndarray  # int32 (n,): department of each post
    rank: np.ndarray  # int8 (n,): STAFF..HEAD
    supervisor: np.ndarray  # int32 (n,): post of the supervisor, -1 for heads
    dept_start: np.ndarray  # int64 (D+1,): posts of department d are dept_start[d]:dept_start[d+1]
    related: tuple[tuple[int, ...], ...]  # related department indices

    @property
    def n_staff(self) -> int:
        return int(self.dept.size)

    @property
    def n_departments(self) -> int:
        return len(self.departments)

    @property
    def department_ids(self) -> list[str]:
        return list(self.departments["id"])

    @property
    def domain_of_department(self) -> np.ndarray:
        """int (D,): index into DOMAINS."""
        return np.array([DOMAINS.index(d) for d in self.departments["domain"]])

    @property
    def headcount(self) -> np.ndarray:
        """int (D,): posts per department (from the post boundaries, no pandas lookup)."""
        return np.diff(self.dept_start)


def load_departments(path: str | Path | None = None) -> pd.DataFrame:
    """Read and check a departments CSV; errors name the file, line and column."""
    path = Path(path) if path is not None else packaged_file("departments.csv")
    rows = read_csv_rows(path, "departments file")
    if not rows:
        raise DataError(f"{path}: empty file; expected a header with {', '.join(_REQUIRED)}")
    header_line, header = rows[0][0], [c.strip() for c in rows[0][1]]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise DataError(f"{path}:{header_line}: missing column(s) {', '.join(missing)}")
    allowed = (*DEPARTMENT_COLUMNS, "share_section_heads", "share_division_heads")
    extra = [c for c in header if c not in allowed]
    if extra:
        raise DataError(
            f"{path}:{header_line}: unknown column(s) {', '.join(cut(c) for c in extra)}; "
            f"allowed: {', '.join(allowed)}"
        )
    if len(rows) == 1:
        raise DataError(f"{path}: no departments after the header line")
    records = []
    seen: dict[str, int] = {}
    for lineno, row in rows[1:]:
        if len(row) != len(header):
            raise DataError(
                f"{path}:{lineno}: {len(row)} fields, header has {len(header)} "
                "(quote fields that contain commas)"
            )
        rec = dict(zip(header, (c.strip() for c in row), strict=True))
        _check_department(path, lineno, header, rec, seen)
        records.append(rec)
    ids = set(seen)
    for rec in records:
        lineno = seen[rec["id"]]
        for other in rec["related_list"]:
            if other not in ids:
                col = header.index("related") + 1
                raise DataError(
                    f"{path}:{lineno}: column related (col {col}): unknown department id "
                    f"{shown(other)}"
                )
            if other == rec["id"]:
                raise DataError(f"{path}:{lineno}: department {other!r} lists itself as related")
    df = pd.DataFrame(records)
    df["headcount"] = df["headcount"].astype(np.int64)
    df["baseline_quality"] = df["baseline_quality"].astype(float)
    df["weight"] = df["weight"].astype(float)
    return df.reset_index(drop=True)


def _check_department(path, lineno, header, rec, seen) -> None:
    def bad(col: str, msg: str) -> DataError:
        return DataError(f"{path}:{lineno}: column {col} (col {header.index(col) + 1}): {msg}")

    def number(col: str, finite: str) -> float:
        """The cell's number; `finite` says what is allowed when it is NaN or infinite."""
        text = rec[col]
        if not is_float_text(text):
            raise bad(col, f"{shown(text)} is not a number")
        value = finite_float(text)
        if value is None:
            raise bad(col, f"{cut(text)} must be {finite}")
        return value

    did = rec["id"]
    if not did:
        raise bad("id", "empty id")
    if did in seen:
        raise bad("id", f"duplicate id {shown(did)} (first on line {seen[did]})")
    seen[did] = lineno
    if rec["domain"] not in DOMAINS:
        raise bad("domain", f"{shown(rec['domain'])} is not one of {', '.join(DOMAINS)}")
    try:
        hc = int(rec["headcount"])
    except ValueError:
        raise bad("headcount", f"{shown(rec['headcount'])} is not a whole number") from None
    if not 1 <= hc <= MAX_STAFF:
        raise bad("headcount", f"{hc} must be a whole number from 1 to {MAX_STAFF:,}")
    rec["headcount"] = hc
    rec.setdefault("weight", "1")
    if not rec.get("tokyo_bureau"):
        rec["tokyo_bureau"] = DEFAULT_BUREAU[rec["domain"]]
    for col in ("share_section_heads", "share_division_heads"):
        if rec.get(col, "") == "":
            rec[col] = None
            continue
        v = number(col, "a finite share in [0, 0.5]")
        if not 0.0 <= v <= 0.5:
            raise bad(col, f"{v} must be a share in [0, 0.5]")
        rec[col] = v
    for col, low, high in (("baseline_quality", 0.0, 1.0), ("weight", 0.0, np.inf)):
        if col not in header:
            rec[col] = float(rec[col])
            continue
        allowed = "in [0, 1]" if col == "baseline_quality" else "a positive number"
        v = number(col, "a finite number in [0, 1]" if high == 1.0 else "a positive finite number")
        if not (low <= v <= high) or (col == "weight" and v <= 0):
            raise bad(col, f"{v} must be {allowed}")
        rec[col] = v
    rel = rec.get("related", "")
    rec["related_list"] = [r.strip() for r in rel.split(";") if r.strip()] if rel else []


def scaled_headcounts(headcount: np.ndarray, scale: float, min_size: int) -> np.ndarray:
    """Headcount per department at `scale`, never below `min_size` (nor above the full count)."""
    scaled = np.rint(np.asarray(headcount, dtype=float) * scale).astype(np.int64)
    floor = np.minimum(min_size, headcount)
    return np.maximum(scaled, floor)


def department_posts(
    n: int,
    section_span: int,
    division_span: int,
    share_section_heads: float | None = None,
    share_division_heads: float | None = None,
):
    """Ranks and supervisors (local indices) of one department of n posts, team-ordered.

    Returns (rank int8 (n,), supervisor int64 (n,)) with the head at 0 (supervisor -1).
    """
    rank = np.zeros(n, dtype=np.int8)
    sup = np.zeros(n, dtype=np.int64)
    rank[0], sup[0] = HEAD, -1
    rest = n - 1
    if rest < 3:  # too small for sections: everyone reports to the head
        return rank, sup
    n_sections = max(1, round(rest / (section_span + 1)))
    if share_section_heads is not None:  # the department's own rank split
        n_sections = max(1, round(share_section_heads * n))
    n_divisions = max(1, -(-n_sections // division_span))
    if share_division_heads is not None:
        n_divisions = max(1, min(n_sections, round(share_division_heads * n)))
    n_staff = rest - n_sections - n_divisions
    if n_staff < n_sections:  # very small department: one division, one section
        n_sections, n_divisions = 1, 1
        n_staff = rest - 2
    staff_per_section = np.diff(np.linspace(0, n_staff, n_sections + 1).round().astype(int))
    sections_per_division = np.array_split(np.arange(n_sections), n_divisions)
    pos = 1
    for secs in sections_per_division:
        div = pos
        rank[div], sup[div] = DIVISION_HEAD, 0
        pos += 1
        for s in secs:
            head = pos
            rank[head], sup[head] = SECTION_HEAD, div
            k = staff_per_section[s]
            sup[head + 1 : head + 1 + k] = head  # rank stays STAFF
            pos += 1 + k
    assert pos == n
    return rank, sup


def build_organisation(
    departments: pd.DataFrame,
    scale: float = 1.0,
    min_department_size: int = 5,
    section_span: int = 10,
    division_span: int = 4,
) -> Organisation:
    """Expand departments into posts at the given scale."""
    deps = departments.copy()
    deps["full_headcount"] = deps["headcount"]
    deps["headcount"] = scaled_headcounts(deps["headcount"].to_numpy(), scale, min_department_size)
    sizes = deps["headcount"].to_numpy()
    start = np.concatenate([[0], np.cumsum(sizes)])
    ranks, sups = [], []
    shares = zip(
        deps.get("share_section_heads", [None] * len(deps)),
        deps.get("share_division_heads", [None] * len(deps)),
        strict=True,
    )
    for d, (n, (sec, div)) in enumerate(zip(sizes, shares, strict=True)):
        sec = None if sec is None or pd.isna(sec) else float(sec)
        div = None if div is None or pd.isna(div) else float(div)
        r, s = department_posts(int(n), section_span, division_span, sec, div)
        ranks.append(r)
        sups.append(np.where(s >= 0, s + start[d], -1))
    ids = list(deps["id"])
    related = tuple(tuple(ids.index(x) for x in rel) for rel in deps["related_list"])
    return Organisation(
        departments=deps.drop(columns=["related_list"]),
        dept=np.repeat(np.arange(len(sizes), dtype=np.int32), sizes),
        rank=np.concatenate(ranks).astype(np.int8),
        supervisor=np.concatenate(sups).astype(np.int32),
        dept_start=start,
        related=related,
    )
