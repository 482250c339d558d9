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


# --- values that would fail mid-call are refused when the config is built ---------


@pytest.mark.parametrize(
    "key", ["sk-abc\n", "sk-abc\r\n", "sk-\rabc", "sk-abc\x00", "sk-abc\t", " sk-abc"]
)
def test_an_api_key_with_control_characters_or_edge_spaces_is_rejected_naming_the_field(key):
    with pytest.raises(ValueError, match=r"LLMConfig\.api_key") as caught:
        LLMConfig(api_key=key)
    assert key.strip() not in str(caught.value)  # the message never shows the key


def test_a_key_read_from_a_file_with_its_newline_is_told_to_strip_it(tmp_path):
    key_file = tmp_path / "key.txt"
    key_file.write_text("sk-from-file\n")
    with pytest.raises(ValueError, match="newline: strip it"):
        LLMConfig(api_key=key_file.read_text())


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "trailing\n", "nul\x00"])
def test_a_header_value_with_control_characters_is_rejected_naming_the_header(value):
    with pytest.raises(ValueError, match=r"LLMConfig\.extra_headers\['X-Trace'\]"):
        LLMConfig(extra_headers={"X-Trace": value})


@pytest.mark.parametrize("name", ["X Trace", "X-Trace\n", "", "X:Trace"])
def test_a_header_name_that_is_not_a_token_is_rejected(name):
    with pytest.raises(ValueError, match=r"LLMConfig\.extra_headers"):
        LLMConfig(extra_headers={name: "1"})


def test_a_tab_inside_a_header_value_is_allowed_as_http_allows_it():
    assert LLMConfig(extra_headers={"X-Note": "a\tb"}).extra_headers == {"X-Note": "a\tb"}


@pytest.mark.parametrize(
    "field",
    [
        "timeout",
        "retry_delay",
        "max_retry_delay",
        "deadline",
        "connect_timeout",
        "pool_timeout",
        "stream_idle_timeout",
    ],
)
@pytest.mark.parametrize("value", [float("inf"), float("nan"), float("-inf")])
def test_a_non_finite_number_is_rejected_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"LLMConfig\.{field} must be a finite number"):
        LLMConfig(**{field: value})


def test_from_env_falls_back_to_openai_base_url():
    config = LLMConfig.from_env({"OPENAI_BASE_URL": "https://api.example.com/v1"})
    assert config.base_url == "https://api.example.com/v1"
    assert config.api_root == "https://api.example.com/v1"


def test_from_env_prefers_llmpipe_base_url_over_openai_base_url():
    env = {"LLMPIPE_BASE_URL": "http://a:1", "OPENAI_BASE_URL": "http://b:2"}
    assert LLMConfig.from_env(env).base_url == "http://a:1"


# --- credentials in URLs ------------------------------------------------------------


def test_repr_masks_the_password_in_base_url_as_httpx_does():
    config = LLMConfig(base_url="http://alice:s3cr3t-pass@gateway:8080")
    assert "s3cr3t-pass" not in repr(config)
    assert "base_url='http://alice:[secure]@gateway:8080'" in repr(config)


def test_repr_masks_the_password_in_the_proxy_url():
    config = LLMConfig(proxy="http://bob:pr0xy-pass@proxy:3128")
    assert "pr0xy-pass" not in repr(config)
    assert "proxy='http://bob:[secure]@proxy:3128'" in repr(config)


def test_the_api_root_carries_no_credentials():
    assert LLMConfig(base_url="http://alice:pw@gateway:8080").api_root == "http://gateway:8080/v1"


def test_a_bad_proxy_url_is_rejected_without_showing_it():
    with pytest.raises(ValueError, match=r"LLMConfig\.proxy") as caught:
        LLMConfig(proxy="socks9://u:hidden-pass@p:1")
    assert "hidden-pass" not in str(caught.value)


def test_credentials_in_base_url_and_an_api_key_together_are_rejected():
    with pytest.raises(ValueError, match="keep one"):
        LLMConfig(base_url="http://alice:pw@gateway:8080", api_key="sk-1")


# --- networking settings that cannot work together ------------------------------------


def test_ssl_context_with_other_tls_settings_is_rejected_naming_them(tmp_path):
    import ssl

    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    with pytest.raises(ValueError, match="replaces verify_tls, ca_bundle"):
        LLMConfig(ssl_context=ssl.create_default_context(), verify_tls=False, ca_bundle=str(bundle))


def test_a_missing_ca_bundle_is_rejected_naming_the_field(tmp_path):
    with pytest.raises(ValueError, match=r"LLMConfig\.ca_bundle: no such file"):
        LLMConfig(ca_bundle=str(tmp_path / "missing.pem"))


def test_a_unix_socket_with_https_or_a_proxy_is_rejected():
    with pytest.raises(ValueError, match="unix_socket takes an http:// base_url"):
        LLMConfig(unix_socket="/tmp/s.sock", base_url="https://localhost")
    with pytest.raises(ValueError, match="unix_socket takes an http:// base_url"):
        LLMConfig(unix_socket="/tmp/s.sock", proxy="http://p:1")


def test_a_rejected_base_url_is_shown_without_its_password():
    with pytest.raises(ValueError, match=r"LLMConfig\.base_url") as caught:
        LLMConfig(base_url="ftp://alice:hidden-pass@host")
    assert "hidden-pass" not in str(caught.value)
