"""What the server counts as a token, and cutting a reply to `max_tokens`.

A token is a whitespace-separated word, for prompts and replies alike: crude,
but exact and easy to predict in a test, which real tokenizers are not.
"""

from __future__ import annotations

__all__ = ["truncate", "words"]


def words(text: str) -> int:
    """The token count of `text`: its whitespace-separated words."""
    return len(text.split())


def truncate(text: str, max_tokens: int | None) -> tuple[str, str]:
    """The reply cut to `max_tokens` words, and its finish_reason."""
    split = text.split()
    if max_tokens is not None and len(split) > max_tokens:
        return " ".join(split[:max_tokens]), "length"
    return text, "stop"
