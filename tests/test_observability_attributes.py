"""The pure parts of the OpenTelemetry layer: body and reply JSON to convention
attributes, message content to the conventions' message shapes, stream folding."""

from __future__ import annotations

import json

import pytest

from llmpipe.observability._attributes import (
    operation_of,
    request_attributes,
    response_attributes,
    server_of,
)
from llmpipe.observability._content import input_messages, output_messages
from llmpipe.observability._streams import ReplyFold


@pytest.mark.parametrize(
    ("endpoint", "operation"),
    [
        ("chat/completions", "chat"),
        ("/chat/completions", "chat"),
        ("completions", "text_completion"),
        ("embeddings", "embeddings"),
        ("openai/deployments/gpt/chat/completions", "chat"),
        ("models", None),
        ("files", None),
    ],
)
def test_the_operation_is_named_by_the_endpoint(endpoint, operation):
    assert operation_of(endpoint) == operation


@pytest.mark.parametrize(
    ("origin", "address", "port", "root"),
    [
        ("http://127.0.0.1:8080/v1", "127.0.0.1", 8080, "http://127.0.0.1:8080/v1/"),
        ("https://api.openai.com:443/v1", "api.openai.com", 443, "https://api.openai.com/v1/"),
        ("http://[::1]:9000", "::1", 9000, "http://[::1]:9000/"),
        ("mock://local", "local", None, "mock://local/"),
    ],
)
def test_the_server_comes_from_the_transports_origin(origin, address, port, root):
    server = server_of(origin)
    assert (server.address, server.port, server.url_root) == (address, port, root)


def test_a_transport_without_an_origin_gives_no_server_attributes():
    assert server_of(None).attributes == {}


def test_a_single_stop_string_is_a_one_item_list():
    assert request_attributes("chat", {"stop": "END"}, False) == {
        "gen_ai.request.stop_sequences": ["END"]
    }


def test_values_of_the_wrong_type_are_left_out():
    body = {"temperature": True, "max_tokens": "50", "seed": 1.5, "stop": [1, 2], "top_p": None}
    assert request_attributes("chat", body, False) == {}


def test_top_k_of_open_model_servers_is_recorded_as_a_number():
    assert request_attributes("chat", {"top_k": 40}, False) == {"gen_ai.request.top_k": 40.0}


def test_max_completion_tokens_counts_as_max_tokens():
    attributes = request_attributes("chat", {"max_completion_tokens": 64}, False)
    assert attributes == {"gen_ai.request.max_tokens": 64}


def test_several_choices_structured_output_and_service_tier_are_recorded():
    body = {"n": 3, "response_format": {"type": "json_schema"}, "service_tier": "flex"}
    assert request_attributes("chat", body, True) == {
        "gen_ai.request.choice.count": 3,
        "gen_ai.output.type": "json",
        "openai.request.service_tier": "flex",
        "gen_ai.request.stream": True,
    }


def test_embedding_requests_record_encoding_format_and_dimensions():
    body = {"encoding_format": "base64", "dimensions": 256}
    assert request_attributes("embeddings", body, False) == {
        "gen_ai.request.encoding_formats": ["base64"],
        "gen_ai.embeddings.dimension.count": 256,
    }


def test_cached_and_reasoning_tokens_are_read_from_the_usage_details():
    reply = {
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 40,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 30},
        }
    }
    assert response_attributes("chat", reply) == {
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 40,
        "gen_ai.usage.cache_read.input_tokens": 64,
        "gen_ai.usage.reasoning.output_tokens": 30,
    }


def test_finish_reasons_follow_the_choices_index_order():
    reply = {
        "choices": [
            {"index": 1, "finish_reason": "length"},
            {"index": 0, "finish_reason": "stop"},
            {"index": 2, "finish_reason": None},
        ]
    }
    assert response_attributes("chat", reply) == {
        "gen_ai.response.finish_reasons": ["stop", "length"]
    }


def test_a_reply_that_is_not_an_object_gives_no_attributes():
    assert response_attributes("chat", ["not", "a", "reply"]) == {}


def test_tool_calls_and_tool_results_take_the_conventions_part_shapes():
    body = {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "rainy, 14 C"},
        ]
    }
    assert json.loads(input_messages("chat", body) or "") == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "weather",
                    "arguments": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy, 14 C"}],
        },
    ]


def test_text_and_image_parts_become_text_and_uri_parts():
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            }
        ]
    }
    assert json.loads(input_messages("chat", body) or "")[0]["parts"] == [
        {"type": "text", "content": "What is this?"},
        {"type": "uri", "modality": "image", "uri": "https://example.com/a.png"},
    ]


def test_a_list_of_prompts_is_one_user_message_each():
    assert json.loads(input_messages("text_completion", {"prompt": ["a", "b"]}) or "") == [
        {"role": "user", "parts": [{"type": "text", "content": "a"}]},
        {"role": "user", "parts": [{"type": "text", "content": "b"}]},
    ]


def test_text_completion_choices_become_assistant_messages():
    reply = {"choices": [{"index": 0, "text": " there", "finish_reason": "length"}]}
    assert json.loads(output_messages("text_completion", reply) or "") == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": " there"}],
            "finish_reason": "length",
        }
    ]


def test_embeddings_have_no_output_messages():
    assert output_messages("embeddings", {"data": [], "choices": []}) is None


SECOND = {"arguments": '": 1}'}


def call(id: str, name: str, arguments: str) -> dict:
    return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_a_folded_stream_assembles_interleaved_tool_call_fragments():
    fold = ReplyFold(chat=True, keep_text=True)
    chunks = [
        {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x'}},
                            {"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}},
                        ]
                    },
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": SECOND}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}},
    ]
    for chunk in chunks:
        fold.add(chunk)
    assert fold.result() == {
        "id": "c1",
        "model": "m",
        "usage": {"prompt_tokens": 5, "completion_tokens": 7},
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [call("a", "f", '{"x": 1}'), call("b", "g", "{}")],
                },
            }
        ],
    }


def test_a_fold_without_content_capture_keeps_no_text():
    fold = ReplyFold(chat=True, keep_text=False)
    fold.add({"choices": [{"index": 0, "delta": {"content": "secret prompt echo"}}]})
    assert "secret" not in json.dumps(fold.result())
