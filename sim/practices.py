"""Tokyo's practice repertoire: what Jakarta staff can learn, where, and what it is worth.

The catalogue is a YAML file (the packaged `sim/data/practices.yaml` by default). Each practice has
a tacitness in [0, 1], an impact (maximum relative service-quality gain when fully implemented by a
department of relevance 1), an institutionalisation threshold (the share of a pilot unit that must
master it, times its relevance, before a department may make it standard procedure), Jakarta's
prior proficiency, and relevance per domain with optional
per-department overrides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sim.errors import DataError
from sim.inputs.files import finite_float, load_yaml, read_csv_rows, shown
from sim.organisation import DOMAINS, packaged_file

PRACTICE_KEYS = (
    "id",
    "name",
    "description",
    "tokyo_bureaus",
    "tacitness",
    "impact",
    "institutionalisation",
    "jakarta_prior",
    "relevance",
    "relevance_departments",
    "source",
)
_REQUIRED = ("id", "tokyo_bureaus", "tacitness", "impact", "institutionalisation", "relevance")
_OPTIONAL_DEFAULTS = {"name": "", "description": "", "jakarta_prior": 0.0, "source": ""}
ALL_BUREAUS = "all"


@dataclass(frozen=True)
class Catalogue:
    """Practices as arrays over P practices (order of the file, or of the requested subset)."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    tacitness: np.ndarray  # float (P,)
    impact: np.ndarray  # float (P,)
    institutionalisation: np.ndarray  # float (P,)
    prior: np.ndarray  # float (P,)
    bureaus: tuple[frozenset[str] | None, ...]  # None = taught in every bureau
    relevance_domain: tuple[dict[str, float], ...]
    relevance_department: tuple[dict[str, float], ...]

    @property
    def n(self) -> int:
        return len(self.ids)

    def relevance(self, department_ids: list[str], department_domains: list[str]) -> np.ndarray:
        """float (D, P): relevance of each practice to each department."""
        rel = np.zeros((len(department_ids), self.n))
        for k in range(self.n):
            for d, (did, dom) in enumerate(zip(department_ids, department_domains, strict=True)):
                rel[d, k] = self.relevance_department[k].get(did, self.relevance_domain[k][dom])
        return rel

    def taught(self, bureau_ids: list[str]) -> np.ndarray:
        """bool (B, P): whether a trainee placed in each bureau can learn each practice."""
        out = np.zeros((len(bureau_ids), self.n), dtype=bool)
        for k, where in enumerate(self.bureaus):
            for b, bid in enumerate(bureau_ids):
                out[b, k] = where is None or bid in where
        return out

    def known_bureaus(self) -> set[str]:
        return set().union(*(b for b in self.bureaus if b is not None))

    def subset(self, ids: list[str], source: str = "scenario.practices") -> Catalogue:
        """The catalogue restricted to `ids`, in that order."""
        for pid in ids:
            if pid not in self.ids:
                raise DataError(
                    f"{source}: unknown practice {pid!r}; allowed: {', '.join(self.ids)}"
                )
        if len(set(ids)) != len(ids):
            raise DataError(f"{source}: practice listed twice in {ids!r}")
        idx = [self.ids.index(p) for p in ids]
        return Catalogue(
            ids=tuple(self.ids[i] for i in idx),
            names=tuple(self.names[i] for i in idx),
            tacitness=self.tacitness[idx],
            impact=self.impact[idx],
            institutionalisation=self.institutionalisation[idx],
            prior=self.prior[idx],
            bureaus=tuple(self.bureaus[i] for i in idx),
            relevance_domain=tuple(self.relevance_domain[i] for i in idx),
            relevance_department=tuple(self.relevance_department[i] for i in idx),
        )


