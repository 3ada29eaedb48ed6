"""Progress lines for long runs: an updating line on a terminal, a few plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressPrinter"]


class ProgressPrinter:
    """``start(label)``, then ``update(done, total)`` as often as you like, then ``finish(text)``."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.label, self.started, self._last_quarter = "", 0.0, -1

    def start(self, label: str) -> None:
        self.label, self.started, self._last_quarter = label, time.perf_counter(), -1

    def update(self, done: int, total: int) -> None:
        if self.quiet or total <= 0:
            return
        elapsed = time.perf_counter() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        text = f"{self.label}: {done}/{total} samples, {rate:,.0f}/s, {eta:.0f} s left"
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
