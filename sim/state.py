"""State arrays: staff (one row per post's current holder) and departments.

Both engines read and write these arrays; `StaffAgent` exposes a row through properties.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

# A person's own attributes, which travel with them when they rotate to another post.
PERSONAL = ("proficiency", "base_capacity", "willingness", "tenure", "exchanges")


@dataclass
class StaffState:
    """Per-person state, rows indexed by post 0..n-1."""

    proficiency: np.ndarray  # float32 (n, P) in [0, 1]
    base_capacity: np.ndarray  # float32 (n,) in [0, 1]
    willingness: np.ndarray  # float32 (n,) in [0, 1]
    tenure: np.ndarray  # int32 (n,), months in service
    exchanges: np.ndarray  # int16 (n,), exchanges made so far
    abroad: np.ndarray  # bool (n,)
    months_left: np.ndarray  # int16 (n,), months left in Tokyo (0 at home)
    placement: np.ndarray  # int16 (n,), Tokyo bureau index while abroad
    expert_months_left: np.ndarray  # int16 (n,), months of expert training left
    expert_bureau: np.ndarray  # int16 (n,), bureau of the visiting expert

    @property
    def n(self) -> int:
        return self.abroad.size

    def copy(self) -> StaffState:
        return StaffState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})


@dataclass
class DepartmentState:
    """Per-department state over D departments and P practices."""

    implementation: np.ndarray  # float64 (D, P) in [0, 1]
    sop: np.ndarray  # bool (D, P): practice is standard procedure
    quality: np.ndarray  # float64 (D,) in [0, 1]
    absent: np.ndarray  # int64 (D,): staff abroad this month
