import attrs
import pytest

from llmpipe import LLMConfig


def test_defaults_are_the_specs():
    config = LLMConfig()
    assert (config.base_url, config.api_key, config.model) == (
        "http://127.0.0.1:8000",
        None,
        "gpt-4",
    )
    assert (config.temperature, config.max_tokens, config.timeout) == (0.7, None, 30)
    assert (config.max_retries, config.retry_delay) == (3, 1.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", -0.1),
        ("temperature", 2.01),
        ("temperature", "hot"),
        ("timeout", 0),
        ("timeout", -5),
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("retry_delay", -1.0),
        ("max_retry_delay", -1.0),
        ("retry_jitter", 1.5),
        ("max_tokens", 0),
        ("connection_limit", 0),
        ("recycle_after", 0),
        ("base_url", "ftp://example.com"),
        ("base_url", "127.0.0.1:8000"),
        ("base_url", "http://"),
        ("api_key", ""),
        ("model", ""),
        ("extra_headers", {"X-Count": 3}),
    ],
)
def test_invalid_value_is_rejected_with_a_message_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"LLMConfig\.{field}"):
        LLMConfig(**{field: value})


def test_authorization_in_extra_headers_is_rejected_in_favour_of_api_key():
    with pytest.raises(ValueError, match="use api_key"):
        LLMConfig(extra_headers={"authorization": "Bearer x"})


def test_repr_masks_the_api_key():
    config = LLMConfig(api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(config)
    assert "api_key='***'" in repr(config)


def test_config_is_frozen_and_evolves():
    config = LLMConfig()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.model = "other"  # type: ignore[misc]
    assert attrs.evolve(config, model="other").model == "other"


@pytest.mark.parametrize(
    ("base_url", "root"),
    [
        ("http://h:1", "http://h:1/v1"),
        ("http://h:1/", "http://h:1/v1"),
        ("http://h:1/v1", "http://h:1/v1"),
        ("https://h/v1/", "https://h/v1"),
        ("http://h/proxy", "http://h/proxy/v1"),
    ],
)
def test_api_root_has_exactly_one_v1(base_url, root):
    assert LLMConfig(base_url=base_url).api_root == root


def test_from_env_reads_llmpipe_variables():
    env = {
        "LLMPIPE_BASE_URL": "http://10.0.0.1:9000",
        "LLMPIPE_MODEL": "llama",
        "LLMPIPE_API_KEY": "k1",
        "OPENAI_API_KEY": "k2",
    }
    config = LLMConfig.from_env(env)
    assert (config.base_url, config.model, config.api_key) == (
        "http://10.0.0.1:9000",
        "llama",
        "k1",
    )


def test_from_env_falls_back_to_openai_api_key_and_keeps_defaults():
    config = LLMConfig.from_env({"OPENAI_API_KEY": "k2"})
    assert (config.api_key, config.base_url) == ("k2", "http://127.0.0.1:8000")


def test_from_env_overrides_win():
    config = LLMConfig.from_env({"LLMPIPE_MODEL": "a"}, model="b", timeout=5)
    assert (config.model, config.timeout) == ("b", 5)
