"""Transport identity: where a transport sends (origin) and as whom (a keyed fingerprint)."""

import hashlib
import hmac
import json

import pytest

from llmpipe import LLMConfig
from llmpipe.transport.aiohttp import AiohttpTransport
from llmpipe.transport.mock import MockTransport

KEY = "sk-identity-0123456789abcdef"
SECRET = bytes(range(32))


def transport(**settings):
    return AiohttpTransport(LLMConfig(**settings))


@pytest.mark.parametrize(
    ("base_url", "origin"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1"),
        ("https://API.Example.com/v1/", "https://api.example.com:443/v1"),
        ("http://example.com", "http://example.com:80/v1"),
        ("https://gateway.example.com/openai/v1", "https://gateway.example.com:443/openai/v1"),
        ("http://[::1]:9000/v1", "http://[::1]:9000/v1"),
    ],
)
def test_origin_is_scheme_host_port_and_path_of_the_api_root(base_url, origin):
    assert transport(base_url=base_url).origin == origin


def test_origin_leaves_out_credentials_in_the_url():
    assert transport(base_url="https://user:pa55@example.com/v1").origin == (
        "https://example.com:443/v1"
    )


def test_without_credentials_there_is_no_fingerprint():
    assert transport().credential_fingerprint(SECRET) is None


def test_the_fingerprint_is_an_hmac_sha256_of_the_credentials_as_compact_json():
    message = json.dumps({"api_key": KEY}, separators=(",", ":")).encode()
    expected = hmac.new(SECRET, message, hashlib.sha256).hexdigest()
    assert transport(api_key=KEY).credential_fingerprint(SECRET) == expected


def test_the_fingerprint_does_not_contain_the_key():
    fingerprint = transport(api_key=KEY).credential_fingerprint(SECRET)
    assert KEY not in fingerprint
    assert KEY.encode().hex() not in fingerprint


def test_two_transports_with_one_key_give_one_fingerprint():
    one, two = transport(api_key=KEY), transport(api_key=KEY, base_url="http://other:1")
    assert one.credential_fingerprint(SECRET) == two.credential_fingerprint(SECRET)


def test_another_secret_gives_another_fingerprint():
    sent = transport(api_key=KEY)
    assert sent.credential_fingerprint(SECRET) != sent.credential_fingerprint(bytes(32))


@pytest.mark.parametrize(
    "settings",
    [
        {"api_key": KEY + "x"},
        {"api_key": KEY, "extra_headers": {"OpenAI-Organization": "org-1"}},
        {"base_url": "http://user:pw@127.0.0.1:8000"},  # with an api_key: refused (one auth)
    ],
)
def test_another_key_header_or_url_password_gives_another_fingerprint(settings):
    plain = transport(api_key=KEY).credential_fingerprint(SECRET)
    assert transport(**settings).credential_fingerprint(SECRET) != plain


def test_two_url_passwords_give_two_fingerprints():
    one = transport(base_url="http://user:pw@127.0.0.1:8000").credential_fingerprint(SECRET)
    two = transport(base_url="http://user:pw2@127.0.0.1:8000").credential_fingerprint(SECRET)
    assert one != two


def test_header_names_in_the_config_ignore_case():
    lower = transport(extra_headers={"openai-organization": "org-1"})
    upper = transport(extra_headers={"OpenAI-Organization": "org-1"})
    assert lower.credential_fingerprint(SECRET) == upper.credential_fingerprint(SECRET)


def test_a_mock_transport_reports_the_identity_it_is_given():
    mock = MockTransport(lambda request: None, origin="mock://tenant", api_key=KEY)
    assert mock.origin == "mock://tenant"
    assert mock.credential_fingerprint(SECRET) == transport(api_key=KEY).credential_fingerprint(
        SECRET
    )
