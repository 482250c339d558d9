"""Writes tests/data/openai_spec_subset.json, the hand-written subset of OpenAI's spec.

    python tests/data/make_openai_spec_subset.py tests/data/openai_spec_subset.json

The JSON is what the tests read; this script is how it was written, kept so a
change to the subset is a reviewable change of code.
"""

import json
import sys
from pathlib import Path
from typing import Any

NULL = {"type": "null"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, NULL]}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


S: dict[str, Any] = {}
STRING = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}

# -- shared ---------------------------------------------------------------
S["ChatCompletionRequestMessageContentPartText"] = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"enum": ["text"]}, "text": STRING},
}
S["ChatCompletionRequestMessageContentPartImage"] = {
    "type": "object",
    "required": ["type", "image_url"],
    "properties": {
        "type": {"enum": ["image_url"]},
        "image_url": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": STRING, "detail": {"enum": ["auto", "low", "high"]}},
        },
    },
}
S["ChatCompletionRequestMessageContentPartAudio"] = {
    "type": "object",
    "required": ["type", "input_audio"],
    "properties": {
        "type": {"enum": ["input_audio"]},
        "input_audio": {
            "type": "object",
            "required": ["data", "format"],
            "properties": {"data": STRING, "format": {"enum": ["wav", "mp3"]}},
        },
    },
}
S["ChatCompletionRequestMessageContentPartFile"] = {
    "type": "object",
    "required": ["type", "file"],
    "properties": {
        "type": {"enum": ["file"]},
        "file": {
            "type": "object",
            "properties": {"filename": STRING, "file_data": STRING, "file_id": STRING},
        },
    },
}
S["ChatCompletionRequestMessageContentPartRefusal"] = {
    "type": "object",
    "required": ["type", "refusal"],
    "properties": {"type": {"enum": ["refusal"]}, "refusal": STRING},
}
text_parts = {
    "type": "array",
    "minItems": 1,
    "items": ref("ChatCompletionRequestMessageContentPartText"),
}
S["ChatCompletionRequestSystemMessage"] = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["system"]},
        "content": {"anyOf": [STRING, text_parts]},
        "name": STRING,
    },
}
S["ChatCompletionRequestDeveloperMessage"] = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["developer"]},
        "content": {"anyOf": [STRING, text_parts]},
        "name": STRING,
    },
}
S["ChatCompletionRequestUserMessage"] = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["user"]},
        "content": {
            "anyOf": [
                STRING,
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "oneOf": [
                            ref("ChatCompletionRequestMessageContentPartText"),
                            ref("ChatCompletionRequestMessageContentPartImage"),
                            ref("ChatCompletionRequestMessageContentPartAudio"),
                            ref("ChatCompletionRequestMessageContentPartFile"),
                        ]
                    },
                },
            ]
        },
        "name": STRING,
    },
}
S["ChatCompletionMessageToolCall"] = {
    "type": "object",
    "required": ["id", "type", "function"],
    "properties": {
        "id": STRING,
        "type": {"enum": ["function"]},
        "function": {
            "type": "object",
            "required": ["name", "arguments"],
            "properties": {"name": STRING, "arguments": STRING},
        },
    },
}
S["ChatCompletionRequestAssistantMessage"] = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"enum": ["assistant"]},
        "content": nullable(
            {
                "anyOf": [
                    STRING,
                    {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "oneOf": [
                                ref("ChatCompletionRequestMessageContentPartText"),
                                ref("ChatCompletionRequestMessageContentPartRefusal"),
                            ]
                        },
                    },
                ]
            }
        ),
        "refusal": nullable(STRING),
        "name": STRING,
        "audio": nullable({"type": "object", "required": ["id"], "properties": {"id": STRING}}),
        "tool_calls": {"type": "array", "items": ref("ChatCompletionMessageToolCall")},
        "function_call": nullable(
            {
                "type": "object",
                "required": ["name", "arguments"],
                "properties": {"name": STRING, "arguments": STRING},
            }
        ),
    },
}
S["ChatCompletionRequestToolMessage"] = {
    "type": "object",
    "required": ["role", "content", "tool_call_id"],
    "properties": {
        "role": {"enum": ["tool"]},
        "content": {"anyOf": [STRING, text_parts]},
        "tool_call_id": STRING,
    },
}
S["ChatCompletionRequestFunctionMessage"] = {
    "type": "object",
    "required": ["role", "content", "name"],
    "properties": {"role": {"enum": ["function"]}, "content": nullable(STRING), "name": STRING},
}
S["ChatCompletionRequestMessage"] = {
    "oneOf": [
        ref("ChatCompletionRequestDeveloperMessage"),
        ref("ChatCompletionRequestSystemMessage"),
        ref("ChatCompletionRequestUserMessage"),
        ref("ChatCompletionRequestAssistantMessage"),
        ref("ChatCompletionRequestToolMessage"),
        ref("ChatCompletionRequestFunctionMessage"),
    ]
}
S["FunctionObject"] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"},
        "description": STRING,
        "parameters": {"type": "object"},
        "strict": nullable(BOOL),
    },
}
S["ChatCompletionTool"] = {
    "type": "object",
    "required": ["type", "function"],
    "properties": {"type": {"enum": ["function"]}, "function": ref("FunctionObject")},
}
S["ChatCompletionNamedToolChoice"] = {
    "type": "object",
    "required": ["type", "function"],
    "properties": {
        "type": {"enum": ["function"]},
        "function": {"type": "object", "required": ["name"], "properties": {"name": STRING}},
    },
}
S["ChatCompletionToolChoiceOption"] = {
    "anyOf": [{"enum": ["none", "auto", "required"]}, ref("ChatCompletionNamedToolChoice")]
}
S["ResponseFormatText"] = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": ["text"]}},
}
S["ResponseFormatJsonObject"] = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": ["json_object"]}},
}
S["ResponseFormatJsonSchema"] = {
    "type": "object",
    "required": ["type", "json_schema"],
    "properties": {
        "type": {"enum": ["json_schema"]},
        "json_schema": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"},
                "description": STRING,
                "schema": {"type": "object"},
                "strict": nullable(BOOL),
            },
        },
    },
}
S["ChatCompletionStreamOptions"] = nullable(
    {"type": "object", "properties": {"include_usage": BOOL}, "additionalProperties": False}
)
S["StopConfiguration"] = nullable(
    {"anyOf": [STRING, {"type": "array", "minItems": 1, "maxItems": 4, "items": STRING}]}
)
common_sampling = {
    "model": STRING,
    "temperature": nullable({"type": "number", "minimum": 0, "maximum": 2}),
    "top_p": nullable({"type": "number", "minimum": 0, "maximum": 1}),
    "n": nullable({"type": "integer", "minimum": 1, "maximum": 128}),
    "stream": nullable(BOOL),
    "stream_options": ref("ChatCompletionStreamOptions"),
    "stop": ref("StopConfiguration"),
    "max_tokens": nullable(INT),
    "presence_penalty": nullable({"type": "number", "minimum": -2, "maximum": 2}),
    "frequency_penalty": nullable({"type": "number", "minimum": -2, "maximum": 2}),
    "logit_bias": nullable({"type": "object", "additionalProperties": INT}),
    "seed": nullable(INT),
    "user": STRING,
}
S["CreateChatCompletionRequest"] = {
    "type": "object",
    "required": ["model", "messages"],
    "additionalProperties": False,
    "properties": {
        **common_sampling,
        "messages": {"type": "array", "minItems": 1, "items": ref("ChatCompletionRequestMessage")},
        "max_completion_tokens": nullable(INT),
        "logprobs": nullable(BOOL),
        "top_logprobs": nullable({"type": "integer", "minimum": 0, "maximum": 20}),
        "tools": {"type": "array", "items": ref("ChatCompletionTool")},
        "tool_choice": ref("ChatCompletionToolChoiceOption"),
        "parallel_tool_calls": BOOL,
        "response_format": {
            "oneOf": [
                ref("ResponseFormatText"),
                ref("ResponseFormatJsonSchema"),
                ref("ResponseFormatJsonObject"),
            ]
        },
        "reasoning_effort": nullable({"enum": ["minimal", "low", "medium", "high"]}),
        "service_tier": nullable({"enum": ["auto", "default", "flex", "priority"]}),
        "store": nullable(BOOL),
        "metadata": nullable({"type": "object", "additionalProperties": STRING}),
        "modalities": nullable({"type": "array", "items": {"enum": ["text", "audio"]}}),
        "prediction": nullable({"type": "object"}),
        "audio": nullable({"type": "object"}),
        "function_call": {"anyOf": [{"enum": ["none", "auto"]}, {"type": "object"}]},
        "functions": {"type": "array", "items": ref("FunctionObject")},
    },
}
tokens = {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}}
S["CreateCompletionRequest"] = {
    "type": "object",
    "required": ["model", "prompt"],
    "additionalProperties": False,
    "properties": {
        **common_sampling,
        "prompt": nullable(
            {
                "anyOf": [
                    STRING,
                    {"type": "array", "items": STRING},
                    tokens,
                    {"type": "array", "minItems": 1, "items": tokens},
                ]
            }
        ),
        "best_of": nullable({"type": "integer", "minimum": 0, "maximum": 20}),
        "echo": nullable(BOOL),
        "logprobs": nullable({"type": "integer", "minimum": 0, "maximum": 5}),
        "suffix": nullable(STRING),
    },
}
S["CreateEmbeddingRequest"] = {
    "type": "object",
    "required": ["model", "input"],
    "additionalProperties": False,
    "properties": {
        "model": STRING,
        "input": {
            "anyOf": [
                STRING,
                {"type": "array", "minItems": 1, "maxItems": 2048, "items": STRING},
                tokens,
                {"type": "array", "minItems": 1, "maxItems": 2048, "items": tokens},
            ]
        },
        "encoding_format": {"enum": ["float", "base64"]},
        "dimensions": {"type": "integer", "minimum": 1},
        "user": STRING,
    },
}

