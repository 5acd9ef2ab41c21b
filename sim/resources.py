"""What a run needs before it starts: staff, memory and work, against what the machine has.

`inputs.prepare` refuses a single run that cannot fit in the memory available now, and the
command line (`experiments/jobs/plan.py`) refuses a sweep whose concurrent jobs cannot, before
anything is built or written: a typo such as `network.team_neighbours=998` at full scale must not
allocate until the machine swaps or raises MemoryError.

The coefficients are upper estimates from measuring peak memory (ru_maxrss) of runs at full scale
(60,000 staff) on 2026-11-30: a run with the defaults added about 45 MB to the 260 MB process,
each team neighbour about 47 bytes per staff member while the ties are built, each contact 8 bytes,
each kept city (one per replicate in a job) about 350 bytes per staff member, each recorded staff
row (`record_staff_every`) about 147 bytes with 13 practices. The estimate is deliberately above
what was measured (by 25 to 35%); it is a guard against runs that cannot fit, not a prediction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.config import ModelConfig
from sim.errors import UserError
from sim.organisation import scaled_headcounts

MiB = 2**20
GiB = 2**30
#: The Python process with numpy, pandas, numba and Mesa loaded (measured: 260 MB).
PROCESS_BYTES = 300 * MiB
#: Per staff member in a running model: state arrays and their per-month copies.
STAFF_BYTES = 150
#: Per staff member and practice (proficiency, snapshot, gap and institutional arrays).
PRACTICE_BYTES = 24
#: Per staff member and team neighbour while ties are built (networkx lattice, then CSR).
TIE_BYTES = 50
#: Per staff member and contact drawn each month.
CONTACT_BYTES = 8
#: Per staff member and cross-department tie a manager starts (about one in ten is a manager).
CROSS_TIE_BYTES = 10
#: Per staff member and team neighbour in a kept city (its CSR ties only).
CITY_TIE_BYTES = 25
#: Per staff member of a kept city besides its ties (organisation and initial staff).
CITY_STAFF_BYTES = 150
#: Per recorded staff row: fixed columns plus 8 bytes per practice.
RECORD_BYTES = 40
#: The per-agent reference engine keeps a Mesa agent per staff member (assumption: 4x).
REFERENCE_FACTOR = 4
#: Memory a sweep job may spend on kept cities (reused by the designs a worker runs next).
CITY_CACHE_BYTES = 2 * GiB


class ResourceError(UserError):
    """A run or sweep cannot fit the machine; the message says what, how much and what to do."""


@dataclass(frozen=True)
class Need:
    """What one run of a configuration needs."""

    staff: int  # simulated staff
    practices: int
    run_bytes: float  # memory of one model run, recording included
    city_bytes: float  # memory of one kept city (a sweep job keeps one per replicate)
    staff_months: float  # work: simulated staff x months

    def cities_kept(self, replicates: int) -> int:
        """Cities a sweep job keeps for reuse: one per replicate (and one more), as many as
        CITY_CACHE_BYTES holds, at least one."""
        fit = int(CITY_CACHE_BYTES // max(self.city_bytes, 1.0))
        return max(1, min(replicates + 1, fit))

    def job_bytes(self, replicates: int) -> float:
        """Memory of a sweep job: the process, one run and the cities it keeps."""
        return PROCESS_BYTES + self.run_bytes + self.cities_kept(replicates) * self.city_bytes


def simulated_staff(config: ModelConfig, departments: pd.DataFrame, roster_size: int | None) -> int:
    """Staff the model simulates: the roster's, else the departments' headcounts at the scale."""
    if roster_size is not None:
        return roster_size
    sc = config.scenario
    heads = departments["headcount"].to_numpy(dtype=np.int64)
    return int(scaled_headcounts(heads, sc.scale, sc.min_department_size).sum())


def estimate(config: ModelConfig, staff: int, practices: int) -> Need:
    """Memory and work of one run of `config` with `staff` staff and `practices` practices."""
    net, behavior = config.network, config.behavior
    neighbours = 0 if net.kind == "well_mixed" else net.team_neighbours + 1  # + supervisor
    cross = 0.0 if net.kind == "well_mixed" else net.cross_ties_per_manager
    per_staff = (
        STAFF_BYTES
        + PRACTICE_BYTES * practices
        + TIE_BYTES * neighbours
        + CONTACT_BYTES * behavior.contacts_per_month
        + CROSS_TIE_BYTES * cross
    )
    if config.engine == "reference":
        per_staff *= REFERENCE_FACTOR
    run = staff * per_staff
    if config.record_staff_every:
        rows = staff * (config.horizon // config.record_staff_every + 1)
        run += rows * (RECORD_BYTES + 8 * practices)
    city = staff * (CITY_STAFF_BYTES + CITY_TIE_BYTES * neighbours + CROSS_TIE_BYTES * cross)
    return Need(staff, practices, run, city, float(staff) * config.horizon)


#: One core's time per simulated month of a run: a fixed part (the month's Python) and a part
#: per simulated staff member; fitted to 60-month runs timed on 2026-12-06 (0.11 s at 659 staff,
#: 0.30 s at 15,000, 1.5 s at 60,000; `run_seconds` overestimates the middle by up to half).
SECONDS_PER_MONTH, SECONDS_PER_STAFF_MONTH = 1.6e-3, 4e-7


def run_seconds(need: Need) -> float:
    """Rough seconds of one core for one run (`estimate`): for announcing work, never a limit."""
    months = need.staff_months / max(need.staff, 1)
    return months * SECONDS_PER_MONTH + need.staff_months * SECONDS_PER_STAFF_MONTH


def available_bytes() -> int:
    """Memory available to new work now (Linux: MemAvailable; elsewhere physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**62  # unknown: do not refuse


def size(n: float) -> str:
    """Bytes as people read them: '1.4 GiB', '350 MiB'."""
    return f"{n / GiB:.1f} GiB" if n >= GiB else f"{n / MiB:.0f} MiB"


def check_run(need: Need, available: int | None = None) -> None:
    """Refuse a single run that needs more memory than is available (this process is already
    running: only the run's own memory counts)."""
    available = available_bytes() if available is None else available
    if need.run_bytes > available:
        raise ResourceError(
            f"a run of {need.staff:,} simulated staff needs about {size(need.run_bytes)} of "
            "memory and "
            f"this machine has {size(available)} available: lower scenario.scale, "
            "network.team_neighbours, behavior.contacts_per_month or record_staff_every"
        )
