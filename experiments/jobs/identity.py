"""What determines a result, as digests: a job's key, a baseline's key, a design's id.

A result is reused only when everything that determines it is unchanged: the resolved model
configuration, the *contents* of every input file (packaged or the user's), the model's code and
packaged data (contents, not the git commit, so an uncommitted edit counts), the code that turns
runs into tables (`JOB_CODE`: the study package and the job), and the versions of Python and the
numerical packages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from functools import cache
from importlib import metadata
from pathlib import Path

import sim
from experiments import PROJECT
from sim import ModelConfig
from sim.inputs.loading import file_digest, sha256
from sim.organisation import packaged_file

#: Packages whose version can change a number in a result.
NUMERICAL_PACKAGES = (
    "numpy",
    "numba",
    "llvmlite",
    "scipy",
    "pandas",
    "pyarrow",
    "networkx",
    "mesa",
)
#: Input files of a scenario and the packaged file used when the setting is empty.
INPUT_FILES = {
    "departments_file": "departments.csv",
    "practices_file": "practices.yaml",
    "roster_file": None,
    "ties_file": None,
}
#: Code outside the `sim` package whose contents determine a job's tables and files: the study
#: package (settings, levers, outcomes, posterior), the job and what it imports of `experiments`
#: (tests/test_architecture.py checks that this is all of it).
JOB_CODE = (
    PROJECT / "experiments" / "__init__.py",
    *sorted((PROJECT / "experiments" / "study").glob("*.py")),
    *(PROJECT / "experiments" / "jobs" / name
      for name in ("__init__.py", "job.py", "cache.py", "identity.py", "outputs.py")),
)  # fmt: skip


def folder_key(what: str | dict) -> str:
    """Short code (10 hex digits) of what a command computes, naming its default results folder
    so that the same command finds the same folder: of a text, or of a table's JSON (sorted
    keys)."""
    text = what if isinstance(what, str) else json.dumps(what, sort_keys=True, default=str)
    return sha256(text.encode())[:10]


def digest(obj) -> str:
    """Digest of a JSON-able object (sorted keys), 16 hex digits."""
    return sha256(json.dumps(obj, sort_keys=True, default=str).encode())[:16]


@cache
def code_digest() -> str:
    """Digest of the model's code and packaged data (every file of the `sim` package) and of
    the study's code (`JOB_CODE`), by contents."""
    root = Path(sim.__file__).resolve().parent
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    h = hashlib.sha256()
    for path in [*files, *JOB_CODE]:
        name = path.relative_to(root if path.is_relative_to(root) else PROJECT).as_posix()
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@cache
def package_versions() -> dict[str, str]:
    """Python and numerical package versions."""
    out = {"python": platform.python_version()}
    for name in NUMERICAL_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def input_paths(config: ModelConfig) -> dict[str, str]:
    """Every input file the configuration reads (packaged ones included), by its setting."""
    out = {}
    for key, packaged in INPUT_FILES.items():
        path = getattr(config.scenario, key)
        if path is None and packaged is not None:
            path = packaged_file(packaged)
        if path is not None:
            out[key] = str(path)
    return out


def input_digests(config: ModelConfig) -> dict[str, str]:
    """Contents digest of every input file the configuration reads (packaged ones included)."""
    return {key: file_digest(path) for key, path in input_paths(config).items()}


def config_identity(config: ModelConfig) -> dict:
    """The configuration with its file paths replaced by their contents' digests (the same
    file moved elsewhere is the same input; an edited file is another)."""
    data = dataclasses.asdict(config)
    for key, value in input_digests(config).items():
        data["scenario"][key] = f"sha256:{value}"
    return data


def design_id(config: ModelConfig, posterior: str | None = None) -> str:
    """Exact identity of a design: equal only for identical configurations and inputs, and the
    same posterior draws file (its digest) if its replicates draw their behaviour from one."""
    if posterior is None:
        return digest(config_identity(config))
    return digest({"config": config_identity(config), "posterior": posterior})


def job_key(
    config: ModelConfig,
    replicates: int,
    seed: int,
    target_gain: float,
    posterior: str | None = None,
) -> str:
    """Identity of a job's results: configuration, inputs, replicates, seeds, target, the
    posterior draws file's digest (if any), code and package versions."""
    key = {
        "config": config_identity(config),
        "replicates": replicates,
        "seed": seed,
        "target_gain": target_gain,
        "code": code_digest(),
        "packages": package_versions(),
    }
    if posterior is not None:
        key["posterior"] = posterior
    return digest(key)


def baseline_key(config: ModelConfig, seed: int) -> str:
    """Identity of a no-exchange run (`config` is already the no-exchange configuration)."""
    return digest(
        {
            "config": config_identity(config),
            "seed": seed,
            "code": code_digest(),
            "packages": package_versions(),
        }
    )