def _csv_entries(path: Path) -> tuple[list[dict], dict[str, int]]:
    """Practices from a CSV: the YAML keys as columns, `tokyo_bureaus` separated by ';',
    `relevance_<domain>` columns, and `relevance_departments` as 'dept:0.8;dept2:1'."""
    rows = read_csv_rows(path, "practices file")
    if len(rows) < 2:
        raise DataError(f"{path}: empty file; expected a header and one row per practice")
    header = [c.strip() for c in rows[0][1]]
    entries, lines = [], {}
    numbers = ("tacitness", "impact", "institutionalisation", "jakarta_prior")
    for lineno, row in rows[1:]:
        if len(row) != len(header):
            raise DataError(f"{path}:{lineno}: {len(row)} fields, header has {len(header)}")
        rec = dict(zip(header, (c.strip() for c in row), strict=True))
        entry: dict = {}
        for key, value in rec.items():
            if key.startswith("relevance_") and key != "relevance_departments":
                entry.setdefault("relevance", {})[key.removeprefix("relevance_")] = _num(value)
            elif key == "tokyo_bureaus":
                entry[key] = [b.strip() for b in value.split(";") if b.strip()]
            elif key == "relevance_departments":
                entry[key] = _department_relevance(path, lineno, header, value)
            else:
                entry[key] = _num(value) if key in numbers else value
        entries.append(entry)
        lines[str(rec.get("id"))] = lineno
    return entries, lines


def _department_relevance(path: Path, lineno: int, header: list[str], text: str) -> dict:
    """'dept:0.8;dept2:1' as {dept: 0.8, dept2: 1.0} (values checked later)."""
    out = {}
    for pair in (p for p in text.split(";") if p.strip()):
        if pair.count(":") != 1:
            col = header.index("relevance_departments") + 1
            raise DataError(
                f"{path}:{lineno}: column relevance_departments (col {col}): {shown(pair)} must "
                "be department:number (pairs joined by ';')"
            )
        did, value = pair.split(":")
        out[did.strip()] = _num(value.strip())
    return out


def _num(text: str):
    """A number from a CSV cell, or the text itself (reported as not a number later)."""
    try:
        return float(text)
    except ValueError:
        return text


def _fraction(v) -> bool:
    """Whether `v` is a finite number in [0, 1] (not a bool)."""
    number = finite_float(v) if isinstance(v, int | float) else None
    return number is not None and 0.0 <= number <= 1.0


def _fraction_problem(v) -> str:
    """What is wrong with `v` as a number in [0, 1], shown."""
    infinite = isinstance(v, float) and not math.isfinite(v)
    return f"{shown(v)} must be a {'finite ' if infinite else ''}number in [0, 1]"


def _entry_nodes(root, entries: list) -> list:
    """The YAML node of each entry (for line numbers), or None for each without one."""
    nodes = getattr(root, "value", None)
    if isinstance(root, yaml.MappingNode):
        nodes = next((v.value for k, v in root.value if k.value == "practices"), None)
    if not isinstance(nodes, list) or len(nodes) != len(entries):
        return [None] * len(entries)
    return nodes


def _key_line(node, key: str) -> int:
    """Line (from 1) of `key` in an entry's mapping node, else of the entry; 0 without a node."""
    if not isinstance(node, yaml.MappingNode):
        return node.start_mark.line + 1 if node is not None else 0
    for k, _ in node.value:
        if k.value == key:
            return k.start_mark.line + 1
    return node.start_mark.line + 1