# -- responses ------------------------------------------------------------
S["CompletionUsage"] = {
    "type": "object",
    "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
    "properties": {
        "prompt_tokens": INT,
        "completion_tokens": INT,
        "total_tokens": INT,
        "prompt_tokens_details": {
            "type": "object",
            "properties": {"cached_tokens": INT, "audio_tokens": INT},
        },
        "completion_tokens_details": {
            "type": "object",
            "properties": {
                "reasoning_tokens": INT,
                "audio_tokens": INT,
                "accepted_prediction_tokens": INT,
                "rejected_prediction_tokens": INT,
            },
        },
    },
}
S["ChatCompletionResponseMessage"] = {
    "type": "object",
    "required": ["role", "content", "refusal"],
    "properties": {
        "role": {"enum": ["assistant"]},
        "content": nullable(STRING),
        "refusal": nullable(STRING),
        "tool_calls": {"type": "array", "items": ref("ChatCompletionMessageToolCall")},
        "annotations": {"type": "array"},
        "function_call": {"type": "object"},
        "audio": nullable({"type": "object"}),
    },
}
S["ChatCompletionLogprobs"] = nullable(
    {
        "type": "object",
        "required": ["content", "refusal"],
        "properties": {
            "content": nullable({"type": "array"}),
            "refusal": nullable({"type": "array"}),
        },
    }
)
S["CreateChatCompletionResponse"] = {
    "type": "object",
    "required": ["id", "choices", "created", "model", "object"],
    "properties": {
        "id": STRING,
        "object": {"enum": ["chat.completion"]},
        "created": INT,
        "model": STRING,
        "system_fingerprint": STRING,
        "service_tier": nullable(STRING),
        "usage": ref("CompletionUsage"),
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["finish_reason", "index", "message", "logprobs"],
                "properties": {
                    "finish_reason": {
                        "enum": ["stop", "length", "tool_calls", "content_filter", "function_call"]
                    },
                    "index": INT,
                    "message": ref("ChatCompletionResponseMessage"),
                    "logprobs": ref("ChatCompletionLogprobs"),
                },
            },
        },
    },
}
S["ChatCompletionMessageToolCallChunk"] = {
    "type": "object",
    "required": ["index"],
    "properties": {
        "index": INT,
        "id": STRING,
        "type": {"enum": ["function"]},
        "function": {"type": "object", "properties": {"name": STRING, "arguments": STRING}},
    },
}
S["ChatCompletionStreamResponseDelta"] = {
    "type": "object",
    "properties": {
        "content": nullable(STRING),
        "function_call": {"type": "object", "properties": {"name": STRING, "arguments": STRING}},
        "tool_calls": {"type": "array", "items": ref("ChatCompletionMessageToolCallChunk")},
        "role": {"enum": ["developer", "system", "user", "assistant", "tool"]},
        "refusal": nullable(STRING),
    },
}
S["CreateChatCompletionStreamResponse"] = {
    "type": "object",
    "required": ["id", "choices", "created", "model", "object"],
    "properties": {
        "id": STRING,
        "object": {"enum": ["chat.completion.chunk"]},
        "created": INT,
        "model": STRING,
        "system_fingerprint": STRING,
        "service_tier": nullable(STRING),
        "usage": nullable(ref("CompletionUsage")),
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["delta", "finish_reason", "index"],
                "properties": {
                    "delta": ref("ChatCompletionStreamResponseDelta"),
                    "logprobs": ref("ChatCompletionLogprobs"),
                    "finish_reason": nullable(
                        {
                            "enum": [
                                "stop",
                                "length",
                                "tool_calls",
                                "content_filter",
                                "function_call",
                            ]
                        }
                    ),
                    "index": INT,
                },
            },
        },
    },
}
completion_choice = {
    "type": "object",
    "required": ["finish_reason", "index", "logprobs", "text"],
    "properties": {
        "finish_reason": {"enum": ["stop", "length", "content_filter"]},
        "index": INT,
        "logprobs": nullable(
            {
                "type": "object",
                "properties": {
                    "text_offset": {"type": "array", "items": INT},
                    "token_logprobs": {"type": "array", "items": NUM},
                    "tokens": {"type": "array", "items": STRING},
                    "top_logprobs": {"type": "array"},
                },
            }
        ),
        "text": STRING,
    },
}
S["CreateCompletionResponse"] = {
    "type": "object",
    "required": ["id", "choices", "created", "model", "object"],
    "properties": {
        "id": STRING,
        "object": {"enum": ["text_completion"]},
        "created": INT,
        "model": STRING,
        "system_fingerprint": STRING,
        "usage": ref("CompletionUsage"),
        "choices": {"type": "array", "items": completion_choice},
    },
}
chunk_choice = json.loads(json.dumps(completion_choice))
chunk_choice["properties"]["finish_reason"] = nullable(
    completion_choice["properties"]["finish_reason"]
)
S["CreateCompletionStreamResponse"] = {
    "$comment": (
        "Not a schema of the published spec, which streams text completions as "
        "CreateCompletionResponse although their chunks carry finish_reason null until the last; "
        "this one allows that null and a null usage."
    ),
    "type": "object",
    "required": ["id", "choices", "created", "model", "object"],
    "properties": {
        **S["CreateCompletionResponse"]["properties"],
        "usage": nullable(ref("CompletionUsage")),
        "choices": {"type": "array", "items": chunk_choice},
    },
}
S["Embedding"] = {
    "type": "object",
    "required": ["index", "embedding", "object"],
    "properties": {
        "index": INT,
        "embedding": {"anyOf": [{"type": "array", "items": NUM}, STRING]},
        "object": {"enum": ["embedding"]},
    },
}
S["CreateEmbeddingResponse"] = {
    "type": "object",
    "required": ["data", "model", "object", "usage"],
    "properties": {
        "data": {"type": "array", "items": ref("Embedding")},
        "model": STRING,
        "object": {"enum": ["list"]},
        "usage": {
            "type": "object",
            "required": ["prompt_tokens", "total_tokens"],
            "properties": {"prompt_tokens": INT, "total_tokens": INT},
        },
    },
}
S["Model"] = {
    "type": "object",
    "required": ["id", "object", "created", "owned_by"],
    "properties": {"id": STRING, "object": {"enum": ["model"]}, "created": INT, "owned_by": STRING},
}
S["ListModelsResponse"] = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {"object": {"enum": ["list"]}, "data": {"type": "array", "items": ref("Model")}},
}
S["Error"] = {
    "type": "object",
    "required": ["type", "message", "param", "code"],
    "properties": {
        "code": nullable(STRING),
        "message": STRING,
        "param": nullable(STRING),
        "type": STRING,
    },
}
S["ErrorResponse"] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": ref("Error")},
}

document = {
    "$comment": (
        "HAND-WRITTEN SUBSET, NOT A COPY. This file was written by hand, from knowledge of "
        "OpenAI's published OpenAPI spec (openapi.yaml of github.com/openai/openai-openapi), "
        "without access to that file: no network was available. It describes the request and "
        "response schemas of the v1 REST API as that spec stated them in 2025 (info.version "
        "2.3.0, as recalled), for the endpoints llmpipe calls: chat/completions, completions, "
        "embeddings, models, and the error object. It is JSON Schema 2020-12 (OpenAPI 3.1 "
        "style: null is a type, not 'nullable'). Where it departs from the spec it says so: "
        "the three request schemas forbid unknown top-level fields (the API answers them with "
        "'Unrecognized request argument supplied'), and CreateCompletionStreamResponse is not "
        "in the spec. Written by tests/data/make_openai_spec_subset.py."
    ),
    "info": {"title": "OpenAI API (hand-written subset)", "describes_spec_version": "2.3.0"},
    "components": {"schemas": S},
}
Path(sys.argv[1]).write_text(json.dumps(document, indent=1) + "\n")
