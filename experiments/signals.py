"""How every command stops: SIGTERM (a scheduler, `kill`) ends it the way Ctrl-C does."""

from __future__ import annotations

import contextlib
import os
import signal


class Stop:
    """The signal that stopped a command (Ctrl-C until SIGTERM says otherwise)."""

    def __init__(self) -> None:
        self.signal = signal.SIGINT

    @property
    def how(self) -> str:
        """'Ctrl-C' or 'SIGTERM', for the command's one line."""
        return "Ctrl-C" if self.signal == signal.SIGINT else self.signal.name

    @property
    def exit_code(self) -> int:
        """The shell's code for the signal: 130 for Ctrl-C, 143 for SIGTERM."""
        return 128 + int(self.signal)


@contextlib.contextmanager
def stop_on_signals():
    """SIGTERM ends the command the way Ctrl-C does (a KeyboardInterrupt where it is), so both
    stop cleanly in the command's own handler; yields the `Stop` it fills in."""
    stop = Stop()
    # job processes ended at a stop leave their queues' semaphores to Python's resource
    # tracker, which frees them and warns about each in two lines: nothing is lost
    quiet = "ignore::UserWarning:multiprocessing.resource_tracker"
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), quiet)))

    def on_term(signum, _frame):
        stop.signal = signal.Signals(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)
