"""What a job reuses: the city of a seed (built once per process) and the no-exchange run
of a seed, cached on disk by `identity.baseline_key` with checksums.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.jobs import identity
from experiments.jobs.outputs import (
    atomic_write_bytes,
    checksum,
    json_bytes,
    parquet_bytes,
)
from sim import (
    City,
    ModelConfig,
    RunResult,
    build_city,
    run_detailed,
)
from sim.errors import StorageError
from sim.model import without_program
from sim.pairing import no_exchange

#: Cities built in this process, the most recently used last (`city_for`).
_CITIES: OrderedDict[str, City] = OrderedDict()


def city_for(config: ModelConfig, seed: int, keep: int = 1) -> City:
    """The city of `config` (organisation, ties and initial staff: everything but the program)
    with this seed, built once per process and reused by every design run with the seed and by
    its no-exchange run: the runs are the same as when each builds its own (common random
    numbers). Keyed by what builds a city (`sim.model.without_program`, the City's own key) with
    its input files' contents; the `keep` most recently used cities are kept."""
    what = identity.config_identity(without_program(config))  # what builds it, files by contents
    key = identity.digest({"city": what, "seed": seed})
    city = _CITIES.pop(key, None)
    if city is None:
        city = build_city(config, seed)
    _CITIES[key] = city
    while len(_CITIES) > max(keep, 1):
        _CITIES.popitem(last=False)
    return city


def baseline_run(
    config: ModelConfig, seed: int, cache_dir: Path | None, keep: int = 1
) -> RunResult:
    """The no-exchange run with this seed (monthly city and department tables).

    Every job of a sweep needs the same baselines, so they are cached in the sweep folder under
    `identity.baseline_key`: the no-exchange configuration with its inputs' contents, the seed,
    the code and the package versions. A cache entry that cannot be read or fails its checksum
    is deleted and computed again, with a note: the cache never fails a job.
    """
    base = no_exchange(config)
    if cache_dir is None:
        return run_detailed(base, seed, city_for(base, seed, keep))
    stem = Path(cache_dir) / identity.baseline_key(base, seed)
    cached = cached_baseline(stem)
    if cached is not None:
        return cached
    result = run_detailed(base, seed, city_for(base, seed, keep))
    cache_baseline(stem, result)
    return result


def _cache_files(stem: Path) -> dict[str, Path]:
    """The tables of a baseline cache entry (its `.checksums.json`, written last, completes it)."""
    return {part: stem.with_suffix(f".{part}.parquet") for part in ("city", "departments")}


def _cache_problem(err: Exception) -> str:
    if isinstance(err, FileNotFoundError):
        return "is missing"
    if isinstance(err, KeyError | TypeError):
        return "has no checksum recorded"
    return f"is unreadable ({type(err).__name__}: {' '.join(str(err).split())[:200]})"


def cached_baseline(stem: Path) -> RunResult | None:
    """The cached no-exchange run at `stem`; None when there is none or it is damaged (then its
    files are deleted, with a one-line note naming the damaged file)."""
    marker, files = stem.with_suffix(".checksums.json"), _cache_files(stem)
    if not marker.exists():
        return None
    frames, current, problem = {}, marker, None
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        for part, path in files.items():
            current, data = path, path.read_bytes()
            if checksum(data) != recorded[part]:
                problem = "does not match its checksum (truncated or altered)"
                break
            frames[part] = pd.read_parquet(io.BytesIO(data))
    except Exception as err:  # whatever is wrong with the cache, it must not fail the job
        problem = _cache_problem(err)
    if problem is None:
        return RunResult(frames["city"], frames["departments"], np.zeros((0, 0)))
    print(f"note: baseline cache {current} {problem}: deleted, computed again", file=sys.stderr)
    for path in [marker, *files.values()]:
        with contextlib.suppress(OSError):
            path.unlink()
    return None


def cache_baseline(stem: Path, result: RunResult) -> None:
    """Keep a no-exchange run in the cache, its checksums last; when the cache cannot be written
    (a full disk) the job goes on without it, with a note."""
    contents = {
        "city": parquet_bytes(result.months),
        "departments": parquet_bytes(result.departments),
    }
    try:
        for part, path in _cache_files(stem).items():
            atomic_write_bytes(path, contents[part])
        recorded = {part: checksum(data) for part, data in contents.items()}
        atomic_write_bytes(stem.with_suffix(".checksums.json"), json_bytes(recorded))
    except StorageError as err:
        print(f"note: baseline cache not kept: {err}", file=sys.stderr)
