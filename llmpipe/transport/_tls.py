"""The TLS settings of a client, as aiohttp's ``ssl=`` takes them.

Verification is on by default against the system's CAs. ``ca_bundle``
swaps in a private CA, ``client_cert`` adds a certificate for mutual TLS,
and ``ssl_context`` hands over a context built by the application (which
then owns every TLS choice). Files are read when the client is built, so a
bad path or PEM fails there, naming the field, not on the first call.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from llmpipe.config import LLMConfig

if TYPE_CHECKING:
    import ssl

__all__ = ["tls_for"]


def tls_for(config: LLMConfig) -> ssl.SSLContext | bool:
    """True (verify against the system's CAs), False (no checks) or a context."""
    if config.ssl_context is not None:
        return config.ssl_context
    if not config.verify_tls:
        return False
    if config.ca_bundle is None and config.client_cert is None:
        return True
    import ssl

    bundle = config.ca_bundle
    try:
        if bundle is not None and os.path.isdir(bundle):
            context = ssl.create_default_context(capath=bundle)
        else:
            context = ssl.create_default_context(cafile=bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"LLMConfig.ca_bundle: cannot load {bundle!r}: {exc}") from exc
    cert = config.client_cert
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else (cert[0], cert[-1])
        try:
            context.load_cert_chain(certfile, keyfile if keyfile != certfile else None)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"LLMConfig.client_cert: cannot load {cert!r}: {exc}") from exc
    return context
