"""The hidden setups a README snippet may ask for with ``setup=NAME``.

They stand for what the prose around a fragment has already defined (a
client, a config, some messages). The test server is reached through the
environment variable the README documents: the test sets
``LLMPIPE_BASE_URL`` to the bundled server it started (and ``REDIS_URL`` to
its redis-server), so ``LLMConfig.from_env()`` points there, visibly.
"""

from __future__ import annotations

__all__ = ["SETUPS"]

_CONFIG = """\
from llmpipe import LLMConfig, Message

config = LLMConfig.from_env()   # LLMPIPE_BASE_URL: the bundled server the test started
messages = [Message(role="user", content="Hello!")]
"""

SETUPS: dict[str, str] = {
    # `config` and `messages`, for snippets that build their own client.
    "config": _CONFIG,
    # ... and a sync `llm` on them.
    "sync-client": _CONFIG
    + """\
from llmpipe import LLM

llm = LLM(config)
""",
    # ... or an async `llm` (the snippet then uses top-level await).
    "async-client": _CONFIG
    + """\
from llmpipe import AsyncLLM

llm = AsyncLLM(config)
""",
    # The files the networking snippet names, in the snippet's working directory.
    "tls-files": """\
import trustme

_ca = trustme.CA()
_ca.cert_pem.write_to_path("internal-ca.pem")
_cert = _ca.issue_cert("llm.internal")
_cert.cert_chain_pems[0].write_to_path("client.pem")
_cert.private_key_pem.write_to_path("client.key")
""",
    # What a deployment's environment would hold; the routing snippet reads it.
    "routing-env": """\
import os

os.environ["OPENAI_API_KEY"] = "sk-readme-test"   # never sent: no call goes to that deployment
""",
}
