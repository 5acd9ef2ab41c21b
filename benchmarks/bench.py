"""Speed and memory benchmarks (`make bench`): prints a table and writes benchmarks/latest.json.

1. Full scale: Jakarta at 60,000 staff, all practices, 240 months, default engine: the city's
   construction and the run timed separately, peak memory of the process; in the same process a
   minimal reference kernel (60,000 x 13 proficiencies, 3 contacts each from the same CSR ties,
   gap rule and forgetting fused in one compiled pass, random numbers drawn each month) over the
   same 240 months, and the ratio of the two.
2. Side by side in one process: the same mid-size scenario on the reference (per-agent) engine
   and on the default engine, and the ratio.
3. Sweep throughput: 12 designs x 10 replicates on the laptop scenario with 1 and 2 worker
   processes (joblib/loky, as the sweep launcher uses), including worker start-up.
4. Memory across runs: resident memory after 1 and after 200 consecutive runs in one process.
5. The demo sweep as users run it (`make demo`'s command, full scale, 2 workers) into a fresh
   folder: wall time and the peak resident memory of all its processes together; then
   re-aggregating that finished sweep (`experiments/aggregate.py`), figures and report included.
6. The test suite as CI runs it (`make test` with a warm .venv).
7. A busy machine: the full-scale run (scenario=jakarta, 120 months) with two busy processes
   beside it (`python -c 'while 1: pass'`), on one thread and with the default threads
   (alternating, three times each): the default must not be slower than one thread.

Each part runs in a fresh Python process so that its timings and peak memory are its own.
Numba's compiled kernels are cached on disk; the first run on a machine compiles them, and part 0
measures that once.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rss_mb() -> float:
    """Current resident memory of this process, MB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def part_compile() -> dict:
    """Import and first call of every kernel (compiles them if the disk cache is empty)."""
    t0 = time.perf_counter()
    from sim import ModelConfig, ScenarioConfig, run

    run(ModelConfig(scenario=ScenarioConfig(scale=0.01), horizon=12), 0)
    return {"first_tiny_run_s": time.perf_counter() - t0}


def reference_kernel():
    """The minimal kernel the model's month is compared with (see the module docstring)."""
    import numba as nb
    import numpy as np

    @nb.njit(cache=True)
    def month(prof, indptr, indices, u, rate, keep):
        n, n_pr = prof.shape
        m = u.shape[1]
        delta = np.zeros(n_pr, dtype=np.float32)
        zero = np.float32(0.0)
        for i in range(n):
            lo = indptr[i]
            deg = indptr[i + 1] - lo
            for k in range(n_pr):
                delta[k] = zero
            if deg > 0:
                for c in range(m):
                    j = indices[lo + min(int(u[i, c] * deg), deg - 1)]
                    for k in range(n_pr):
                        delta[k] += rate * max(prof[j, k] - prof[i, k], zero)
            for k in range(n_pr):
                prof[i, k] = (prof[i, k] + delta[k] / m) * keep

    return month


def part_full_scale(months: int = 240) -> dict:
    import numba
    import numpy as np

    from sim import ExchangeModel, ModelConfig, build_city

    ExchangeModel(ModelConfig(horizon=12), 0).release()  # warm imports and kernel loading
    cfg = ModelConfig(horizon=months)
    t0 = time.perf_counter()
    city = build_city(cfg, seed=0)
    t1 = time.perf_counter()
    model = ExchangeModel(cfg, seed=0, city=city)
    t2 = time.perf_counter()
    for _ in range(months):
        model.step()
    t3 = time.perf_counter()
    # the reference kernel on the same ties and proficiencies, drawing its numbers each month
    month = reference_kernel()
    ties, prof = city.structure.ties, city.staff.proficiency.copy()
    rng = np.random.default_rng(0)
    args = (np.float32(0.1), np.float32(0.99))
    month(prof.copy(), ties.indptr, ties.indices, rng.random((prof.shape[0], 3)), *args)
    t4 = time.perf_counter()
    for _ in range(months):
        month(prof, ties.indptr, ties.indices, rng.random((prof.shape[0], 3)), *args)
    reference = time.perf_counter() - t4
    # the month on one thread, as a sweep's workers run it
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    single = ExchangeModel(cfg, seed=0, city=city)
    t5 = time.perf_counter()
    for _ in range(120):
        single.step()
    one_thread = (time.perf_counter() - t5) / 120
    single.release()
    numba.set_num_threads(threads)
    out = {
        "staff": model.n_staff,
        "practices": model.catalogue.n,
        "months": months,
        "threads": threads,
        "construction_s": t1 - t0,
        "reuse_s": t2 - t1,
        "run_s": t3 - t2,
        "ms_per_month": 1000 * (t3 - t2) / months,
        "ms_per_month_1_thread": 1000 * one_thread,
        "reference_kernel_s": reference,
        "ratio": (t1 - t0 + t3 - t2) / reference,
        "peak_memory_mb": peak_mb(),
    }
    model.release()
    return out


