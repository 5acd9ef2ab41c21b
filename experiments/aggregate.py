"""Combine the jobs of a sweep (or one run) into tables, figures and a report.

    python experiments/aggregate.py results/sweeps/cohort_frequency/<key>
    python experiments/aggregate.py results/runs/default/<date_time>      # one design

Reads exactly the jobs of the sweep's current definition (`sweep.json`; every numbered job
folder when there is none) and writes <folder>/aggregate/: timeseries, summary, designs,
effects, comparisons (.parquet and .csv), baseline.parquet, departments.parquet, failed_jobs,
provenance.json, figures/*.png|svg and report.html. The folder is built aside and put in place
whole, so a failed aggregation leaves no report at all rather than a stale one. Runs by itself at
the end of `experiments/run.py`. Exit code 0 on success, 1 when the aggregation failed (a damaged
or unreadable file, a full disk: one line names it) or jobs are missing from it, 2 for a folder
that is not a sweep or run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments.jobs import store
from experiments.jobs.signals import stop_on_signals
from experiments.present import publish
from experiments.present.terminal import print_ranking
from experiments.present.usage import CommandParser
from sim import UserError


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="a sweep folder or a single run's folder")
    parser.add_argument("--title", help="report title")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"error: {args.folder}: not a folder", file=sys.stderr)
        return 2
    try:
        store.check_results_folder(args.folder)
        with stop_on_signals() as stop, store.writing(args.folder, "experiments/aggregate.py"):
            try:
                report = publish.aggregate(args.folder, args.title)
            except KeyboardInterrupt:
                print(f"stopped ({stop.how}): the aggregation did not finish; the last report, "
                      "if any, is kept", file=sys.stderr)  # fmt: skip
                return stop.exit_code
    except store.Refused as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except store.AggregationError as err:
        print(f"error: aggregation failed: {err}", file=sys.stderr)
        print(f"  no report was kept in {args.folder / store.AGGREGATE}", file=sys.stderr)
        return 1
    except UserError as err:  # another command writes in the folder
        print(f"error: {err}", file=sys.stderr)
        return 1
    print_ranking(store.read_designs(args.folder))
    note = publish.scale_note(args.folder)
    if note:
        print(note)
    print(f"report: {report}")
    try:
        problems = store.problems(store.status(args.folder))
    except UserError as err:  # sweep.json damaged since the aggregation read it
        print(f"error: {err}", file=sys.stderr)
        return 1
    if problems:
        print(
            f"error: {len(problems)} job(s) failed or did not finish and are not in the "
            "report; run the sweep's command again to retry them",
            file=sys.stderr,
        )
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
