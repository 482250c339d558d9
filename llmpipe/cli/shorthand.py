"""``llmpipe "Hello"``: a prompt with no command is a chat, as with ``llm``.

The first word that is neither an option nor an option's value names the
command; when it is no command, ``chat`` is put before it; with no such word at all, a pipe on
stdin makes it a chat too (``echo Hello | llmpipe``). A word close to a
command's name (``modles``) is left for argparse to refuse, so a typo is not
sent to a paid model as a prompt.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

__all__ = ["COMMAND_NAMES", "with_default_command"]

COMMAND_NAMES = ("chat", "complete", "models", "serve")
# The top-level options that take a value (the word after them is not a command).
_TAKES_VALUE = frozenset(
    {"--base-url", "-m", "--model", "--api-key", "--key", "--timeout", "--max-retries"}
)


def with_default_command(argv: Sequence[str], stdin_is_pipe: bool) -> list[str]:
    """``argv`` with ``chat`` inserted before a prompt given without a command."""
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":
            return words
        if word.startswith("-") and word != "-":
            takes_value = word in _TAKES_VALUE  # "--model=x" carries its own
            index += 2 if takes_value else 1
            continue
        if word in COMMAND_NAMES or difflib.get_close_matches(word, COMMAND_NAMES, cutoff=0.75):
            return words
        return [*words[:index], "chat", *words[index:]]
    asks_about_itself = any(word in ("-h", "--help", "--version") for word in words)
    return [*words, "chat"] if stdin_is_pipe and not asks_about_itself else words