def part_busy_run(threads: int | None, months: int = 120) -> dict:
    """The full-scale run of `months` (its city built first) on `threads` numba threads (None:
    the default), timed in wall and CPU seconds; its final index shows that the thread count
    did not change the result."""
    import numba

    from sim import ExchangeModel, ModelConfig, build_city

    if threads:
        numba.set_num_threads(threads)
    ExchangeModel(ModelConfig(horizon=12), 0).release()  # warm imports and kernel loading
    cfg = ModelConfig(horizon=months)
    model = ExchangeModel(cfg, seed=0, city=build_city(cfg, seed=0))
    t0, c0 = time.perf_counter(), time.process_time()
    while model.running:
        model.step()
    return {
        "threads": numba.get_num_threads(),
        "months": months,
        "run_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "final_index": float(model.results().service_index.iloc[-1]),
    }


@contextlib.contextmanager
def busy_processes(count: int):
    """`count` processes that keep a core busy each, stopped on leaving."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5)  # let them take their cores
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def busy_machine(times: int = 3) -> dict:
    """The full-scale run beside two busy processes, one thread and default threads
    alternating (so that a slow spell does not fall on one of them only)."""
    runs: dict[str, list[dict]] = {"busy_1_thread": [], "busy_default": []}
    with busy_processes(2):
        for _ in range(times):
            for name in runs:
                runs[name].append(run_part(name))
    out = {}
    for name, parts in runs.items():
        walls = sorted(r["run_s"] for r in parts)
        out[name] = {**parts[0], "run_s": walls[0], "run_s_median": walls[len(walls) // 2],
                     "run_s_all": walls}  # fmt: skip
    out["same_result"] = len({r["final_index"] for parts in runs.values() for r in parts}) == 1
    return out


def part_side_by_side(scale: float = 0.05, months: int = 60) -> dict:
    from sim import ExchangeModel, ModelConfig, ScenarioConfig, run

    stepping, building = {}, {}
    for engine in ("vectorised", "reference"):
        run(ModelConfig(scenario=ScenarioConfig(scale=0.01), horizon=12, engine=engine), 0)
        cfg = ModelConfig(scenario=ScenarioConfig(scale=scale), horizon=months, engine=engine)
        t0 = time.perf_counter()
        model = ExchangeModel(cfg, seed=1)
        t1 = time.perf_counter()
        for _ in range(months):
            model.step()
        stepping[engine] = time.perf_counter() - t1
        building[engine] = t1 - t0
        staff = model.n_staff
        model.release()
    return {
        "staff": staff,
        "months": months,
        "construction_s": building["vectorised"],
        "reference_s": stepping["reference"],
        "vectorised_s": stepping["vectorised"],
        "speedup": stepping["reference"] / stepping["vectorised"],
        "speedup_with_construction": (building["reference"] + stepping["reference"])
        / (building["vectorised"] + stepping["vectorised"]),
    }


def _sweep_task(cohort: int, frequency: int, seed: int) -> float:
    from threadpoolctl import threadpool_limits

    from sim import ModelConfig, ProgramConfig, ScenarioConfig, run

    cfg = ModelConfig(
        scenario=ScenarioConfig(scale=0.05),
        program=ProgramConfig(cohort_size=cohort, months_between_cohorts=frequency),
    )
    with threadpool_limits(1):
        return float(run(cfg, seed).service_index.iloc[-1])


def part_sweep(workers: int) -> dict:
    from joblib import Parallel, delayed

    designs = [(c, f) for c in (10, 30, 100, 300) for f in (6, 12, 24)]  # the demo grid
    tasks = [(c, f, r) for c, f in designs for r in range(10)]
    t0 = time.perf_counter()
    Parallel(n_jobs=workers, backend="loky")(delayed(_sweep_task)(*t) for t in tasks)
    return {"workers": workers, "runs": len(tasks), "wall_s": time.perf_counter() - t0}


def part_memory(runs: int = 200) -> dict:
    import gc

    from sim import ModelConfig, ScenarioConfig, run

    cfg = ModelConfig(scenario=ScenarioConfig(scale=0.05), horizon=60)
    out = {"runs": runs}
    for seed in range(runs):
        run(cfg, seed)
        if seed + 1 in (1, 20, runs):
            gc.collect()
            tag = {1: "1", 20: "20"}.get(seed + 1, "n")
            out[f"rss_after_{tag}_mb"] = rss_mb()
            out[f"peak_after_{tag}_mb"] = peak_mb()
            out[f"python_objects_after_{tag}"] = len(gc.get_objects())
    return out


def tree_memory_mb(root: int) -> float:
    """Memory of a process and all its descendants, MB: the sum of their proportional set sizes
    (PSS, /proc/<pid>/smaps_rollup), so that pages a forked child shares with its parent are
    counted once, not once per process as resident sizes would."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier and p not in tree]
        tree.update(kids)
        frontier = kids
    total_kb = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total_kb += int(line.split()[1])
                        break
        except (OSError, ValueError):
            continue
    return total_kb / 1024


