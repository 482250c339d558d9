"""Real third-party servers for ``make conformance`` (not part of ``make test``).

llama.cpp's server (llama-cpp-python) and a LiteLLM proxy in front of it, as
``/work/shared/realserver`` builds and starts them on loopback; ``run.sh``
starts them. Each fixture checks its server answers, and says how to start
it if not.
"""

from __future__ import annotations

import os
import urllib.request

import pytest

from llmpipe import LLMConfig

LLAMA_CPP = os.environ.get("LLMPIPE_LLAMA_CPP_URL", "http://127.0.0.1:18090")
LITELLM = os.environ.get("LLMPIPE_LITELLM_URL", "http://127.0.0.1:18100")
LITELLM_KEY = os.environ.get("LLMPIPE_LITELLM_KEY", "sk-llmpipe-master")
MODEL = "tiny-llama"


def _answers(url: str, key: str | None) -> bool:
    request = urllib.request.Request(url + "/v1/models")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5):
            return True
    except OSError:
        return False


def _require(url: str, key: str | None, what: str) -> None:
    if not _answers(url, key):
        raise pytest.UsageError(f"{what} does not answer at {url}; run `make conformance`")


@pytest.fixture(scope="session")
def llama_cpp() -> LLMConfig:
    _require(LLAMA_CPP, None, "llama.cpp's server")
    return LLMConfig(base_url=LLAMA_CPP, model=MODEL, max_retries=0, timeout=60)


@pytest.fixture(scope="session")
def litellm() -> LLMConfig:
    _require(LITELLM, LITELLM_KEY, "the LiteLLM proxy")
    return LLMConfig(base_url=LITELLM, api_key=LITELLM_KEY, model=MODEL, max_retries=0, timeout=60)


@pytest.fixture(params=["llama_cpp", "litellm"])
def server(request: pytest.FixtureRequest) -> LLMConfig:
    """Each real server in turn."""
    config: LLMConfig = request.getfixturevalue(request.param)
    return config
