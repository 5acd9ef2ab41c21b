"""Write a model's organisation in the input formats (departments, roster, ties, practices).

Reloading the files with the same seed gives identical results (tested): a generated
organisation can be exported, edited by hand, and simulated again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.organisation import DEPARTMENT_COLUMNS
from sim.roster import roster_frame


def departments_frame(model) -> pd.DataFrame:
    org = model.organisation
    deps = org.departments.copy()
    deps["headcount"] = org.headcount
    ids = list(deps["id"])
    deps["related"] = [";".join(ids[j] for j in rel) for rel in org.related]
    for col in ("baseline_quality", "weight"):
        deps[col] = [repr(float(x)) for x in deps[col]]
    return deps[[c for c in DEPARTMENT_COLUMNS if c in deps]]


def ties_frame(model) -> pd.DataFrame:
    ties = model.ties
    ids = [f"s{i}" for i in range(model.n_staff)] if model.staff_ids is None else model.staff_ids
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


def practices_document(model) -> dict:
    cat = model.catalogue
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
                    if d in set(model.organisation.department_ids)
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
    departments_frame(model).to_csv(paths["departments"], index=False)
    roster_frame(model).to_csv(paths["roster"], index=False)
    ties_frame(model).to_csv(paths["ties"], index=False)
    paths["practices"].write_text(
        yaml.safe_dump(practices_document(model), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return paths
