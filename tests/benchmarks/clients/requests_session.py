"""``requests.Session``: the naive sync design users come from."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

from tests.benchmarks import payloads


class RequestsSession:
    def __init__(self, base_url: str, connections: int) -> None:
        self._url = base_url + payloads.CHAT_PATH
        self._session = requests.Session()
        self._session.mount("http://", HTTPAdapter(pool_maxsize=connections, max_retries=0))
        self._session.headers["Authorization"] = f"Bearer {payloads.API_KEY}"

    def chat(self, model: str) -> str:
        resp = self._session.post(self._url, json=payloads.request_body(model), timeout=30)
        resp.raise_for_status()
        content: str = resp.json()["choices"][0]["message"]["content"]
        return content

    def close(self) -> None:
        self._session.close()


def connect(base_url: str, connections: int) -> RequestsSession:
    return RequestsSession(base_url, connections)