def timed_command(cmd: list[str], cwd: Path) -> dict:
    """Run a command; its wall time, exit code and the peak memory of its process tree (PSS,
    sampled every 0.2 s)."""
    import threading

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_memory_mb(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    sampler.join()
    return {
        "wall_s": time.perf_counter() - started,
        "returncode": proc.returncode,
        "peak_tree_mb": peak[0],
        "stderr_tail": err.decode(errors="replace")[-1500:] if proc.returncode else "",
    }


def demo_and_aggregate() -> dict:
    """`make demo`'s sweep into a fresh folder, then re-aggregating the finished sweep."""
    import tempfile

    root = HERE.parent
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        sweep = timed_command(
            [python, "experiments/run.py", "-m", "+experiment=cohort_frequency",
             f"hydra.sweep.dir={folder}"],
            root,
        )  # fmt: skip
        aggregate = timed_command([python, "experiments/aggregate.py", str(folder)], root)
    return {"sweep": sweep, "aggregate": aggregate}


def test_suite() -> dict:
    """`make test` with a warm .venv (lint and the suite, as CI runs them)."""
    return timed_command(["make", "test"], HERE.parent)


def repeated(name: str, times: int = 3) -> dict:
    """Run a part `times` times in fresh processes; keep every timing, report min and median.

    The machines this runs on (shared VMs) vary by about +-30% from one process to the next,
    so one timing says little; the minimum is the machine's undisturbed speed.
    """
    runs = [run_part(name) for _ in range(times)]
    out = dict(runs[0])
    for key in ("construction_s", "run_s", "reference_s", "vectorised_s", "wall_s", "ratio"):
        if key in out:
            values = sorted(r[key] for r in runs)
            out[key] = values[0]
            out[f"{key}_median"] = values[len(values) // 2]
            out[f"{key}_all"] = values
    if "speedup" in out:
        out["speedup"] = out["reference_s"] / out["vectorised_s"]
    out["peak_memory_mb"] = max(r.get("peak_memory_mb", 0) for r in runs) or None
    return out


PARTS = {
    "demo": lambda: demo_and_aggregate(),
    "compile": part_compile,
    "full_scale": part_full_scale,
    "side_by_side": part_side_by_side,
    "sweep_1": lambda: part_sweep(1),
    "sweep_2": lambda: part_sweep(2),
    "memory": part_memory,
    "busy_1_thread": lambda: part_busy_run(1),
    "busy_default": lambda: part_busy_run(None),
}


def run_part(name: str) -> dict:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__)), "--part", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark part {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict:
    import numpy

    import sim

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "numpy": numpy.__version__,
        "sim": sim.__version__,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=sorted(PARTS), help="run one part (internal)")
    parser.add_argument("--out", type=Path, default=HERE / "latest.json")
    parser.add_argument(
        "--skip-tests", action="store_true", help="leave out timing the test suite (make test)"
    )
    parser.add_argument(
        "--busy-only", action="store_true", help="only part 7 (a busy machine); prints it"
    )
    args = parser.parse_args()
    if args.part:
        print(json.dumps(PARTS[args.part]()))
        return 0
    if args.busy_only:
        busy = busy_machine()
        for name in ("busy_default", "busy_1_thread"):
            r = busy[name]
            print(f"{name}: {r['threads']} thread(s), run min / median of 3: {r['run_s']:.2f} / "
                  f"{r['run_s_median']:.2f} s (all {[round(x, 2) for x in r['run_s_all']]}), "
                  f"CPU {r['cpu_s']:.2f} s")  # fmt: skip
        print(f"same result on every run: {busy['same_result']}")
        return 0
    results = {"machine": machine()}
    for name in ("compile", "full_scale", "side_by_side", "memory"):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        times = {"full_scale": 3, "side_by_side": 3}.get(name, 1)
        results[name] = repeated(name, times) if times > 1 else run_part(name)
    # the two sweep set-ups alternate, three times each, so that a slow spell of a shared
    # machine does not fall on one of them only; the minimum of each is compared
    print("running sweeps with 1 and 2 workers ...", file=sys.stderr, flush=True)
    sweeps = {"sweep_1": [], "sweep_2": []}
    for _ in range(3):
        for name in sweeps:
            sweeps[name].append(run_part(name))
    for name, runs in sweeps.items():
        walls = sorted(r["wall_s"] for r in runs)
        results[name] = {**runs[0], "wall_s": walls[0], "wall_s_all": walls}
    print("running full-scale runs beside two busy processes ...", file=sys.stderr, flush=True)
    results["busy"] = busy_machine()
    print("running the demo sweep and its aggregation ...", file=sys.stderr, flush=True)
    results["demo"] = demo_and_aggregate()
    if not args.skip_tests:
        print("running make test ...", file=sys.stderr, flush=True)
        results["tests"] = test_suite()
    fs, sbs, mem = results["full_scale"], results["side_by_side"], results["memory"]
    demo, agg = results["demo"]["sweep"], results["demo"]["aggregate"]
    # the compute floor of the demo: up to 370 runs (12 designs x 10 seeds x 3: the design and
    # the two counterfactual runs that split its gain by channel, the one without SOPs skipped
    # where a design adopted none; + 10 no-exchange runs) of 120 months at the single-threaded
    # month time, shared by the 2 workers
    floor = 370 * 120 * fs["ms_per_month_1_thread"] / 1000 / 2
    s1, s2 = results["sweep_1"], results["sweep_2"]
    busy_1, busy_default = results["busy"]["busy_1_thread"], results["busy"]["busy_default"]
    speedup = s1["wall_s"] / s2["wall_s"]
    rows = [
        ("kernel compile / first tiny run", f"{results['compile']['first_tiny_run_s']:.2f} s", ""),
        (
            f"full scale construction of a city ({fs['staff']:,} staff), min of 3",
            f"{fs['construction_s']:.2f} s",
            "<= 0.5 s",
        ),
        ("reusing a built city for another run", f"{fs['reuse_s'] * 1000:.0f} ms", ""),
        (
            f"full scale run ({fs['months']} months, {fs['threads']} threads), min / median of 3",
            f"{fs['run_s']:.2f} / {fs['run_s_median']:.2f} s",
            "",
        ),
        (
            "minimal reference kernel, same months and ties (1 thread)",
            f"{fs['reference_kernel_s']:.2f} s",
            "",
        ),
        (
            "construction + run / reference kernel, min / median of 3",
            f"{fs['ratio']:.2f} / {fs['ratio_median']:.2f}x",
            "<= 1.5x",
        ),
        ("full scale peak memory (one run)", f"{fs['peak_memory_mb']:.0f} MB", "<= 1000 MB"),
        (
            "demo sweep, full scale (12 designs x 10 seeds, 120 months, 2 workers)",
            f"{demo['wall_s']:.0f} s",
            f"<= 270 s (compute floor {floor:.0f} s)",
        ),
        (
            "demo sweep peak memory, all processes (PSS)",
            f"{demo['peak_tree_mb']:.0f} MB",
            "< 2048 MB",
        ),
        (
            "re-aggregating the demo sweep (tables, figures, report)",
            f"{agg['wall_s']:.1f} s",
            "<= 10 s",
        ),  # fmt: skip
        (
            f"reference engine stepping ({sbs['staff']:,} staff, {sbs['months']} months)",
            f"{sbs['reference_s']:.2f} s",
            "",
        ),
        ("default engine stepping, same scenario", f"{sbs['vectorised_s']:.3f} s", ""),
        ("default / reference speed-up (stepping)", f"{sbs['speedup']:.0f}x", ">= 200x"),
        (
            "same, counting model construction",
            f"{sbs['speedup_with_construction']:.0f}x",
            "",
        ),
        (f"sweep {s1['runs']} runs, 1 worker (min of 3)", f"{s1['wall_s']:.1f} s", ""),
        (f"sweep {s2['runs']} runs, 2 workers (min of 3)", f"{s2['wall_s']:.1f} s", ""),
        ("sweep speed-up 2 vs 1 workers", f"{speedup:.2f}x", ">= 1.8x"),
        (
            f"full scale run ({busy_default['months']} months) beside 2 busy processes, "
            f"default ({busy_default['threads']} threads), min / median of 3",
            f"{busy_default['run_s']:.2f} / {busy_default['run_s_median']:.2f} s",
            f"<= 1 thread's{'' if results['busy']['same_result'] else ' RESULTS DIFFER'}",
        ),
        (
            "same beside 2 busy processes, 1 thread, min / median of 3",
            f"{busy_1['run_s']:.2f} / {busy_1['run_s_median']:.2f} s",
            "",
        ),
        (
            "resident memory after 1 / 20 runs",
            f"{mem['rss_after_1_mb']:.0f} / {mem['rss_after_20_mb']:.0f} MB",
            "",
        ),
        (
            f"resident memory after {mem['runs']} runs",
            f"{mem['rss_after_n_mb']:.0f} MB",
            "no growth",
        ),
        (
            f"live Python objects after 20 / {mem['runs']} runs",
            f"{mem['python_objects_after_20']:,} / {mem['python_objects_after_n']:,}",
            "equal",
        ),
    ]
    if "tests" in results:
        rows.append(("make test (warm .venv, 2 cores)", f"{results['tests']['wall_s']:.0f} s",
                     "< 240 s"))  # fmt: skip
    for name, part in (
        ("demo sweep", demo),
        ("aggregation", agg),
        ("make test", results.get("tests")),
    ):
        if part and part["returncode"]:
            rows.append(
                (f"{name} FAILED (exit {part['returncode']})", part["stderr_tail"][-80:], "")
            )
    results["summary"] = {"sweep_speedup": speedup, "demo_floor_s": floor}
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    m = results["machine"]
    print(
        f"{m['date']}  {m['processor']}, {m['cores']} cores, Python {m['python']}, {m['platform']}"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>10}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>10}  {target}")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
