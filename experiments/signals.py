"""How every command stops: SIGTERM (a scheduler, `kill`) ends it the way Ctrl-C does."""

from __future__ import annotations

import contextlib
import os
import signal


@contextlib.contextmanager
def stop_on_signals():
    """SIGTERM ends the command the way Ctrl-C does (a KeyboardInterrupt where it is), so both
    stop cleanly in the command's own handler; yields a list that holds the signal received."""
    received = [signal.SIGINT]
    # job processes ended at a stop leave their queues' semaphores to Python's resource
    # tracker, which frees them and warns about each in two lines: nothing is lost
    quiet = "ignore::UserWarning:multiprocessing.resource_tracker"
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), quiet)))

    def on_term(signum, _frame):
        received[0] = signal.Signals(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)
