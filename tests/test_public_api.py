import inspect
import subprocess
import sys

import pytest

import llmpipe

OPTIONAL = (
    "llmpipe.batch",
    "llmpipe.middleware.cache",
    "llmpipe.middleware.usage",
    "llmpipe.middleware.ratelimit",
    "llmpipe.observability.otel",
    "llmpipe.observability.attempts",
)


def test_all_lists_every_public_name_and_nothing_else():
    for name in llmpipe.__all__:
        getattr(llmpipe, name)  # loads the lazily imported ones too
    public = {
        name
        for name, value in vars(llmpipe).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and name not in ("logger", "importlib")
    }
    assert public | {"__version__"} == set(llmpipe.__all__)


def test_star_import_binds_every_name_in_all_to_the_attribute():
    namespace: dict[str, object] = {}
    exec("from llmpipe import *", namespace)
    del namespace["__builtins__"]
    assert set(namespace) == set(llmpipe.__all__)
    for name, value in namespace.items():
        assert value is getattr(llmpipe, name)


def test_every_class_and_function_in_all_is_llmpipes_own():
    for name in llmpipe.__all__:
        value = getattr(llmpipe, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith("llmpipe."), name


def test_import_llmpipe_loads_neither_aiohttp_nor_opentelemetry_nor_the_optional_features():
    prefixes = (*OPTIONAL, "aiohttp", "redis", "sqlite3", "tqdm", "opentelemetry")
    code = f"import sys, llmpipe; print([m for m in sys.modules if m.startswith({prefixes!r})])"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_import_llmpipe_loads_neither_urllib_request_nor_email_utils_nor_importlib_abc():
    """Needed only for a proxy from the environment or an HTTP-date Retry-After; importlib.abc
    (with importlib.resources, tempfile and random) not for the old-path forwarders."""
    names = ("urllib.request", "email.utils", "importlib.abc", "tempfile")
    code = f"import sys, llmpipe; print([m for m in {names!r} if m in sys.modules])"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        llmpipe.Nope  # noqa: B018


def test_package_ships_py_typed_marker():
    from importlib.resources import files

    assert files("llmpipe").joinpath("py.typed").is_file()


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        ("llmpipe.cache", "MemoryCache", "llmpipe.middleware.cache"),
        ("llmpipe.cache.key", "cache_key", "llmpipe.middleware.cache.key"),
        ("llmpipe.ratelimit", "RedisLimiter", "llmpipe.middleware.ratelimit"),
        ("llmpipe.usage", "Budget", "llmpipe.middleware.usage"),
        ("llmpipe.models", "Message", "llmpipe.wire.models"),
        ("llmpipe.retry_policy", "ExponentialBackoff", "llmpipe.middleware.retry.policy"),
        ("llmpipe.sse", "SSEDecoder", "llmpipe.streaming.sse"),
        ("llmpipe.middleware.rate_limit", "RateLimitMiddleware", "llmpipe.middleware.ratelimit"),
    ],
)
def test_an_old_module_path_still_imports_the_same_objects_with_a_deprecation_warning(
    old, name, new
):
    code = (
        "import importlib, warnings\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        f"    old = importlib.import_module({old!r})\n"
        f"new = importlib.import_module({new!r})\n"
        f"print(getattr(old, {name!r}) is getattr(new, {name!r}))\n"
        "print([str(w.message) for w in seen if w.category is DeprecationWarning])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    same, warnings_seen = result.stdout.splitlines()
    assert same == "True"
    assert f"{old} moved to" in warnings_seen
