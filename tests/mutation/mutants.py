"""The curated mutants: deliberate bugs in the critical modules, each with the
tests that must catch it.

A mutant replaces one exact snippet (found once in its file) with a wrong
version. The first four are the survivors issue 17 named: every test missed
them before. A mutant that no test can kill, because it does not change what
the code does, says why in ``equivalent``; the report lists it as explained.
"""

from __future__ import annotations

import attrs

__all__ = ["MUTANTS", "Mutant"]


@attrs.frozen
class Mutant:
    module: str  # the critical module it belongs to; the report groups by it
    path: str  # relative to the repository root
    original: str  # an exact snippet, found once in the file
    replacement: str
    tests: tuple[str, ...]  # pytest arguments selecting the tests that must fail
    bug: str  # what the mutant breaks, in words
    equivalent: str | None = None  # why no test can tell it apart (an explained survivor)


RETRY_POLICY = "llmpipe/middleware/retry/policy.py"
RETRY_MIDDLEWARE = "llmpipe/middleware/retry/middleware.py"
RETRY_BUDGET = "llmpipe/middleware/retry/budget.py"
SSE = "llmpipe/streaming/sse.py"
FOLDING = "llmpipe/streaming/folding.py"
CALLS = "llmpipe/streaming/_calls.py"
FASTPATH = "llmpipe/wire/fastpath.py"
MASK = "llmpipe/transport/_mask.py"
BODY = "llmpipe/transport/_body.py"
AIOHTTP = "llmpipe/transport/aiohttp.py"
TRANSPORT_ERRORS = "llmpipe/transport/_errors.py"
ERRORS = "llmpipe/errors.py"
CACHE_KEY = "llmpipe/middleware/cache/key.py"
CHECKPOINT = "llmpipe/batch/checkpoint.py"

RETRY_TESTS = ("tests/test_retry_policy.py", "tests/test_retry.py", "tests/test_safety.py")
SSE_TESTS = (
    "tests/test_sse.py",
    "tests/test_sse_vectors.py",
    "tests/test_stream_wire.py",
    "tests/test_stream_faults.py",
)
FOLD_TESTS = (
    "tests/test_streaming.py",
    "tests/test_folding.py",
    "tests/test_chat_surface.py",
    "tests/test_stream_faults.py",
)
FAST_TESTS = ("tests/test_fastpath.py", "tests/test_extra_fields.py")
MASK_TESTS = (
    "tests/test_key_mask.py",
    "tests/test_secrets.py",
    "tests/test_fault_matrix.py",
    "-k",
    "echo or key",
)
ERROR_TESTS = ("tests/test_errors.py", "tests/test_stream_faults.py", "tests/test_fault_matrix.py")
KEY_TESTS = ("tests/test_cache_key.py", "tests/test_cache.py")
CHECKPOINT_TESTS = ("tests/test_batch.py",)

