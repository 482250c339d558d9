"""The benchmark's relay (tests/benchmarks/relay.py): clients take timed turns in rotation.

These run real child processes speaking the relay's pipe protocol; each child
appends its name to a shared log file at every turn, so the order the runner
granted the turns is read back from what the children did.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.benchmarks.relay import TURN, Relay, turns_for

REPO = Path(__file__).resolve().parents[1]

_TAKER = """
import argparse, sys
from tests.benchmarks.relay import ChildRelay
parser = argparse.ArgumentParser()
parser.add_argument("--name"); parser.add_argument("--log"); parser.add_argument("--relay")
args = parser.parse_args()
turns = 0
for _ in ChildRelay(args.relay).turns():
    with open(args.log, "a") as log:
        log.write(args.name + "\\n")
    turns += 1
print('{"turns": %d}' % turns)
"""

_QUITTER = """
import sys
import time
print('{"unsupported": "not here"}')
sys.exit(0)
"""


def _taker(name: str, log: Path) -> list[str]:
    return [sys.executable, "-c", _TAKER, "--name", name, "--log", str(log)]


def test_every_client_gets_its_turns_and_the_first_rotates(tmp_path: Path) -> None:
    log = tmp_path / "turns.log"
    commands = {name: _taker(name, log) for name in ("a", "b", "c")}

    printed = Relay(commands, str(REPO), deadline=60).run(turns=3)

    assert log.read_text().split() == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    for name in ("a", "b", "c"):
        code, out, _ = printed[name]
        assert (code, out.strip()) == (0, '{"turns": 3}')


def test_a_client_that_ends_early_does_not_stall_the_others(tmp_path: Path) -> None:
    log = tmp_path / "turns.log"
    commands = {
        "a": _taker("a", log),
        "gone": [sys.executable, "-c", _QUITTER],
        "b": _taker("b", log),
    }

    printed = Relay(commands, str(REPO), deadline=60).run(turns=2)

    assert log.read_text().split() == ["a", "b", "b", "a"]
    assert printed["gone"][1].strip() == '{"unsupported": "not here"}'
    assert printed["b"][1].strip() == '{"turns": 2}'


def test_a_client_that_never_answers_is_killed_at_the_deadline() -> None:
    silent = [sys.executable, "-c", "import time; time.sleep(60)"]
    started = time.monotonic()

    printed = Relay({"silent": silent}, str(REPO), deadline=1.5).run(turns=1)

    code, _, err = printed["silent"]
    assert code == -1
    assert "no b'r' within the relay's 1.5 s" in err
    assert time.monotonic() - started < 10


def test_turns_add_up_to_the_samples_seconds() -> None:
    assert turns_for(2.0) * TURN == 2.0
    assert turns_for(0.05) == 1
