"""The commands README's Quick start gives for the CLI work as written after `make test`
(which, like `make demo` and `make install`, creates .venv), without an activated venv."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def quick_start_commands() -> list[str]:
    """The shell lines of Quick start's fences that mention the venv, comments cut off."""
    section = README.read_text().split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    fences = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    lines = [line.split("#", 1)[0].strip() for fence in fences for line in fence.splitlines()]
    return [line for line in lines if ".venv" in line]


def shell(command: str) -> subprocess.CompletedProcess[str]:
    """Run as a new user's shell would: from the clone's root, no venv on PATH."""
    venv_bin = str(ROOT / ".venv" / "bin")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"PATH": path}
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_quick_start_shows_the_venv_script_and_the_activation():
    assert quick_start_commands() == [".venv/bin/llmpipe --help", "source .venv/bin/activate"]


def test_the_venv_script_runs_the_cli():
    done = shell(quick_start_commands()[0])
    assert done.returncode == 0, done.stderr
    assert "usage: llmpipe" in done.stdout


def test_after_activation_llmpipe_is_on_the_path():
    done = shell(f"{quick_start_commands()[1]} && llmpipe --help")
    assert done.returncode == 0, done.stderr
    assert "usage: llmpipe" in done.stdout


def test_make_demo_ends_by_printing_the_command():
    dry_run = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(ROOT), "demo"],
        capture_output=True,
        text=True,
        check=True,
    )
    last = dry_run.stdout.strip().splitlines()[-1]
    assert last.startswith("echo ")
    assert quick_start_commands()[0] in last
