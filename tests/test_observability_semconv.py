"""Every name llmpipe emits is one the OpenTelemetry semantic conventions define:
checked against the opentelemetry-semantic-conventions package (the test
extra installs it with the SDK), the conventions' own generated names."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from opentelemetry.semconv import schemas
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics

from llmpipe.observability import semconv

LLMPIPE_OWN = {semconv.STREAM_END}
NOT_NAMES = {
    "SEMCONV_VERSION",
    "SCHEMA_URL",
    "STABILITY_OPT_IN",
    "INSTRUMENTATION_SCOPE",
    "CAPTURE_CONTENT_ENV",
}


def _convention_names() -> set[str]:
    """Every attribute and metric name the package defines, stable or incubating."""
    names: set[str] = set()
    for package in (
        "opentelemetry.semconv.attributes",
        "opentelemetry.semconv._incubating.attributes",
        "opentelemetry.semconv._incubating.metrics",
    ):
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            names.update(v for k, v in vars(module).items() if k.isupper() and isinstance(v, str))
    return names


def _our_names() -> dict[str, str]:
    return {
        constant: value
        for constant, value in vars(semconv).items()
        if constant.isupper()
        and isinstance(value, str)
        and "." in value
        and constant not in NOT_NAMES
        and value not in LLMPIPE_OWN
    }


@pytest.mark.parametrize(("constant", "name"), sorted(_our_names().items()))
def test_each_attribute_and_metric_name_is_defined_by_the_conventions(constant, name):
    assert name in _convention_names(), constant


def test_the_schema_url_is_a_published_schema_version():
    assert semconv.SCHEMA_URL in {s.value for s in schemas.Schemas}
    assert semconv.SCHEMA_URL.endswith("/" + semconv.SEMCONV_VERSION)


def test_operation_provider_and_token_type_values_are_the_conventions():
    operations = {v.value for v in gen_ai_attributes.GenAiOperationNameValues}
    assert {semconv.CHAT, semconv.TEXT_COMPLETION, semconv.EMBEDDINGS} <= operations
    assert semconv.PROVIDER_OPENAI in {v.value for v in gen_ai_attributes.GenAiProviderNameValues}
    tokens = {v.value for v in gen_ai_attributes.GenAiTokenTypeValues}
    assert {semconv.TOKEN_INPUT, semconv.TOKEN_OUTPUT} <= tokens


def test_the_four_client_metrics_are_the_conventions_metrics():
    assert {
        semconv.OPERATION_DURATION,
        semconv.TOKEN_USAGE,
        semconv.TIME_TO_FIRST_CHUNK,
        semconv.TIME_PER_OUTPUT_CHUNK,
    } == {
        gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
        gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
        gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
    }


def test_the_provider_is_named_by_the_latest_attribute_not_the_old_gen_ai_system():
    assert semconv.PROVIDER_NAME == gen_ai_attributes.GEN_AI_PROVIDER_NAME
    assert gen_ai_attributes.GEN_AI_SYSTEM not in _our_names().values()
