"""The OpenTelemetry semantic-convention names llmpipe's telemetry emits, in one place.

Followed: the **GenAI semantic conventions, latest experimental** (status
"Development"; what ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``
selects in instrumentations that also emit older names). Their ``gen_ai.*``
names are those of OpenTelemetry semantic conventions **1.44.0**, the release
in which the GenAI conventions moved to their own repository
(open-telemetry/semantic-conventions-genai); so ``gen_ai.provider.name``, not
the ``gen_ai.system`` that 1.36.0 and earlier had. llmpipe is a new
instrumentation with no older names to keep, so it emits these only. The
HTTP, ``server.*``, ``url.*`` and ``error.type`` names are the stable ones of
the same release. ``tests/test_observability_semconv.py`` checks every name
here against the ``opentelemetry-semantic-conventions`` package.

Names under ``llmpipe.`` are llmpipe's own, for facts the conventions do not cover.
"""

from __future__ import annotations

from typing import Final

SEMCONV_VERSION: Final = "1.44.0"
SCHEMA_URL: Final = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
STABILITY_OPT_IN: Final = "gen_ai_latest_experimental"
INSTRUMENTATION_SCOPE: Final = "llmpipe"

# -- operations and providers ------------------------------------------------
CHAT: Final = "chat"
TEXT_COMPLETION: Final = "text_completion"
EMBEDDINGS: Final = "embeddings"
PROVIDER_OPENAI: Final = "openai"
TOKEN_INPUT: Final = "input"  # noqa: S105 - a name, not a secret
TOKEN_OUTPUT: Final = "output"  # noqa: S105 - a name, not a secret

# -- gen_ai.* attributes ---------------------------------------------------
OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
REQUEST_TOP_P: Final = "gen_ai.request.top_p"
REQUEST_TOP_K: Final = "gen_ai.request.top_k"
REQUEST_SEED: Final = "gen_ai.request.seed"
REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
REQUEST_STREAM: Final = "gen_ai.request.stream"
REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
OUTPUT_TYPE: Final = "gen_ai.output.type"
RESPONSE_ID: Final = "gen_ai.response.id"
RESPONSE_MODEL: Final = "gen_ai.response.model"
RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE: Final = "gen_ai.token.type"  # noqa: S105 - a name, not a secret
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"

# -- HTTP client, server, url, error (stable) --------------------------------
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_REQUEST_RESEND_COUNT: Final = "http.request.resend_count"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
URL_FULL: Final = "url.full"
ERROR_TYPE: Final = "error.type"

# -- llmpipe's own -------------------------------------------------------------
STREAM_END: Final = "llmpipe.stream.end"
"""How a streamed reply ended: "complete" ([DONE] arrived), "closed" (the caller
stopped early), "abandoned" (dropped unfinished and collected), "failed"."""

# -- metrics, with the bucket boundaries the conventions advise --------------
OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
TOKEN_USAGE: Final = "gen_ai.client.token.usage"  # noqa: S105 - a name, not a secret
TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.operation.time_per_output_chunk"

DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS: Final = tuple(float(4**power) for power in range(14))  # 1 ... 67108864
TIME_TO_FIRST_CHUNK_BUCKETS: Final = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
"""The advice of the conventions' time-to-first-token metric, which this one mirrors."""
TIME_PER_OUTPUT_CHUNK_BUCKETS: Final = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)  # fmt: skip
"""The advice of the conventions' time-per-output-token metric, which this one mirrors."""

# -- content capture -------------------------------------------------------------
CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The switch GenAI instrumentations share: message content is recorded only
when it says "true", "span_only" or "span_and_event" (any case)."""
CAPTURE_CONTENT_ON: Final = frozenset({"true", "span_only", "span_and_event"})
