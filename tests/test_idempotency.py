"""Idempotency keys (llmpipe._idempotency): unique per call and per process."""

from __future__ import annotations

import os
import random
import subprocess
import sys

from llmpipe._idempotency import new_key


def test_a_key_is_32_hex_digits_and_no_two_calls_share_one():
    keys = {new_key() for _ in range(10_000)}
    assert len(keys) == 10_000
    assert all(len(key) == 32 and int(key, 16) >= 0 for key in keys)


def test_a_forked_child_does_not_repeat_its_parents_keys():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next keys, to the parent
        os.close(read)
        os.write(write, "".join(new_key() for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = "".join(new_key() for _ in range(3))
    assert len(child) == len(parent) == 96
    assert child != parent


def test_an_application_seeding_random_does_not_make_processes_share_keys():
    program = (
        "import random; random.seed(42); from llmpipe._idempotency import new_key; print(new_key())"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(keys) == 2


def test_seeding_random_here_leaves_the_keys_alone():
    random.seed(7)
    first = new_key()
    random.seed(7)
    assert new_key() != first
