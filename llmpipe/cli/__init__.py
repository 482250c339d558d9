"""The ``llmpipe`` command: chat, complete and list models from a shell, or serve
the bundled test server for demos.

Settings come from the environment (``LLMPIPE_BASE_URL`` or ``OPENAI_BASE_URL``,
``LLMPIPE_MODEL``, ``LLMPIPE_API_KEY`` or ``OPENAI_API_KEY``); flags override
it. One module a concern: ``parser`` (options and help), ``commands`` (what
each prints), ``output`` (stdout versus stderr, ``--json``, key scrubbing),
``status`` (the retry line on a terminal), ``serve`` and ``app`` (``main``:
exit statuses).
"""

from llmpipe.cli.app import main
from llmpipe.cli.parser import build_parser
from llmpipe.cli.serve import READY_LINE

__all__ = ["READY_LINE", "build_parser", "main"]
