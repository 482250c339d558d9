"""ClassifyErrorsMiddleware: non-2xx replies become typed ``LLMAPIError``s.

Every layer outside this one (retry, logging, counting) reasons about the
exception tree, never about raw statuses.
"""

from __future__ import annotations

from collections.abc import Awaitable

from llmpipe.errors import api_error_from
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import LLMRequest, LLMResponse

__all__ = ["ClassifyErrorsMiddleware"]


class ClassifyErrorsMiddleware(Middleware):
    """Raise the matching ``LLMAPIError`` for every non-2xx response."""

    def wrap(self, call_next: Handler) -> Handler:
        """The layer composed once with ``call_next`` (see ``llmpipe.pipeline``):
        every call crosses it, and a link and ``__call__`` would cost two
        Python calls where this handler costs one."""

        async def classified(request: LLMRequest) -> LLMResponse:
            response = await call_next(request)
            if response.status >= 300:
                raise api_error_from(response)
            return response

        return classified

    def __call__(self, request: LLMRequest, call_next: Handler) -> Awaitable[LLMResponse]:
        """Outside a pipeline: the handler ``wrap`` makes, made for this call."""
        return self.wrap(call_next)(request)

    def __repr__(self) -> str:
        return "ClassifyErrorsMiddleware()"
