"""Run the curated mutants (`make mutate`): each must make its tests fail.

    python -m tests.mutation.run [--module NAME] [--list]

The repository is copied to a temporary directory once; each mutant is
applied to the copy, its tests run there with ``pytest -x``, and the file is
put back. The working tree is never touched, so an interrupted run leaves
nothing behind. Before any mutant, the tests are run on the unmutated copy:
a failure there would make every mutant look killed.

A mutant is killed when its tests fail, and survives when they pass. The
report gives, per module, killed/total and the survival rate; a survivor is
either explained (its ``equivalent`` says why no test can tell it apart) or
a gap in the tests, and any gap makes the run fail.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from tests.mutation.mutants import MUTANTS, Mutant

ROOT = Path(__file__).resolve().parents[2]
IGNORED = shutil.ignore_patterns(
    ".git", ".venv*", "__pycache__", ".*_cache", "*.egg-info", "build", "dist"
)
# Each test gets this long: a mutant that hangs a test counts as killed, quickly.
PER_TEST_TIMEOUT = 60
PER_RUN_TIMEOUT = 900


@attrs.frozen
class Outcome:
    mutant: Mutant
    killed: bool
    seconds: float
    detail: str  # the first failing test, or why the run failed

    @property
    def verdict(self) -> str:
        if self.killed:
            return "killed (marked equivalent!)" if self.mutant.equivalent else "killed"
        return "survived (explained)" if self.mutant.equivalent else "SURVIVED"

    @property
    def gap(self) -> bool:
        """A survivor nobody explained, or an 'equivalent' that a test does kill."""
        return self.killed == (self.mutant.equivalent is not None)


def pytest(tree: Path, arguments: Sequence[str]) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "--timeout",
        str(PER_TEST_TIMEOUT),
        *arguments,
    ]
    # No bytecode: a mutant the same size as the original, written within the
    # same second, would otherwise be run from the original's cached .pyc.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(tree)}
    try:
        return subprocess.run(
            command,
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=PER_RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        return subprocess.CompletedProcess(command, -1, str(expired.stdout), "timed out")


def first_failure(run: subprocess.CompletedProcess[str]) -> str:
    for line in run.stdout.splitlines():
        if line.startswith(("FAILED", "ERROR")):
            return line
    return (run.stderr.strip().splitlines() or ["(no output)"])[-1]


def check_snippets(tree: Path, mutants: Sequence[Mutant]) -> list[str]:
    """Mutants whose snippet is not found exactly once: the code moved on."""
    stale = []
    for mutant in mutants:
        count = (tree / mutant.path).read_text().count(mutant.original)
        if count != 1:
            stale.append(f"{mutant.path}: snippet found {count} times ({mutant.bug})")
    return stale


def run_mutant(tree: Path, mutant: Mutant) -> Outcome:
    target = tree / mutant.path
    original = target.read_text()
    target.write_text(original.replace(mutant.original, mutant.replacement))
    started = time.monotonic()
    try:
        run = pytest(tree, mutant.tests)
    finally:
        target.write_text(original)
    seconds = time.monotonic() - started
    if run.returncode not in (0, 1, 2, -1):  # 3-5: pytest itself went wrong, or no tests
        raise RuntimeError(f"{mutant.bug}: pytest exited {run.returncode}: {first_failure(run)}")
    return Outcome(mutant, run.returncode != 0, seconds, first_failure(run))


def report(outcomes: Sequence[Outcome]) -> str:
    lines = []
    by_module: dict[str, list[Outcome]] = collections.defaultdict(list)
    for outcome in outcomes:
        by_module[outcome.mutant.module].append(outcome)
    lines.append(f"{'module':<16}{'killed':>8}{'total':>7}{'survival':>10}")
    for module, group in by_module.items():
        killed = sum(o.killed for o in group)
        rate = (len(group) - killed) / len(group)
        lines.append(f"{module:<16}{killed:>8}{len(group):>7}{rate:>10.0%}")
    killed = sum(o.killed for o in outcomes)
    rate = (len(outcomes) - killed) / len(outcomes)
    lines.append(f"{'all':<16}{killed:>8}{len(outcomes):>7}{rate:>10.0%}")
    explained = [o for o in outcomes if not o.killed and o.mutant.equivalent]
    if explained:
        lines.append("\nexplained survivors (equivalent mutants):")
        lines += [f"- {o.mutant.path}: {o.mutant.bug}\n  {o.mutant.equivalent}" for o in explained]
    gaps = [o for o in outcomes if o.gap]
    if gaps:
        lines.append("\nGAPS:")
        lines += [f"- {o.verdict}: {o.mutant.path}: {o.mutant.bug}" for o in gaps]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", help="run only the mutants of this module")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    args = parser.parse_args(argv)
    mutants = [m for m in MUTANTS if args.module in (None, m.module)]
    if args.list or not mutants:
        for mutant in mutants:
            print(f"{mutant.module:<16}{mutant.path}: {mutant.bug}")
        return 0 if mutants else 2
    with tempfile.TemporaryDirectory(prefix="llmpipe-mutants-") as temporary:
        tree = Path(temporary) / "tree"
        shutil.copytree(ROOT, tree, ignore=IGNORED)
        stale = check_snippets(tree, mutants)
        if stale:
            print("stale mutants (update tests/mutation/mutants.py):", *stale, sep="\n- ")
            return 2
        tests = sorted({arg for m in mutants for arg in m.tests if arg.startswith("tests/")})
        print(f"baseline: {len(tests)} test files on the unmutated copy ...", flush=True)
        baseline = pytest(tree, tests)
        if baseline.returncode != 0:
            print(f"the tests fail without any mutant: {first_failure(baseline)}")
            return 2
        outcomes = []
        for number, mutant in enumerate(mutants, 1):
            outcome = run_mutant(tree, mutant)
            outcomes.append(outcome)
            where = f"{mutant.module}: {mutant.bug} ({outcome.seconds:.0f} s)"
            print(f"[{number:>2}/{len(mutants)}] {outcome.verdict:<22} {where}")
            if outcome.killed and not mutant.equivalent:
                print(f"{'':>29}by {outcome.detail}", flush=True)
    print()
    print(report(outcomes))
    return 1 if any(o.gap for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
