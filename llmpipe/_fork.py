"""Knowing that this process is a fork, and leaving the parent's things alone.

After ``os.fork()`` (gunicorn with preload, multiprocessing's fork start
method, Celery) a child holds copies of the parent's event loop and pooled
sockets. Using them would mix the two processes' replies on one socket, so a
child opens its own. Closing them is just as wrong: the copied epoll object
is the parent's too, and closing a socket or a loop in the child unregisters
it there, so the parent stops hearing from its own connections. Inherited
objects are therefore kept referenced, untouched, for the life of the child
(they are a few small objects; the kernel frees them with the process).
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["Forkable", "generation", "keep_inherited", "watch"]

_generation = 0
_inherited: list[object] = []


class Forkable(Protocol):
    def after_fork(self) -> None:
        """Called in a forked child, at once: let go of the parent's things (no I/O)."""


_watched: weakref.WeakSet[Forkable] = weakref.WeakSet()


def watch(owner: Forkable) -> None:
    """Call ``owner.after_fork()`` in every forked child, while ``owner`` lives."""
    _watched.add(owner)


def generation() -> int:
    """How many forks separate this process from the one that imported llmpipe."""
    return _generation


def keep_inherited(*objects: object) -> None:
    """Keep the parent's ``objects`` alive and untouched: never closed, never collected."""
    _inherited.extend(objects)


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1
    for owner in list(_watched):
        owner.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
