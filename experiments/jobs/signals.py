"""How every command stops: SIGTERM (a scheduler, `kill`) ends it the way Ctrl-C does."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

#: The signals that stop a command.
STOPS = {signal.SIGINT, signal.SIGTERM}


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
    stop cleanly in the command's own handler; a stop that Python drops (raised inside a gc
    callback or a __del__) is sent again. Yields the `Stop` it fills in."""
    stop = Stop()
    # job processes ended at a stop leave their queues' semaphores to Python's resource
    # tracker, which frees them and warns about each in two lines: nothing is lost
    quiet = "ignore::UserWarning:multiprocessing.resource_tracker"
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), quiet)))

    def on_term(signum, _frame):
        stop.signal = signal.Signals(signum)
        raise KeyboardInterrupt

    unraisable = sys.unraisablehook
    inside = [True]

    def resend() -> None:
        if inside[0]:  # not once the command has left the block
            os.kill(os.getpid(), stop.signal)

    def again(event) -> None:
        # A stop raised where Python cannot raise (a gc callback such as dask's GC diagnosis,
        # a __del__) is dropped with "Exception ignored in ..." and the command runs on: send
        # the signal again in a moment (not from here: it would be raised in this hook and
        # dropped too); it lands once Python is back in ordinary code.
        if isinstance(event.exc_value, KeyboardInterrupt):
            later = threading.Timer(0.05, resend)
            later.daemon = True
            later.start()
        else:
            unraisable(event)

    previous = signal.signal(signal.SIGTERM, on_term)
    sys.unraisablehook = again
    try:
        yield stop
    finally:
        inside[0] = False
        sys.unraisablehook = unraisable
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Note SIGINT and SIGTERM inside and deliver the first as the block ends. CPython loses a
    signal that arrives during fork() (an after-fork hook swallows the KeyboardInterrupt), so a
    stop sent while workers are forked would be missed. (Blocking the signals would not do:
    the process's other threads, pyarrow's say, would still take them.)"""
    came: list[int] = []
    before = {s: signal.signal(s, lambda signum, _frame: came.append(signum)) for s in STOPS}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        if came:
            signal.raise_signal(came[0])  # now, to the command's own handler


def _in_worker() -> None:
    """A forked worker's signals: Ctrl-C is its parent's to handle; SIGTERM (the parent ending
    it) ends it at once, not through the handler it inherited from the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def forked_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """`workers` forked processes, all started at once while a stop is held (`held`), which
    leave Ctrl-C to this process. Stopped (an exception, Ctrl-C, SIGTERM), it ends them at once
    instead of waiting for the work queued, so no process outlives the command."""
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("fork"), initializer=_in_worker
    )
    try:
        with held():
            pool.submit(int).result()  # the fork context starts every worker at the first job
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for process in multiprocessing.active_children():
            process.terminate()
            process.join(timeout=10)
        raise
    pool.shutdown(wait=True)