def load_practices(path: str | Path | None = None, department_ids=None) -> Catalogue:
    """Read and check a practice catalogue; errors name the file, line (of the entry or of the
    bad key) and key."""
    path = Path(path) if path is not None else packaged_file("practices.yaml")
    lines: dict[str, int] = {}
    if path.suffix.lower() == ".csv":
        entries, lines = _csv_entries(path)
        nodes = [None] * len(entries)
    else:
        data, root = load_yaml(path, "practices file")
        if data is None:
            raise DataError(f"{path}: empty file; expected a 'practices:' list")
        entries = data.get("practices") if isinstance(data, dict) else data
        nodes = _entry_nodes(root, entries) if isinstance(entries, list) else []
    if not isinstance(entries, list) or not entries:
        raise DataError(f"{path}: expected a non-empty list under 'practices:'")
    cols: dict[str, list] = {k: [] for k in PRACTICE_KEYS}
    seen: dict[str, int] = {}
    for i, (entry, node) in enumerate(zip(entries, nodes, strict=True), start=1):
        pid = entry.get("id") if isinstance(entry, dict) else None
        line = lines.get(str(pid)) or _key_line(node, "id")
        where = f"{path}:{line}" if line else f"{path}: entry {i}"

        def bad(key: str, msg: str, pid=pid, node=node, where=where) -> DataError:
            line = _key_line(node, key) if node is not None else 0
            at = f"{path}:{line}" if line else where
            return DataError(f"{at}: practice {shown(pid)}, key {key}: {msg}")

        if not isinstance(entry, dict):
            raise DataError(f"{where}: entry {i} is not a mapping of keys")
        for key in _REQUIRED:
            if key not in entry:
                raise bad(key, "missing")
        unknown = set(entry) - set(PRACTICE_KEYS)
        if unknown:
            key = shown(sorted(map(str, unknown))[0])[1:-1]
            raise bad(key, f"unknown key; allowed: {', '.join(PRACTICE_KEYS)}")
        if not isinstance(pid, str) or not pid:
            raise bad("id", f"{shown(pid)} must be a non-empty name")
        if pid in seen:
            raise bad("id", f"duplicate id (first at entry {seen[pid]})")
        seen[pid] = i
        rec = {**_OPTIONAL_DEFAULTS, "relevance_departments": {}, **entry}
        for key in ("tacitness", "impact", "institutionalisation", "jakarta_prior"):
            v = rec[key]
            if not _fraction(v):
                raise bad(key, _fraction_problem(v))
        where_taught = rec["tokyo_bureaus"]
        if (
            not isinstance(where_taught, list)
            or not where_taught
            or not all(isinstance(b, str) for b in where_taught)
        ):
            raise bad(
                "tokyo_bureaus", f"{shown(where_taught)} must be a non-empty list of bureau ids"
            )
        rel = rec["relevance"]
        if not isinstance(rel, dict):
            raise bad("relevance", "must map each domain to a number in [0, 1]")
        for dom in DOMAINS:
            if dom not in rel:
                raise bad("relevance", f"domain {dom} missing")
        for dom, v in rel.items():
            if dom not in DOMAINS:
                raise bad(
                    "relevance", f"unknown domain {shown(dom)}; allowed: {', '.join(DOMAINS)}"
                )
            if not _fraction(v):
                raise bad("relevance", f"{dom} = {_fraction_problem(v)}")
        reld = rec["relevance_departments"] or {}
        if not isinstance(reld, dict):
            raise bad("relevance_departments", "must map department ids to numbers in [0, 1]")
        for did, v in reld.items():
            if department_ids is not None and did not in department_ids:
                raise bad("relevance_departments", f"unknown department id {shown(did)}")
            if not _fraction(v):
                raise bad("relevance_departments", f"{did} = {_fraction_problem(v)}")
        for key in PRACTICE_KEYS:
            cols[key].append(rec[key] if key != "relevance_departments" else reld)
    return Catalogue(
        ids=tuple(cols["id"]),
        names=tuple(str(n) for n in cols["name"]),
        tacitness=np.array(cols["tacitness"], dtype=float),
        impact=np.array(cols["impact"], dtype=float),
        institutionalisation=np.array(cols["institutionalisation"], dtype=float),
        prior=np.array(cols["jakarta_prior"], dtype=float),
        bureaus=tuple(None if ALL_BUREAUS in b else frozenset(b) for b in cols["tokyo_bureaus"]),
        relevance_domain=tuple(dict(r) for r in cols["relevance"]),
        relevance_department=tuple(dict(r) for r in cols["relevance_departments"]),
    )
