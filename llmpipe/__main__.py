"""``python -m llmpipe``: the same command as the ``llmpipe`` console script."""

import sys

from llmpipe.cli import main

if __name__ == "__main__":
    sys.exit(main())
