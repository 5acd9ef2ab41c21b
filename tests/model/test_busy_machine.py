"""Numba's threads on a busy machine: the parallel kernels run on one thread while other
processes keep every core busy (two threads would mostly wait for each other), and GNU OpenMP's
idle threads sleep instead of spinning. Neither changes a result (the thread tests in
tests/model/test_model_api.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import numba
import numpy as np
import pytest

from sim import kernels
from tests.conftest import ROOT


@numba.njit(parallel=True, cache=False)
def threads_used(out):
    """How many threads the parallel region was given, written into out[0]."""
    for i in numba.prange(out.size):
        if i == 0:
            out[0] = numba.get_num_threads()


def serial_twin(out):
    out[0] = -1


@pytest.fixture
def loadavg(tmp_path, monkeypatch):
    """Write a /proc/loadavg of our own; the next look at it reads it."""
    path = tmp_path / "loadavg"
    monkeypatch.setattr(kernels, "LOADAVG", str(path))
    monkeypatch.setattr(kernels, "_CORES", 2)

    def write(runnable: int) -> None:
        path.write_text(f"3.10 2.90 2.50 {runnable}/412 98765\n", encoding="ascii")
        kernels._busy["next_look"] = 0.0

    yield write
    kernels._busy.update(next_look=0.0, busy=False)


@pytest.mark.parametrize(
    ("runnable", "busy"),
    [(1, False), (2, False), (3, True), (9, True)],  # this thread + others, on 2 cores
)
def test_the_machine_is_busy_when_others_want_every_core(loadavg, runnable, busy):
    loadavg(runnable)
    assert kernels.machine_busy() is busy


def test_the_busy_look_is_kept_for_a_moment_and_a_missing_file_is_quiet(loadavg, monkeypatch):
    loadavg(5)
    assert kernels.machine_busy()
    loadavg(5)
    kernels._busy["next_look"] = float("inf")  # within BUSY_RECHECK_S: the last look stands
    kernels._busy["busy"] = False
    assert not kernels.machine_busy()
    monkeypatch.setattr(kernels, "LOADAVG", "/no/such/file")
    kernels._busy["next_look"] = 0.0
    assert not kernels.machine_busy()


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="numba has one thread here")
def test_a_busy_machine_gets_one_thread_and_the_setting_is_restored(loadavg):
    out = np.zeros(64, dtype=np.int64)
    threads = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        loadavg(1)
        kernels.launch(threads_used, serial_twin, out)
        assert out[0] == 2
        loadavg(3)
        kernels.launch(threads_used, serial_twin, out)
        assert out[0] == 1 and numba.get_num_threads() == 2  # only for that kernel
        numba.set_num_threads(1)  # the caller's own choice stands (a sweep's workers)
        loadavg(1)
        kernels.launch(threads_used, serial_twin, out)
        assert out[0] == 1
    finally:
        numba.set_num_threads(threads)


def test_idle_openmp_threads_sleep_unless_the_user_chose():
    """The wait policy is set when sim is imported, before numba loads GNU OpenMP."""
    probe = "import os, sim; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    chosen = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, env=env, check=True)  # fmt: skip
    assert chosen.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    mine = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, env=env, check=True)  # fmt: skip
    assert mine.stdout.strip() == "ACTIVE"
