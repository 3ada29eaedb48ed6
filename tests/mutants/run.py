"""Run the planted bugs of :mod:`mutants` (``make mutants``): each must make one of its tests fail.

For each mutant: copy the repository (``src``, ``tests``, ``examples``, ``pyproject.toml``) to a temporary
directory, replace its ``old`` snippet by ``new`` in its file (the snippet must occur exactly once, else the
mutant is *not applicable*: the code moved and the list must follow it), and run its tests there with
``python -m pytest -x -q -p no:cacheprovider`` (``PYTHONPATH`` = the copy's ``src``, ``NUMBA_CACHE_DIR`` in
the temporary directory, shared by the runs so the compiled kernels of unchanged files are reused).

A mutant is *killed* when pytest reports failed tests (exit 1) or errors collecting them (exit 2), and
*survived* when its tests pass (*skipped* when they all skip, e.g. without ngspice: also a failure).
Before the mutants, the union of their tests runs on the unmutated copy (``--no-baseline`` skips it): a
test that fails there kills nothing. Exit status 0 only if the baseline
passes and every mutant applies and is killed.

    python tests/mutants/run.py                 # every mutant
    python tests/mutants/run.py -k c2c          # those whose name contains 'c2c'
    python tests/mutants/run.py --list          # names, files and tests
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("src", "tests", "examples", "pyproject.toml")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", "*.nbi", "*.nbc")
TIMEOUT_S = 600  # per pytest run


def load_mutants():
    spec = importlib.util.spec_from_file_location("mutant_list", Path(__file__).with_name("mutants.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MUTANTS


def fresh_copy(dest: Path) -> None:
    """``dest`` becomes a copy of the repository's tested files (modification times kept: the shared
    numba cache of an unchanged file stays valid)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORED)
        elif src.exists():
            shutil.copy2(src, dest / name)


def apply(copy: Path, mutant) -> str | None:
    """Plant ``mutant`` in ``copy``; the reason it cannot be applied, or None."""
    path = copy / mutant.file
    if not path.is_file():
        return f"{mutant.file} does not exist"
    text = path.read_text()
    found = text.count(mutant.old)
    if found != 1:
        return f"the old snippet occurs {found} times in {mutant.file} (expected exactly once)"
    path.write_text(text.replace(mutant.old, mutant.new))
    return None


def run_pytest(copy: Path, work: Path, tests: list[str]) -> tuple[int, str, float]:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(copy / "src"), NUMBA_CACHE_DIR=str(work / "numba_cache"),
               PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {TIMEOUT_S} s", time.perf_counter() - t0
    return out.returncode, out.stdout + out.stderr, time.perf_counter() - t0


def check_import(copy: Path, work: Path) -> None:
    """The copy's tests must import the copy's package, not the installed one."""
    env = dict(os.environ, PYTHONPATH=str(copy / "src"), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", "import mtjxbar; print(mtjxbar.__file__)"], cwd=copy, env=env,
                         capture_output=True, text=True, check=True)
    where = Path(out.stdout.strip()).resolve()
    if copy.resolve() not in where.parents:
        sys.exit(f"mtjxbar imports from {where}, not from the copy {copy}: cannot test mutants")


def summary_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    error = [line[1:].strip() for line in lines if line.startswith("E ")][:1]
    return " | ".join([(failed[0] if failed else lines[-1] if lines else "(no output)")[:160], *error])[:300]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="only mutants whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the tests")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    mutants = [m for m in load_mutants() if args.k in m.name]
    if not mutants:
        print(f"no mutant matches {args.k!r}")
        return 1
    if args.list:
        for m in mutants:
            print(f"{m.name}\n    {m.file}\n    " + "\n    ".join(m.tests))
        return 0
    work = Path(tempfile.mkdtemp(prefix="mtjxbar-mutants-"))
    copy = work / "repo"
    t_start = time.perf_counter()
    bad = 0
    try:
        fresh_copy(copy)
        check_import(copy, work)
        if not args.no_baseline:
            tests = sorted({t for m in mutants for t in m.tests})
            rc, output, took = run_pytest(copy, work, tests)
            print(f"baseline (unmutated, {len(tests)} test ids): {'passed' if rc == 0 else 'FAILED'} "
                  f"in {took:.0f} s", flush=True)
            if rc != 0:
                print(output[-3000:])
                return 1
        width = max(len(m.name) for m in mutants)
        for m in mutants:
            fresh_copy(copy)
            reason = apply(copy, m)
            if reason is not None:
                bad += 1
                print(f"{m.name:<{width}}  NOT APPLICABLE: {reason}", flush=True)
                continue
            rc, output, took = run_pytest(copy, work, list(m.tests))
            if rc in (1, 2):
                verdict = f"killed    ({took:4.0f} s) {summary_line(output)}"
            else:
                bad += 1
                verdict = {0: "SURVIVED", -1: "TIMEOUT"}.get(rc, f"ERROR (pytest exit {rc})")
                if rc == 0 and " passed" not in output:  # e.g. ngspice absent: nothing ran
                    verdict = "SKIPPED"
                verdict = f"{verdict:<9} ({took:4.0f} s) {summary_line(output)}"
            print(f"{m.name:<{width}}  {verdict}", flush=True)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(mutants) - bad} of {len(mutants)} mutants killed in {time.perf_counter() - t_start:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
