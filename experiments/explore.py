"""Serve the interactive explorer on http://127.0.0.1:PORT; Ctrl-C stops it.

    python experiments/explore.py [--port 8765]

Solara serves experiments/explorer/page.py with its front-end files from the virtual
environment (fetched once by experiments/fetch_assets.py; `make app` does both). Ctrl-C or
SIGTERM ends the explorer within seconds with one line and no process left behind; exit code 130
or 143.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys

from experiments import PROJECT
from experiments.explorer.assets import DEFAULT_FOLDER, AssetError, fill, serve
from experiments.jobs.signals import stop_on_signals
from experiments.present.usage import CommandParser

#: prctl's request that a process get a signal when its parent ends (Linux).
PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """In the server process: end when this command ends, however it ends (even killed)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: a stop still ends it
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (8765)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"error: --port {args.port}: must be 1 to 65535", file=sys.stderr)
        return 2
    try:
        fill(DEFAULT_FOLDER)
    except AssetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    command, env = serve(args.port, DEFAULT_FOLDER)
    print(f"explorer: open http://127.0.0.1:{args.port} in a browser (Ctrl-C stops it)")
    with stop_on_signals() as stop:
        # its own session: Ctrl-C reaches this command only, which ends the server once
        server = subprocess.Popen(
            command, cwd=PROJECT, env=env, start_new_session=True, preexec_fn=_end_with_parent
        )
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            print(f"stopped ({stop.how}): the explorer ended", file=sys.stderr)
            return stop.exit_code


if __name__ == "__main__":
    sys.exit(main())
