"""Tools, structured output, embeddings and rich messages over loopback."""

import enum
import json
from typing import Literal

import attrs
import pytest

from llmpipe import (
    LLM,
    EmbeddingResponse,
    ImagePart,
    ImageURL,
    LLMResponseError,
    Message,
    TextPart,
    json_schema,
)
from llmpipe.testing import Fault

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}
ASK = [Message(role="user", content="What is the weather in Paris?")]


class Mood(enum.Enum):
    CALM = "calm"
    STORMY = "stormy"


@attrs.frozen
class Place:
    name: str
    zip: str | None = None


@attrs.frozen
class Forecast:
    city: str
    days: int
    mood: Mood
    kind: Literal["rain", "sun"]
    stops: list[Place]
    home: Place


async def test_tools_and_tool_choice_pass_through_and_calls_are_typed(llm_server, client):
    reply = await client.chat_completion(ASK, tools=[WEATHER], tool_choice="auto")
    body = llm_server.requests[0].json
    assert body["tools"] == [WEATHER]
    assert body["tool_choice"] == "auto"
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) == {"city", "days"}
    assert call.id == "call_0"


async def test_streamed_tool_call_fragments_assemble_into_the_same_calls(client):
    plain = await client.chat_completion(ASK, tools=[WEATHER, TIME])
    stream = await client.chat_completion(ASK, tools=[WEATHER, TIME], stream=True)
    chunks = [chunk async for chunk in stream]
    fragments = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or ())]
    assert len(fragments) > 4  # arguments really arrived in pieces
    assert {f.index for f in fragments} == {0, 1}
    folded = stream.response
    assert folded.choices[0].message.tool_calls == plain.choices[0].message.tool_calls
    assert folded.choices[0].finish_reason == "tool_calls"


async def test_tool_result_messages_round_trip(llm_server, client):
    reply = await client.chat_completion(ASK, tools=[WEATHER])
    assistant = reply.choices[0].message
    [call] = assistant.tool_calls
    follow_up = [
        *ASK,
        assistant,
        Message(role="tool", tool_call_id=call.id, content='{"temp": 21}'),
        Message(role="user", content="thanks"),
    ]
    final = await client.chat_completion(follow_up)
    sent = llm_server.requests[-1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[2] == {"role": "tool", "content": '{"temp": 21}', "tool_call_id": call.id}
    assert final.choices[0].message.content == "Echo: thanks"


async def test_multimodal_parts_are_sent_as_openai_content_parts(llm_server, client):
    message = Message(
        role="user",
        content=[
            TextPart(text="What is in"),
            ImagePart(image_url=ImageURL(url="https://example.test/cat.png", detail="low")),
            TextPart(text="this picture?"),
        ],
    )
    reply = await client.chat_completion([message])
    [sent] = llm_server.requests[0].json["messages"]
    assert sent["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.test/cat.png", "detail": "low"},
    }
    assert reply.choices[0].message.content == "Echo: What is in this picture?"
    assert message.text == "What is inthis picture?"


async def test_developer_role_and_names_pass_through(llm_server, client):
    await client.chat_completion(
        [Message(role="developer", content="be brief"), Message("user", "hi", name="ann")]
    )
    sent = llm_server.requests[0].json["messages"]
    assert sent == [
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": "hi", "name": "ann"},
    ]


def test_schema_from_attrs_covers_nesting_lists_optional_enums_and_literals():
    schema = json_schema(Forecast)
    props = schema["properties"]
    assert props["mood"] == {"enum": ["calm", "stormy"], "type": "string"}
    assert props["kind"] == {"enum": ["rain", "sun"], "type": "string"}
    assert props["stops"] == {"type": "array", "items": {"$ref": "#/$defs/Place"}}
    assert schema["$defs"]["Place"]["properties"]["zip"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}]
    }
    assert schema["required"] == ["city", "days", "mood", "kind", "stops", "home"]
    assert schema["additionalProperties"] is False


def test_schema_refuses_a_class_that_is_not_attrs():
    with pytest.raises(TypeError, match="attrs class"):
        json_schema(dict)


