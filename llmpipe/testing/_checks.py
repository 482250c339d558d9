"""Validation of request fields shared by the endpoints.

Each check returns the field's value or raises the 400 (404 for an unknown
model) that the OpenAI API would send, naming the field in `param`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._api_error import ApiError

__all__ = ["json_object", "known_model", "positive_int", "streaming", "texts"]


def json_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def known_model(request: Mapping[str, Any], models: Sequence[str]) -> str:
    model = request.get("model")
    if not isinstance(model, str):
        raise ApiError(400, "You must provide a model parameter.", param="model")
    if model not in models:
        raise ApiError(
            404, f"The model `{model}` does not exist.", param="model", code="model_not_found"
        )
    return model


def positive_int(request: Mapping[str, Any], name: str, most: int | None = None) -> int | None:
    """The field as an int in 1..most, or None if absent."""
    value = request.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApiError(400, f"'{name}' must be a positive integer.", param=name)
    if most is not None and value > most:
        raise ApiError(400, f"'{name}' must be at most {most}.", param=name)
    return value


def _token_ids(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value
    )


def texts(request: Mapping[str, Any], name: str) -> list[str]:
    """A field that holds one string, a non-empty array of strings, a token array or
    an array of token arrays (as the spec allows), as a list of texts.

    A token array stands for the text of its ids joined by spaces: one word,
    so one token, per id.
    """
    value = request.get(name)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return value
        if _token_ids(value):
            return [" ".join(map(str, value))]
        if all(_token_ids(v) and v for v in value):
            return [" ".join(map(str, v)) for v in value]
    raise ApiError(
        400,
        f"'{name}' must be a string, a non-empty array of strings, a token array or an "
        "array of token arrays.",
        param=name,
    )


def streaming(request: Mapping[str, Any]) -> tuple[bool, bool]:
    """`stream`, and `stream_options.include_usage`."""
    stream = request.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be a boolean.", param="stream")
    options = request.get("stream_options")
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ApiError(400, "'stream_options' must be an object.", param="stream_options")
    return bool(stream), options.get("include_usage") is True
