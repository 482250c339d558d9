"""ClassifyErrorsMiddleware: non-2xx replies become typed ``LLMAPIError``s.

Every layer outside this one (retry, logging, counting) reasons about the
exception tree, never about raw statuses.
"""

from __future__ import annotations

from llmpipe.errors import api_error_from
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import LLMRequest, LLMResponse

__all__ = ["ClassifyErrorsMiddleware"]


class ClassifyErrorsMiddleware(Middleware):
    """Raise the matching ``LLMAPIError`` for every non-2xx response."""

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        response = await call_next(request)
        if response.status >= 300:
            raise api_error_from(response)
        return response

    def __repr__(self) -> str:
        return "ClassifyErrorsMiddleware()"