MUTANTS = [
    # --- the survivors of issue 17 ------------------------------------------------
    Mutant(
        "key masking",
        AIOHTTP,
        """                        self._masked_headers(reply.headers),
                        content if self._mask is None else self._mask.body(content),""",
        """                        self._masked_headers(reply.headers),
                        content,""",
        MASK_TESTS,
        "an error reply to a stream=True request is not masked",
    ),
    Mutant(
        "key masking",
        BODY,
        "        mask = self._mask\n        if mask is None:",
        "        mask = None\n        if mask is None:",
        MASK_TESTS,
        "the bytes of a streamed body (SSE chunks) are not masked",
    ),
    Mutant(
        "checkpoint",
        CHECKPOINT,
        "            self._handle.flush()\n            self._sync(self._handle.fileno())\n",
        "            self._handle.flush()\n",
        CHECKPOINT_TESTS,
        "an appended line is flushed but never fsynced",
    ),
    Mutant(
        "retry",
        RETRY_MIDDLEWARE,
        "await self._sleep(delay)",
        "await self._sleep(2 * delay)",
        ("tests/test_retry.py",),
        "the measured schedule end to end is twice the policy's",
    ),
    # --- key masking --------------------------------------------------------------
    Mutant(
        "key masking",
        MASK,
        "        keep = self._start_of_key(data)\n",
        "        keep = 0\n",
        MASK_TESTS,
        "nothing is held back: a key cut across two chunks leaks",
    ),
    Mutant(
        "key masking",
        BODY,
        "        if mask.holding and self._content.at_eof():\n            passed += mask.end()\n",
        "",
        MASK_TESTS,
        "bytes held back at the end of a streamed body are never handed over",
    ),
    Mutant(
        "key masking",
        AIOHTTP,
        """                self._masked_headers(reply.headers),
                content if self._mask is None else self._mask.body(content),""",
        """                self._masked_headers(reply.headers),
                content,""",
        MASK_TESTS,
        "an error reply to a plain request is not masked",
    ),
    Mutant(
        "key masking",
        MASK,
        "        at = data.find(secret[:1], max(0, len(data) - len(secret) + 1))",
        "        at = data.find(secret[:1], max(0, len(data) - len(secret) + 2))",
        MASK_TESTS,
        "the longest possible start of the key (all but its last byte) is not held",
    ),
    Mutant(
        "key masking",
        MASK,
        "            if secret.startswith(data[at:]):\n                return len(data) - at",
        "            if secret.startswith(data[at:]):\n                return len(data) - at - 1",
        MASK_TESTS,
        "one byte too few is held back",
    ),
    Mutant(
        "key masking",
        MASK,
        "content.replace(self._secret, _MASK) if",
        "content.replace(self._secret, _MASK, 1) if",
        MASK_TESTS,
        "only the first echo of the key in a body is masked",
    ),
    Mutant(
        "key masking",
        BODY,
        "at_eof() and not (self._mask is not None and self._mask.holding)",
        "at_eof()",
        MASK_TESTS,
        "the body says it has ended while bytes are still held back",
        equivalent=(
            "read_nowait() already hands the held bytes over in the same call that "
            "sees the end of the body, so at_eof() is never asked while any are held"
        ),
    ),
    # --- retry: policy, middleware, budget -----------------------------------------
    Mutant(
        "retry",
        RETRY_POLICY,
        "delay: float = base_delay * 2**retries",
        "delay: float = base_delay * 2 ** (retries + 1)",
        ("tests/test_retry.py",),
        "the policy's schedule is doubled (caught end to end, without the unit tests)",
    ),
    Mutant(
        "retry",
        RETRY_POLICY,
        "if retries >= limit or not self._retryable(error):",
        "if retries > limit or not self._retryable(error):",
        RETRY_TESTS,
        "one retry more than max_retries",
    ),
    Mutant(
        "retry",
        RETRY_POLICY,
        "            return min(delay, max_delay)",
        "            return delay",
        RETRY_TESTS,
        "max_delay does not cap a delay",
    ),
    Mutant(
        "retry",
        RETRY_POLICY,
        "        if hint <= max_delay or request.options.deadline_at is not None:",
        "        if True:",
        RETRY_TESTS,
        "a server's wait beyond the cap is waited in full, with no deadline to allow it",
    ),
    Mutant(
        "retry",
        RETRY_POLICY,
        '    ("llm_provider-retry-after-ms", "llm_provider-retry-after"),\n',
        "",
        RETRY_TESTS,
        "LiteLLM's llm_provider-retry-after hint is ignored",
    ),
    Mutant(
        "retry",
        RETRY_POLICY,
        '            if verdict == "false":\n                return False',
        '            if verdict == "false":\n                pass',
        RETRY_TESTS,
        "x-should-retry: false is ignored",
    ),
    Mutant(
        "retry",
        RETRY_POLICY,
        "            return error.status_code in self.retry_statuses",
        "            return error.status_code >= 429",
        RETRY_TESTS,
        "every status from 429 up is retried (501 too)",
    ),
    Mutant(
        "retry",
        RETRY_POLICY,
        "        return isinstance(error, LLMConnectionError)",
        "        return False",
        RETRY_TESTS,
        "connection errors and timeouts are never retried",
    ),
    Mutant(
        "retry",
        RETRY_POLICY,
        "            return max(0.0, float(millis) / 1000)",
        "            return max(0.0, float(millis))",
        RETRY_TESTS,
        "retry-after-ms is read as seconds",
    ),
    Mutant(
        "retry",
        RETRY_POLICY,
        "        if limit is None:\n            limit = max_retries",
        "        if True:\n            limit = max_retries",
        RETRY_TESTS,
        "a per-call max_retries is ignored",
    ),
    Mutant(
        "retry",
        RETRY_MIDDLEWARE,
        "            context.attempts = retries + 1",
        "            context.attempts = 1",
        RETRY_TESTS,
        "every attempt is reported as the first",
    ),
    Mutant(
        "retry",
        RETRY_MIDDLEWARE,
        "get_running_loop().time() + delay >= deadline:",
        "get_running_loop().time() + delay >= deadline + 1e9:",
        RETRY_TESTS,
        "a retry that would pass the call's deadline is still waited for",
    ),
    Mutant(
        "retry",
        RETRY_MIDDLEWARE,
        "                if budget is not None and not budget.withdraw():",
        "                if False:",
        RETRY_TESTS,
        "the retry budget is never consulted",
    ),
    Mutant(
        "retry",
        RETRY_BUDGET,
        "        if self._retries + 1 > self.reserve + self.ratio * self._calls:",
        "        if self._retries + 1 >= self.reserve + self.ratio * self._calls:",
        RETRY_TESTS,
        "the budget allows one retry fewer than it should",
    ),
    Mutant(
        "retry",
        RETRY_BUDGET,
        "        while slots and slots[0][0] <= slot - _SLOTS:",
        "        while slots and slots[0][0] < slot - 2 * _SLOTS:",
        RETRY_TESTS,
        "calls and retries are remembered for two windows instead of one",
    ),
    Mutant(
        "retry",
        RETRY_POLICY,
        "            max_retries=_given(self.max_retries, config.max_retries),",
        "            max_retries=self.max_retries,",
        ("tests/test_retry_config.py",),
        "a custom policy drops the config's max_retries for the spec's 3",
    ),
    Mutant(
        "retry",
        RETRY_MIDDLEWARE,
        "            if config.retry_budget is not None:",
        "            if False:",
        ("tests/test_retry_config.py",),
        "a retry layer without a budget of its own drops the config's",
    ),
    Mutant(
        "retry",
        RETRY_MIDDLEWARE,
        "        error = error.after_attempts(retries + 1, _now() - started)",
        "        error = error.after_attempts(retries, _now() - started)",
        ("tests/test_retry_config.py",),
        "the final error counts the retries, not the attempts",
    ),
    # --- SSE parser ---------------------------------------------------------------
    Mutant(
        "SSE parser",
        SSE,
        '            if value[:1] == b" ":\n                value = value[1:]',
        '            value = value.lstrip(b" ")',
        SSE_TESTS,
        "every space after the colon is removed, not one",
    ),
    Mutant(
        "SSE parser",
        SSE,
        '            self._after_cr = buffer.endswith(b"\\r")',
        "            self._after_cr = False",
        SSE_TESTS,
        "a \\r\\n cut between two pieces counts as two line ends",
    ),
    Mutant(
        "SSE parser",
        SSE,
        "        self._tail = lines.pop()\n",
        '        self._tail = b"" if lines.pop() else b""\n',
        SSE_TESTS,
        "a line cut between two pieces loses its first part",
    ),
    Mutant(
        "SSE parser",
        SSE,
        "            if buffer.startswith(_BOM):\n                buffer = buffer[len(_BOM) :]",
        "            if False:\n                buffer = buffer[len(_BOM) :]",
        SSE_TESTS,
        "a leading byte order mark is kept",
    ),
    Mutant(
        "SSE parser",
        SSE,
        'raw = data[0] if len(data) == 1 else b"\\n".join(data)',
        'raw = data[0] if len(data) == 1 else b"".join(data)',
        SSE_TESTS,
        "data lines of one event join without newlines",
    ),
    Mutant(
        "SSE parser",
        SSE,
        '                    data = self._data = []\n                self._event = ""',
        "                    data = self._data = []",
        SSE_TESTS,
        "an event type carries over to the next event",
    ),
    Mutant(
        "SSE parser",
        SSE,
        "        if self._data == [_DONE]:\n            events.append(",
        "        if False:\n            events.append(",
        SSE_TESTS,
        "an unterminated data: [DONE] is dropped at the end: a full answer looks truncated",
    ),
    Mutant(
        "SSE parser",
        SSE,
        "        if self._data == [_DONE]:\n            events.append(",
        "        if self._data:\n            events.append(",
        SSE_TESTS,
        "an event cut off by the end of the stream is dispatched (WHATWG discards it)",
    ),
    Mutant(
        "SSE parser",
        SSE,
        '        elif field == b"error":\n',
        '        elif field == b"error-line-ignored":\n',
        SSE_TESTS,
        "an error: field line is ignored and the stream ends as an empty success",
    ),
    Mutant(
        "SSE parser",
        SSE,
        '            if b"\\0" not in value:\n                self._last_id = ',
        "            if True:\n                self._last_id = ",
        SSE_TESTS,
        "an id containing NUL is kept (WHATWG ignores it)",
    ),
    Mutant(
        "SSE parser",
        SSE,
        '        if line[0] == 0x3A:  # ":" starts a comment\n            return\n',
        "",
        SSE_TESTS,
        "comment lines are no longer skipped before the field is parsed",
        equivalent=(
            "a comment parses as a field with an empty name, which the decoder "
            "ignores like any unknown field: the check is a shortcut, not a rule"
        ),
    ),
    # --- folding ------------------------------------------------------------------
    Mutant(
        "folding",
        CALLS,
        "                self.arguments.append(function.arguments)",
        "                self.arguments = [function.arguments]",
        FOLD_TESTS,
        "only the last fragment of a tool call's arguments is kept",
    ),
    Mutant(
        "folding",
        FOLDING,
        "        if delta.content:\n            self.content.append(delta.content)",
        "        if delta.content:\n            self.content = [delta.content]",
        FOLD_TESTS,
        "only the last piece of text is kept",
    ),
    Mutant(
        "folding",
        FOLDING,
        "            self.usage = chunk.usage\n        extra = chunk.extra\n",
        "            pass\n        extra = chunk.extra\n",
        FOLD_TESTS,
        "a stream's usage is lost",
    ),
    Mutant(
        "folding",
        FOLDING,
        "            self.finish_reason = part.finish_reason",
        "            pass",
        FOLD_TESTS,
        "a streamed finish_reason is lost",
    ),
    Mutant(
        "folding",
        FOLDING,
        "                state = self._texts[choice.index] = _Text()",
        "                state = self._texts[0] = _Text()",
        FOLD_TESTS,
        "the text of every prompt folds into the first choice",
    ),
    Mutant(
        "folding",
        CALLS,
        "        return [call.build() for call in self._calls] or None",
        "        return [call.build() for call in reversed(self._calls)] or None",
        FOLD_TESTS,
        "tool calls are listed in reverse order of their first fragment",
    ),
    Mutant(
        "folding",
        CALLS,
        "        if delta.id and self.id and delta.id != self.id:\n            return False",
        "        if False:\n            return False",
        FOLD_TESTS,
        "two whole calls at one index (Ollama) merge into one",
    ),
    Mutant(
        "folding",
        FOLDING,
        "            self.logprobs = fold_logprobs(self.logprobs, part.logprobs)",
        "            self.logprobs = part.logprobs",
        FOLD_TESTS,
        "only the last chunk's logprobs are kept",
    ),
    Mutant(
        "folding",
        FOLDING,
        "            if isinstance(value, str):\n                self.texts",
        "            if False:\n                self.texts",
        FOLD_TESTS,
        "streamed reasoning_content keeps only its last piece",
    ),
    # --- error mapping ------------------------------------------------------------
    Mutant(
        "error mapping",
        ERRORS,
        "    if status >= 500:\n        return InternalServerError",
        "    if status > 500:\n        return InternalServerError",
        ERROR_TESTS,
        "a 500 is not an InternalServerError",
    ),
    Mutant(
        "error mapping",
        ERRORS,
        "    429: RateLimitError,\n}",
        "}",
        ERROR_TESTS,
        "a 429 is a plain LLMAPIError",
    ),
    Mutant(
        "error mapping",
        ERRORS,
        "    if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:",
        "    if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 499:",
        ERROR_TESTS,
        "a 5xx code in a stream's error event falls back to its type",
    ),
    Mutant(
        "error mapping",
        ERRORS,
        '    "rate_limit_exceeded": 429,\n',
        "",
        ("tests/test_errors.py", "tests/test_stream_faults.py", "tests/test_fault_matrix.py"),
        "an error event with only type rate_limit_exceeded is a 500",
    ),
    Mutant(
        "error mapping",
        TRANSPORT_ERRORS,
        "    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):\n",
        "    if isinstance(exc, asyncio.CancelledError):\n",
        ERROR_TESTS,
        "a timeout is not mapped to LLMTimeoutError",
    ),
    Mutant(
        "error mapping",
        TRANSPORT_ERRORS,
        "    if isinstance(exc, aiohttp.ServerDisconnectedError):",
        "    if isinstance(exc, KeyError):",
        ERROR_TESTS,
        "a server that disconnects gives an unmapped aiohttp error",
    ),
    # --- fast path ------------------------------------------------------------------
    Mutant(
        "fast path",
        FASTPATH,
        "        refusal,\n        EMPTY if value.keys() <= _MESSAGE",
        "        None,\n        EMPTY if value.keys() <= _MESSAGE",
        FAST_TESTS,
        "a message's refusal is dropped (the survivor issue 9 named)",
    ),
    Mutant(
        "fast path",
        FASTPATH,
        "    _D_REFUSAL(delta, refusal)",
        "    _D_REFUSAL(delta, None)",
        FAST_TESTS,
        "a delta's refusal is dropped",
    ),
    Mutant(
        "fast path",
        FASTPATH,
        "        name,\n        tool_call_id,\n",
        "        None,\n        tool_call_id,\n",
        FAST_TESTS,
        "a message's name is dropped",
    ),
    Mutant(
        "fast path",
        FASTPATH,
        "    if type(role) is not str or not role:",
        "    if type(role) is not str:",
        FAST_TESTS,
        "an empty role escapes as a bare ValueError",
    ),
    Mutant(
        "fast path",
        FASTPATH,
        "        EMPTY if value.keys() <= _MESSAGE else _extra(value, _MESSAGE),",
        "        EMPTY,",
        FAST_TESTS,
        "a message's unknown fields (reasoning_content) are dropped",
    ),
    # --- cache key ----------------------------------------------------------------
    Mutant(
        "cache key",
        CACHE_KEY,
        "        if math.isfinite(value) and value.is_integer():\n            return int(value)",
        "        if math.isfinite(value) and value.is_integer():\n            return value",
        KEY_TESTS,
        "1 and 1.0 give different keys",
    ),
    Mutant(
        "cache key",
        CACHE_KEY,
        '        "stream": request.stream,\n',
        "",
        KEY_TESTS,
        "a stream and a plain call share a key",
    ),
    Mutant(
        "cache key",
        CACHE_KEY,
        "text = json.dumps(document, sort_keys=True,",
        "text = json.dumps(document, sort_keys=False,",
        KEY_TESTS,
        "key order in the body changes the key",
    ),
    Mutant(
        "cache key",
        CACHE_KEY,
        '        "endpoint": request.endpoint.strip("/"),\n',
        "",
        KEY_TESTS,
        "two endpoints share a key",
    ),
    Mutant(
        "cache key",
        CACHE_KEY,
        "    if value is None or isinstance(value, (str, bool, int)):",
        "    if value is None or isinstance(value, (str, int)):",
        KEY_TESTS,
        "True and 1 give the same key",
        equivalent=(
            "bool is a subclass of int, so the shorter tuple accepts True exactly as "
            "the longer one does: listing bool only documents the intent"
        ),
    ),
    # --- checkpoint ---------------------------------------------------------------
    Mutant(
        "checkpoint",
        CHECKPOINT,
        "            self._handle.flush()\n            self._sync(self._handle.fileno())\n",
        "            self._sync(self._handle.fileno())\n            self._handle.flush()\n",
        CHECKPOINT_TESTS,
        "the fsync comes before the line leaves Python's buffer: it makes nothing durable",
    ),
    Mutant(
        "checkpoint",
        CHECKPOINT,
        "    def open(cls, path: str | Path, *, sync: Sync = os.fsync) -> Checkpoint:",
        "    def open(cls, path: str | Path, *, sync: Sync = lambda fd: None) -> Checkpoint:",
        CHECKPOINT_TESTS,
        "a batch's checkpoint is never synced (the default is a no-op)",
    ),
    Mutant(
        "checkpoint",
        CHECKPOINT,
        "                handle.flush()\n                sync(handle.fileno())",
        "                handle.flush()",
        CHECKPOINT_TESTS,
        "cutting a partial last line is not made durable",
    ),
    Mutant(
        "checkpoint",
        CHECKPOINT,
        "            if created:\n                _sync_directory(path.parent, sync)",
        "            if False:\n                _sync_directory(path.parent, sync)",
        CHECKPOINT_TESTS,
        "a new checkpoint file's directory entry is not made durable",
    ),
    Mutant(
        "checkpoint",
        CHECKPOINT,
        '            keep = data.rfind(b"\\n") + 1',
        "            keep = len(data)",
        CHECKPOINT_TESTS,
        "a partial last line left by a crash is kept",
    ),
    Mutant(
        "checkpoint",
        CHECKPOINT,
        "            records[index] = record",
        "            records.setdefault(index, record)",
        CHECKPOINT_TESTS,
        "the first line of an index wins, not the last",
    ),
]
