"""A layer's optional ``wrap(call_next)``: composed once at construction, its
handler answers each call in the layer's place; the lifecycle hooks still run."""

from llmpipe import LLMRequest, Middleware, Pipeline
from tests.test_pipeline import Tracer, echo_transport

MODELS = LLMRequest("models", method="GET")


class Wrapping(Middleware):
    """Records its lifecycle; ``wrap`` returns a handler, or ``call_next`` itself
    when ``skip`` (the layer then leaves the chain)."""

    def __init__(self, trail, skip=False):
        self.trail, self.skip = trail, skip

    def bind(self, transport):
        self.trail.append("bind")

    async def close(self):
        self.trail.append("close")

    def wrap(self, call_next):
        self.trail.append("wrap")
        if self.skip:
            return call_next

        async def handle(request):
            self.trail.append("w>")
            response = await call_next(request)
            self.trail.append("<w")
            return response

        return handle

    async def __call__(self, request, call_next):
        raise AssertionError("a pipeline calls the handler wrap made, not the layer")


async def test_a_layer_with_wrap_is_composed_once_and_its_handler_answers_each_call():
    trail = []
    layers = [Tracer("a", trail), Wrapping(trail), Tracer("b", trail)]
    pipeline = Pipeline(layers, echo_transport(trail))
    await pipeline(MODELS)
    await pipeline.plain(MODELS)
    call = ["a>", "w>", "b>", "transport", "<b", "<w", "<a"]
    assert trail == ["bind", "wrap", *call, *call]


async def test_a_layer_whose_wrap_returns_call_next_is_skipped_but_still_bound_and_closed():
    trail = []
    pipeline = Pipeline([Tracer("a", trail), Wrapping(trail, skip=True)], echo_transport(trail))
    response = await pipeline(MODELS)
    await pipeline.close()
    assert response.json() == {"echo": "models"}
    assert trail == ["bind", "wrap", "a>", "transport", "<a", "close"]


async def test_a_plain_async_function_with_a_wrap_attribute_is_called_as_a_layer():
    trail = []

    async def layer(request, call_next):
        trail.append("layer")
        return await call_next(request)

    layer.wrap = lambda call_next: call_next
    await Pipeline([layer], echo_transport(trail))(MODELS)
    assert trail == ["layer", "transport"]


class Overriding(Wrapping):
    """Overrides ``__call__`` but not ``wrap``: its own ``__call__`` is what it does."""

    async def __call__(self, request, call_next):
        self.trail.append("own call")
        return await call_next(request)


async def test_a_subclass_overriding_call_but_not_wrap_is_called_as_written():
    trail = []
    await Pipeline([Overriding(trail)], echo_transport(trail))(MODELS)
    assert trail == ["bind", "own call", "transport"]


def test_when_every_layer_leaves_the_chain_a_plain_request_goes_to_the_transport():
    transport = echo_transport()
    pipeline = Pipeline([Wrapping([], skip=True), Wrapping([], skip=True)], transport)
    assert pipeline.plain == transport.send
