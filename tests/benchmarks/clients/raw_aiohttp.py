"""The floor: aiohttp used by hand, as a careful user would without any SDK.

One ClientSession over a TCPConnector sized like llmpipe's pool; each call
encodes its body, posts the bytes and ``json.loads`` the reply. Streams are
read line by line with one ``json.loads`` per event.
"""

from __future__ import annotations

import json

import aiohttp

from tests.benchmarks import payloads
from tests.benchmarks.clients.base import OnEvent

_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {payloads.API_KEY}"}
_DATA = b"data: "
_DONE = b"[DONE]"


class RawAiohttp:
    def __init__(self, base_url: str, connections: int) -> None:
        self._url = base_url + payloads.CHAT_PATH
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def chat(self, model: str) -> str:
        body = json.dumps(payloads.request_body(model)).encode()
        async with self._session.post(self._url, data=body, headers=_HEADERS) as resp:
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}")
            reply = json.loads(await resp.read())
        content: str = reply["choices"][0]["message"]["content"]
        return content

    async def stream(self, model: str, on_event: OnEvent | None = None) -> int:
        body = json.dumps({**payloads.request_body(model), "stream": True}).encode()
        events = 0
        async with self._session.post(self._url, data=body, headers=_HEADERS) as resp:
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}")
            # Read to the end (past [DONE]) so the connection goes back to the pool.
            async for line in resp.content:
                if not line.startswith(_DATA):
                    continue
                data = line[len(_DATA) :].rstrip()
                if data == _DONE:
                    continue
                json.loads(data)["choices"][0]["delta"].get("content")
                events += 1
                if on_event is not None:
                    on_event()
        return events

    async def aclose(self) -> None:
        await self._session.close()


async def connect(base_url: str, connections: int) -> RawAiohttp:
    return RawAiohttp(base_url, connections)
