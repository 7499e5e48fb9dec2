"""``python -m app <command>``: see ``python -m app --help`` and app/cli."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
