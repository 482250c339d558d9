"""The onion: composition order, custom layers, short-circuits."""

import pytest

from llmpipe import (
    AsyncLLM,
    ClassifyErrorsMiddleware,
    CountingMiddleware,
    LLMRequest,
    LLMResponse,
    LoggingMiddleware,
    MiddlewareStack,
    MockTransport,
    Pipeline,
    RetryMiddleware,
    SessionMiddleware,
    default_middlewares,
)

HELLO = [{"role": "user", "content": "hello"}]


class Tracer:
    """Records when the call passes inward and the reply outward."""

    def __init__(self, name, trail):
        self.name, self.trail = name, trail

    async def __call__(self, request, call_next):
        self.trail.append(f"{self.name}>")
        response = await call_next(request)
        self.trail.append(f"<{self.name}")
        return response


def echo_transport(trail=None):
    def handle(request):
        if trail is not None:
            trail.append("transport")
        return LLMResponse.from_json(request, {"echo": request.endpoint})

    return MockTransport(handle)


async def test_first_listed_middleware_is_the_outermost_layer():
    trail = []
    pipeline = Pipeline([Tracer("a", trail), Tracer("b", trail)], echo_transport(trail))
    await pipeline(LLMRequest("models", method="GET"))
    assert trail == ["a>", "b>", "transport", "<b", "<a"]


async def test_plain_async_function_is_a_middleware():
    async def stamp(request, call_next):
        response = await call_next(request)
        response.headers = {"x-stamped": "yes"}
        return response

    response = await Pipeline([stamp], echo_transport())(LLMRequest("models"))
    assert response.headers == {"x-stamped": "yes"}


def test_non_callable_or_sync_function_is_rejected_at_construction():
    def not_async(request, call_next):
        return call_next(request)

    with pytest.raises(TypeError, match="not a middleware"):
        Pipeline([object()], echo_transport())
    with pytest.raises(TypeError, match="not a middleware"):
        Pipeline([not_async], echo_transport())


async def test_middleware_may_change_the_request_before_passing_it_on():
    seen = []

    async def add_header(request, call_next):
        import attrs

        return await call_next(attrs.evolve(request, headers={"x-tenant": "blue"}))

    def handle(request):
        seen.append(request.headers)
        return LLMResponse.from_json(request, {})

    await Pipeline([add_header], MockTransport(handle))(LLMRequest("models"))
    assert seen == [{"x-tenant": "blue"}]


def test_bind_gives_session_middleware_the_transport():
    transport = echo_transport()
    session = SessionMiddleware(recycle_after=1)
    Pipeline([session], transport)
    assert session._transport is transport


async def test_session_middleware_recycles_the_pool_every_n_calls():
    transport = echo_transport()
    pipeline = Pipeline([SessionMiddleware(recycle_after=2)], transport)
    for _ in range(5):
        await pipeline(LLMRequest("models"))
    assert transport.recycles == 2


def test_default_stack_order():
    kinds = [type(m) for m in default_middlewares(__import__("llmpipe").LLMConfig())]
    assert kinds == [
        LoggingMiddleware,
        CountingMiddleware,
        RetryMiddleware,
        ClassifyErrorsMiddleware,
        SessionMiddleware,
    ]


def test_stack_builder_verbs_insert_replace_and_remove_by_type():
    trail = []
    first, second = Tracer("x", trail), Tracer("y", trail)
    stack = MiddlewareStack([LoggingMiddleware(), RetryMiddleware(), SessionMiddleware()])
    stack.insert_before(RetryMiddleware, first).insert_after(RetryMiddleware, second)
    assert [type(m).__name__ for m in stack] == [
        "LoggingMiddleware",
        "Tracer",
        "RetryMiddleware",
        "Tracer",
        "SessionMiddleware",
    ]
    stack.without(LoggingMiddleware).replace(SessionMiddleware, ClassifyErrorsMiddleware())
    assert type(stack[0]) is Tracer
    assert type(stack[-1]) is ClassifyErrorsMiddleware
    with pytest.raises(ValueError, match="no LoggingMiddleware"):
        stack.index_of(LoggingMiddleware)


async def test_custom_middleware_inserted_into_default_stack_sees_real_traffic(llm_server, config):
    trail = []
    stack = default_middlewares(config).insert_after(RetryMiddleware, Tracer("inner", trail))
    async with AsyncLLM(config, stack) as llm:
        await llm.chat_completion(HELLO)
    assert trail == ["inner>", "<inner"]
    assert len(llm_server.requests) == 1


async def test_layer_inside_retry_sees_every_attempt_and_outside_sees_one(llm_server, config):
    from llmpipe.testing import Fault

    outer, inner = [], []
    stack = (
        default_middlewares(config)
        .insert_before(RetryMiddleware, Tracer("outer", outer))
        .insert_after(RetryMiddleware, Tracer("inner", inner))
    )
    llm_server.add_faults(Fault(status=503), Fault(status=503))
    async with AsyncLLM(config, stack) as llm:
        await llm.chat_completion(HELLO)
    assert outer == ["outer>", "<outer"]
    assert inner.count("inner>") == 3


async def test_short_circuit_middleware_answers_without_the_server(llm_server, config):
    canned = {
        "id": "cached-1",
        "choices": [{"message": {"role": "assistant", "content": "from memory"}}],
    }

    async def answer_locally(request, call_next):
        return LLMResponse.from_json(request, canned)

    stack = default_middlewares(config).insert_before(RetryMiddleware, answer_locally)
    async with AsyncLLM(config, stack) as llm:
        response = await llm.chat_completion(HELLO)
        assert response.id == "cached-1"
        assert response.choices[0].message.content == "from memory"
        assert llm.get_request_count() == 1
    assert llm_server.requests == []


async def test_empty_stack_still_raises_typed_errors(llm_server, config):
    from llmpipe import InternalServerError, LLMError
    from llmpipe.testing import Fault

    llm_server.add_faults(Fault(status=500))
    async with AsyncLLM(config, middlewares=[]) as llm:
        with pytest.raises(InternalServerError):
            await llm.chat_completion(HELLO)
        with pytest.raises(LLMError, match="CountingMiddleware"):
            llm.get_request_count()


async def test_with_middlewares_a_plain_request_goes_through_every_layer():
    trail = []
    pipeline = Pipeline([Tracer("a", trail)], echo_transport(trail))
    response = await pipeline.plain(LLMRequest("chat/completions", body={"model": "m"}))
    assert response.json() == {"echo": "chat/completions"}
    assert trail == ["a>", "transport", "<a"]


async def test_without_middlewares_a_plain_request_goes_to_the_transport_as_the_chain_sends_it():
    transport = echo_transport()
    pipeline = Pipeline([], transport)
    request = LLMRequest("chat/completions", body={"model": "m"})
    via_plain = await pipeline.plain(request)
    via_chain = await pipeline(request)
    assert (via_plain.status, via_plain.json()) == (via_chain.status, via_chain.json())
    assert pipeline.plain == transport.send