async def test_response_model_sends_json_schema_and_returns_an_instance(llm_server, client):
    forecast = await client.chat_completion(ASK, response_model=Forecast)
    assert isinstance(forecast, Forecast)
    assert isinstance(forecast.mood, Mood)
    assert isinstance(forecast.home, Place)
    sent = llm_server.requests[0].json["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "Forecast"
    assert sent["json_schema"]["schema"] == json_schema(Forecast)
    reply = client.get_last_response()  # the raw reply the instance was made from
    sent_back = {**attrs.asdict(forecast), "mood": forecast.mood.value}
    assert json.loads(reply.choices[0].message.content) == sent_back


async def test_reply_that_does_not_fit_the_model_names_the_field_and_shows_text(llm_server, client):
    bad = '{"city": "Paris", "days": "three", "mood": "calm", "kind": "sun", "stops": []}'
    reply = {"choices": [{"message": {"role": "assistant", "content": bad}}]}
    llm_server.add_faults(Fault(status=200, body=reply))
    with pytest.raises(LLMResponseError) as caught:
        await client.chat_completion(ASK, response_model=Forecast)
    message = str(caught.value)
    assert "Forecast.days" in message
    assert "Forecast.home" in message
    assert '"days": "three"' in message


async def test_reply_that_is_not_json_for_the_model_is_a_response_error(llm_server, client):
    reply = {"choices": [{"message": {"role": "assistant", "content": "Sunny, 21 degrees"}}]}
    llm_server.add_faults(Fault(status=200, body=reply))
    with pytest.raises(LLMResponseError, match="not JSON for Forecast"):
        await client.chat_completion(ASK, response_model=Forecast)


async def test_json_wrapped_in_a_markdown_fence_is_accepted(llm_server, client):
    @attrs.frozen
    class City:
        name: str

    fenced = '```json\n{"name": "Lyon"}\n```'
    llm_server.add_faults(
        Fault(status=200, body={"choices": [{"message": {"role": "assistant", "content": fenced}}]})
    )
    assert await client.chat_completion(ASK, response_model=City) == City(name="Lyon")


async def test_response_format_json_object_passes_through(llm_server, client):
    reply = await client.chat_completion(ASK, response_format={"type": "json_object"})
    assert llm_server.requests[0].json["response_format"] == {"type": "json_object"}
    assert json.loads(reply.choices[0].message.content) == {"echo": ASK[0].content}


async def test_embeddings_for_a_list_are_typed_with_usage(llm_server, client):
    result = await client.embeddings(["first text", "second one here"])
    assert isinstance(result, EmbeddingResponse)
    assert [item.index for item in result.data] == [0, 1]
    assert all(isinstance(x, float) for x in result.data[0].embedding)
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (5, 5)
    assert llm_server.requests[0].path == "/v1/embeddings"


async def test_embeddings_model_defaults_to_config_then_call(llm_server, config):
    from llmpipe import AsyncLLM

    async with AsyncLLM(attrs.evolve(config, embedding_model="gpt-4o-mini")) as llm:
        await llm.embeddings("one")
        await llm.embeddings("two", model="llama-3-8b-instruct")
    first, second = (r.json for r in llm_server.requests)
    assert (first["model"], first["input"]) == ("gpt-4o-mini", "one")
    assert second["model"] == "llama-3-8b-instruct"


async def test_embeddings_go_through_the_onion_with_retries(llm_server, client):
    llm_server.add_faults(Fault(status=503))
    await client.embeddings("retry me")
    assert client.get_stats().retries == 1


def test_sync_client_has_embeddings_tools_and_response_model(config):
    with LLM(config) as llm:
        assert [item.index for item in llm.embeddings("x").data] == [0]
        [call] = llm.chat_completion(ASK, tools=[WEATHER]).choices[0].message.tool_calls
        assert call.function.name == "get_weather"
        assert isinstance(llm.chat_completion(ASK, response_model=Forecast), Forecast)


async def test_n_greater_than_one_and_unknown_reply_fields_are_carried(llm_server, client):
    reply = await client.chat_completion(ASK, n=3, logprobs=True, seed=1, stop=["x"], user="u")
    assert [c.index for c in reply.choices] == [0, 1, 2]
    stream = await client.chat_completion(ASK, n=2, stream=True)
    folded = await stream.collect()
    assert [c.message.content for c in folded.choices] == [
        c.message.content for c in reply.choices[:2]
    ]
