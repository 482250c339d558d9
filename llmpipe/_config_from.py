"""The config a client is built with, from the forms users bring.

``LLM(config)`` is the long form; ``LLM("http://host:8000/v1")`` and the
openai-style ``LLM(base_url=..., api_key=..., model=...)`` are short for an
``LLMConfig`` with those fields. Anything else is refused with a message
that shows a call that works. Messages name settings, never their values:
one of them may be the API key.
"""

from __future__ import annotations

from typing import Any

import attrs

from llmpipe.config import LLMConfig
from llmpipe.wire.arguments import closest

__all__ = ["config_from"]

_FIELDS = tuple(attrs.fields_dict(LLMConfig))
_OPENAI_NAMES = {"default_headers": "extra_headers"}
"""openai-python's names for settings LLMConfig has under another name."""


def config_from(config: Any, settings: dict[str, Any], owner: str) -> LLMConfig:
    """The ``LLMConfig`` that ``owner(config, **settings)`` asks for."""
    if isinstance(config, LLMConfig):
        if settings:
            names = ", ".join(f"{name}=..." for name in sorted(settings))
            raise TypeError(
                f"{owner}() takes a config or settings, not both; change the config: "
                f"{owner}(attrs.evolve(config, {names})), or give only settings: "
                f"{owner}(base_url=..., {names})"
            )
        return config
    if isinstance(config, str):
        if not config.startswith(("http://", "https://")):
            raise TypeError(
                f"{owner}() takes a base URL first, such as 'http://127.0.0.1:8000/v1'; the "
                f"string given is not one (not shown: it may be a key). A key goes in "
                f"{owner}(base_url, api_key=...)"
            )
        if "base_url" in settings:
            raise TypeError(
                f"{owner}() got the base URL twice (first argument and base_url=); give it once"
            )
        settings = {"base_url": config, **settings}
    elif config is not None:
        raise TypeError(
            f"{owner}() takes an LLMConfig or a base URL first, got {type(config).__name__}: "
            f"{owner}('http://127.0.0.1:8000/v1', api_key=..., model=...) or "
            f"{owner}(LLMConfig(base_url=..., ...))"
        )
    for name in settings:
        if name not in _FIELDS:
            raise TypeError(_unknown(name, owner))
    return LLMConfig(**settings)


def _unknown(name: str, owner: str) -> str:
    meant = _OPENAI_NAMES.get(name) or closest(name, _FIELDS)
    hint = f"did you mean {meant}=? " if meant else ""
    return (
        f"{owner}() got an unknown setting {name}=; {hint}The settings are LLMConfig's "
        f"fields: {', '.join(_FIELDS)}"
    )
