"""Write a model's organisation in the input formats (departments, roster, ties, practices).

Reloading the files with the same seed gives identical results (tested): a generated
organisation can be exported, edited by hand, and simulated again. CSV text cells that a
spreadsheet would run as a formula are escaped (`sim.inputs.spreadsheet`); the readers undo it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.inputs.roster import roster_frame, staff_ids
from sim.inputs.spreadsheet import escape_cell
from sim.network import Ties
from sim.organisation import DEPARTMENT_COLUMNS, Organisation
from sim.practices import Catalogue


def _escaped(values: pd.Series | pd.Index) -> pd.Series | pd.Index:
    return values.map(lambda v: escape_cell(v) if isinstance(v, str) else v)


def _is_text(column: pd.Series) -> bool:
    return column.dtype == object or isinstance(column.dtype, pd.StringDtype | pd.CategoricalDtype)


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells, column names and index labels a spreadsheet shows as
    text (`sim.inputs.spreadsheet.escape_cell`); numbers stay numbers."""
    out = df.copy()
    for col in out.columns:
        if _is_text(out[col]):
            out[col] = _escaped(out[col])
    out.columns = _escaped(out.columns)
    out.index = _escaped(out.index)
    return out


def departments_frame(org: Organisation) -> pd.DataFrame:
    deps = org.departments.copy()
    deps["headcount"] = org.headcount
    ids = list(deps["id"])
    deps["related"] = [";".join(ids[j] for j in rel) for rel in org.related]
    for col in ("baseline_quality", "weight"):
        deps[col] = [repr(float(x)) for x in deps[col]]
    return deps[[c for c in DEPARTMENT_COLUMNS if c in deps]]


def ties_frame(ties: Ties, ids: list[str]) -> pd.DataFrame:
    owner = np.repeat(np.arange(ties.n), ties.degree)
    keep = owner < ties.indices  # each undirected tie once
    ids_arr = np.asarray(ids)
    return pd.DataFrame(
        {
            "source": ids_arr[owner[keep]],
            "target": ids_arr[ties.indices[keep]],
            "weight": [repr(float(w)) for w in ties.weights[keep]],
        }
    )


def practices_document(cat: Catalogue, org: Organisation) -> dict:
    entries = []
    for k, pid in enumerate(cat.ids):
        entries.append(
            {
                "id": pid,
                "name": cat.names[k],
                "tokyo_bureaus": ["all"] if cat.bureaus[k] is None else sorted(cat.bureaus[k]),
                "tacitness": float(cat.tacitness[k]),
                "impact": float(cat.impact[k]),
                "institutionalisation": float(cat.institutionalisation[k]),
                "jakarta_prior": float(cat.prior[k]),
                "relevance": dict(cat.relevance_domain[k]),
                "relevance_departments": {
                    d: v
                    for d, v in cat.relevance_department[k].items()
                    if d in set(org.department_ids)
                },
            }
        )
    return {"practices": entries}


def export_organisation(model, folder) -> dict[str, Path]:
    """Write departments.csv, roster.csv, ties.csv and practices.yaml of the model's current
    organisation and staff into `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "departments": folder / "departments.csv",
        "roster": folder / "roster.csv",
        "ties": folder / "ties.csv",
        "practices": folder / "practices.yaml",
    }
    structure = model.structure
    org = structure.organisation
    tables = {
        "departments": departments_frame(org),
        "roster": roster_frame(model.state, structure),
        "ties": ties_frame(structure.ties, staff_ids(structure)),
    }
    for name, frame in tables.items():
        spreadsheet_safe(frame).to_csv(paths[name], index=False)
    document = practices_document(structure.catalogue, org)
    paths["practices"].write_text(
        yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return paths
