"""`make test` installs redis-server with apt-get, through sudo when not root.

The recipe runs for real under make and sh; only the commands it would call
to change the machine (`apt-get`, `sudo`) and the identity it asks (`id`) are
small scripts on PATH that write down how they were called.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _script(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def run_redis_target(tmp_path: Path, uid: int, with_sudo: bool) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    _script(bin_dir, "id", f"echo {uid}")
    _script(bin_dir, "apt-get", f'echo "apt-get $* ($DEBIAN_FRONTEND)" >> {calls}')
    (bin_dir / "env").symlink_to(shutil.which("env") or "/usr/bin/env")
    if with_sudo:
        _script(bin_dir, "sudo", f'echo "sudo $1" >> {calls}; "$@"')
    make = shutil.which("make")
    assert make is not None
    subprocess.run(
        [make, "-s", "-C", str(ROOT), "redis-server"],
        env={"PATH": str(bin_dir)},  # no redis-server on this PATH: the recipe must install it
        check=True,
        capture_output=True,
    )
    return calls.read_text().splitlines()


def test_a_user_who_is_not_root_installs_redis_through_sudo(tmp_path: Path):
    assert run_redis_target(tmp_path, uid=1000, with_sudo=True) == [
        "sudo apt-get",
        "apt-get update -qq ()",
        "sudo env",
        "apt-get install -y -qq redis-server (noninteractive)",
    ]


def test_root_installs_redis_without_sudo(tmp_path: Path):
    assert run_redis_target(tmp_path, uid=0, with_sudo=True) == [
        "apt-get update -qq ()",
        "apt-get install -y -qq redis-server (noninteractive)",
    ]


def test_without_sudo_apt_get_is_called_directly(tmp_path: Path):
    assert run_redis_target(tmp_path, uid=1000, with_sudo=False) == [
        "apt-get update -qq ()",
        "apt-get install -y -qq redis-server (noninteractive)",
    ]
