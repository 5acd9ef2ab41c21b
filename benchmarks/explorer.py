"""The explorer's speed (`make bench` runs it after benchmarks/bench.py): prints a table and writes
benchmarks/explorer_latest.json.

1. The server's work, at full scale (all 60,000 staff): Reset (building every run) and each Step
   (a month of every run, then every plot's ECharts option, its patch to the plot's drawing at
   month 0 and the summary as JSON: what is sent to the browser, which merges it), for the
   opening settings (design A on five seeds, each beside its no-exchange run), with design B
   beside A, and with the gain split by channel.
2. The page as `make app` serves it, in Debian's chromium (Playwright), at full scale: seconds
   from a click on Step until the page shows the new month and every plot holds it (the line
   plots end at that month, the others say it), for each set-up (switched on and Reset in the
   page), and the first page and a Reset with the opening settings. Clicks come 0.3 s after the
   last month was drawn; the page runs the next month ahead meanwhile (`RUN_AHEAD_AFTER_S`), so
   a Step measures what the page costs (render, send, draw), not the runs' month (part 1).
   The page's first Step is apart: it may wait for the first month run ahead, the first in the
   server, which took 0.9 s (a later one 0.1-0.3 s); the opening set-up's Steps are the next
   ten. Measured twice: by this script's clock, from before Playwright's click (which first
   checks that the button is visible, stable and enabled, some 40 ms) until the page answers
   that the plots are drawn, and in the page, from the button's pointerdown to the first frame
   showing them. Skipped, with the reason, without chromium or playwright.

The target: a Step at most 0.2 s on 2 cores with the opening settings, click to drawn (this
script's clock). The machine's load average is recorded beside the timings (a shared machine
varies).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

#: Each set-up measured: name -> how it differs from the page's opening settings.
SETUPS = {
    "opening": {},
    "with design B": {"compare": True},
    "split by channel": {"channels": True},
}
#: How the page goes from one set-up to the next: the switches to flip (then Reset).
SWITCHES = {
    "opening": (),
    "with design B": ("Compare with a second design (B)",),
    "split by channel": ("Compare with a second design (B)", "Split the gain by channel"),
}
#: True when the page shows month n (the argument) in every plot: each line series holds months
#: 0..n and each subtitle naming a month names n. Records in the page when it first held
#: (window.__drawnAt, performance.now()).
PLOTS_HOLD_MONTH = """month => {
  const charts = [...document.querySelectorAll('.explorer-plots .solara-echarts')]
    .map(el => el.__vue__ && el.__vue__.chart);
  if (charts.length === 0 || charts.some(chart => !chart)) return false;
  for (const chart of charts) {
    const option = chart.getOption();
    const lines = option.series.filter(s => s.type === 'line');
    if (lines.some(s => s.data.length !== month + 1)) return false;
    const said = ((option.title[0] && option.title[0].subtext) || '').match(/month (\\d+)/);
    if (said && Number(said[1]) !== month) return false;
  }
  if (window.__drawnAt === undefined) window.__drawnAt = performance.now();
  return true;
}"""
#: Before a click: the time of the Step button's next pointerdown, in the page.
ON_POINTERDOWN = """() => {
  window.__clickAt = undefined; window.__drawnAt = undefined;
  window.addEventListener('pointerdown', () => { window.__clickAt = performance.now(); },
                          {capture: true, once: true});
}"""


def server_work(months: int = 12) -> dict:
    """Reset and Step times (s) of each set-up in `SETUPS`, at full scale."""
    from experiments.explorer.charts import summary_html
    from experiments.explorer.controls import default_settings
    from experiments.explorer.page import drawn_now, exploration_of, plots

    out = {}
    for name, change in SETUPS.items():
        t0 = time.perf_counter()
        ex = exploration_of({**default_settings(), **change})
        drawn = {}
        drawn_now(drawn, id(ex), plots(ex))  # month 0, drawn whole
        reset = time.perf_counter() - t0
        steps, runs_only, size = [], [], 0
        for _ in range(months):
            t1 = time.perf_counter()
            ex.step()
            t2 = time.perf_counter()
            _, patches = drawn_now(drawn, id(ex), plots(ex))
            size = len(json.dumps([patches, summary_html(ex)]))
            steps.append(time.perf_counter() - t1)
            runs_only.append(t2 - t1)
        out[name] = {
            "runs": len(ex.models),
            "reset_s": reset,
            "step_s": sorted(steps),
            "runs_month_s": sorted(runs_only),
            "message_kb": size / 1024,
        }
        ex.release()
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def in_the_browser(steps: int = 10) -> dict:
    """Click-to-shown times (s) of Step, the first page and Reset in chromium."""
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "playwright is not installed (pip install -e '.[browser]')"}
    if chromium is None:
        return {"skipped": "Debian's chromium is not installed"}
    from experiments.explorer import assets

    folder = Path(sys.prefix) / "solara-assets"
    subprocess.run(
        [sys.executable, "experiments/fetch_assets.py", str(folder)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    port = free_port()
    command, env = assets.serve(port, folder)
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    return {"skipped": "the explorer did not start within 120 s"}
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            t0 = time.perf_counter()
            page.goto(url)
            page.get_by_text("Month 0 of 120").wait_for(timeout=300_000)
            page.wait_for_function(PLOTS_HOLD_MONTH, arg=0, timeout=60_000)
            first = time.perf_counter() - t0
            out = {"first_page_s": first, "step_s": {}, "in_page_s": {}}

            def step(month: int) -> tuple[float, float]:
                """Click Step, wait until month `month` is drawn: (s by this clock, in page)."""
                time.sleep(0.3)
                page.evaluate(ON_POINTERDOWN)
                t1 = time.perf_counter()
                page.get_by_role("button", name="Step", exact=True).click()
                page.get_by_text(f"Month {month} of 120").wait_for(timeout=60_000)
                page.wait_for_function(PLOTS_HOLD_MONTH, arg=month, timeout=60_000)
                took = time.perf_counter() - t1
                return took, page.evaluate("() => (window.__drawnAt - window.__clickAt) / 1000")

            # the first Step after the server started may wait for the server's first month run
            # ahead (0.9 s against 0.1-0.3 s later): apart, not one of the set-ups' Steps
            out["first_step_s"], _ = step(1)
            shown = 1
            for name, switches in SWITCHES.items():
                if switches:
                    for label in switches:
                        page.locator("label", has_text=label).click()
                    time.sleep(0.5)
                    t2 = time.perf_counter()
                    page.get_by_role("button", name="Reset", exact=True).click()
                    page.get_by_text(f"Month {shown} of 120").wait_for(
                        state="detached", timeout=60_000
                    )
                    page.get_by_text("Month 0 of 120").wait_for(timeout=60_000)
                    page.wait_for_function(PLOTS_HOLD_MONTH, arg=0, timeout=60_000)
                    out.setdefault("reset_s", time.perf_counter() - t2)
                    shown = 0
                months = range(shown + 1, shown + steps + 1)
                times, inside = zip(*(step(month) for month in months), strict=True)
                shown += steps
                out["step_s"][name] = sorted(times)
                out["in_page_s"][name] = sorted(inside)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out


def main() -> int:
    load = os.getloadavg()
    print("explorer: the server's work at full scale ...", file=sys.stderr, flush=True)
    work = server_work()
    print("explorer: the page in chromium ...", file=sys.stderr, flush=True)
    page = in_the_browser()
    results = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load],
        "server": work,
        "browser": page,
    }
    (HERE / "explorer_latest.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = []
    for name, r in work.items():
        steps = r["step_s"]
        rows.append(
            (
                f"explorer Step, server's work, {name} ({r['runs']} runs), min / median",
                f"{steps[0]:.3f} / {steps[len(steps) // 2]:.3f} s",
                "<= 0.2 s" if name == "opening" else "",
            )
        )
        rows.append(
            (
                "  of which the runs' month; Reset; message",
                f"{r['runs_month_s'][0]:.3f} s; {r['reset_s']:.1f} s; {r['message_kb']:.0f} KB",
                "",
            )
        )
    if "skipped" in page:
        rows.append(("explorer Step in chromium", "skipped", page["skipped"]))
    else:
        for name, steps in page["step_s"].items():
            inside = page["in_page_s"][name]
            rows.append(
                (
                    f"explorer Step in chromium, {name}, click to drawn, min / median of "
                    f"{len(steps)}",
                    f"{steps[0]:.3f} / {steps[len(steps) // 2]:.3f} s",
                    "<= 0.2 s" if name == "opening" else "",
                )
            )
            rows.append(
                (
                    "  in the page: pointerdown to the frame drawn, min / median",
                    f"{inside[0]:.3f} / {inside[len(inside) // 2]:.3f} s",
                    "",
                )
            )
        rows.append(
            (
                "explorer first page; its first Step; Reset (with design B), in chromium",
                f"{page['first_page_s']:.1f} s; {page['first_step_s']:.2f} s; "
                f"{page['reset_s']:.1f} s",
                "",
            )
        )
    width = max(len(r[0]) for r in rows)
    print(f"{results['date']}, {results['cores']} cores, load average {load[0]:.1f}")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>20}  {target}")
    print(f"written: {HERE / 'explorer_latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
