"""Entry script of the one-file executable built by build/sf1630.spec (issue #4)."""

import sys

from sf1630.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
