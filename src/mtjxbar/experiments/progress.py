"""Progress lines for long runs (an updating line on a terminal, a few plain lines otherwise), and stopping
them cleanly: :class:`StopRequest` turns SIGINT / SIGTERM into a request that the run honours at its next
sample boundary, after a checkpoint there (:class:`Interrupted`)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import TextIO

__all__ = ["ProgressPrinter", "StopRequest", "Interrupted"]


class Interrupted(KeyboardInterrupt):
    """A run stopped on request at a sample boundary; ``saved``: a checkpoint was written there, ``where``
    says where."""

    def __init__(self, signum: int | None, saved: bool, where: str = "") -> None:
        super().__init__(where)
        self.signum, self.saved, self.where = signum, saved, where


class StopRequest:
    """While installed (a context manager; main thread only), SIGINT and SIGTERM only set a flag: calling
    the object tells whether a stop was asked (the run checks it between samples, saves a checkpoint and
    raises :class:`Interrupted`). A second signal stops at once (``KeyboardInterrupt``)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, stream: TextIO | None = None) -> None:
        self.signum: int | None = None
        self.stream = stream or sys.stderr
        self._old: dict[int, object] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    def _handler(self, signum: int, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        self.stream.write(f"\nmtjxbar: {signal.Signals(signum).name}: stopping at the next sample boundary after "
                          "a checkpoint there (a signal again stops at once, losing the samples since the last "
                          "checkpoint)\n")
        self.stream.flush()

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


class ProgressPrinter:
    """``start(label)``, then ``update(done, total)`` as often as you like, then ``finish(text)``. A run that
    resumes part-way passes where it resumes, ``start(label, done=n)``: the rate and the time left count
    only the samples done since (a resumed epoch that counted its skipped samples as done in no time showed
    hundreds of samples a second and a fraction of the real time left)."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.label, self.started, self.first, self._last_quarter = "", 0.0, 0, -1

    def start(self, label: str, done: int = 0) -> None:
        self.label, self.started, self.first, self._last_quarter = label, time.perf_counter(), done, -1

    def update(self, done: int, total: int) -> None:
        if self.quiet or total <= 0:
            return
        elapsed = time.perf_counter() - self.started
        rate = (done - self.first) / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        shown = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"  # a passive run's 0.4/s is not "0/s"
        text = f"{self.label}: {done}/{total} samples, {shown}/s, {eta:.0f} s left"
        if self.tty:
            self.stream.write("\r" + text.ljust(78))
            self.stream.flush()
        else:
            quarter = 4 * done // total
            if quarter > self._last_quarter and quarter < 4:
                self._last_quarter = quarter
                self.stream.write(text + "\n")
                self.stream.flush()

    def finish(self, text: str) -> None:
        if self.quiet:
            return
        prefix = "\r" if self.tty else ""
        self.stream.write(prefix + f"{self.label}: {text}".ljust(78 if self.tty else 0) + "\n")
        self.stream.flush()
