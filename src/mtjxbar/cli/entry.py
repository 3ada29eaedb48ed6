"""The ``mtjxbar`` console script: :func:`mtjxbar.cli.main.main`, loaded under a SIGINT handler of its own,
so that Ctrl-C while the command is still loading (torch, numpy and the kernels take seconds) stops it with a
line, not a traceback (an interrupt inside a C extension's import can surface as another exception, so the
handler does not raise: it says so and lets SIGINT's default action stop the process, as a shell reports
it). Nothing has run or been written by then."""

from __future__ import annotations

import os
import signal
import sys


def _stop_while_loading(signum, frame) -> None:
    sys.stderr.write("\nmtjxbar: interrupted while starting; nothing was run\n")
    sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def run() -> int:
    previous = signal.signal(signal.SIGINT, _stop_while_loading)
    try:
        from .main import main
    finally:
        signal.signal(signal.SIGINT, previous)  # main() handles the interrupts after this
    try:
        code = main()
    except SystemExit as stop:  # argparse's --help, --version and usage errors
        code = stop.code
    try:
        sys.stdout.flush()  # what is still buffered (--help's text) is written here, not at exit
    except BrokenPipeError:  # `mtjxbar --help | head -1`: the reader went away; no error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code
