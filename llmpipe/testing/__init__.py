"""A real OpenAI-compatible server with scriptable faults, for testing LLM clients.

    from llmpipe.testing import Fault, LLMServer

    async with LLMServer() as server:
        server.add_faults(Fault(status=429, headers={"Retry-After": "1"}))
        ...  # point the client at server.base_url + "/v1"

For faults at random, reproducibly, under load: `LLMServer(chaos=Chaos(seed=1,
rate=0.1))`, with `Chaos` from this package. For many deployments: `Fleet`
(several servers), each with a `Latency` profile, a `capacity`, and
`go_down()`/`come_back()`.

pytest users get the `llm_server` fixture from `llmpipe.testing.pytest_plugin`.
This package does not import pytest, so it is usable outside tests (demos, the CLI).
"""

from .chaos import RETRYABLE, Chaos, ChaosKind, ChaosRecord
from .faults import Fault
from .fleet import Fleet
from .latency import Latency
from .server import DEFAULT_MODELS, LLMServer, RecordedRequest

__all__ = [
    "DEFAULT_MODELS",
    "RETRYABLE",
    "Chaos",
    "ChaosKind",
    "ChaosRecord",
    "Fault",
    "Fleet",
    "LLMServer",
    "Latency",
    "RecordedRequest",
]
