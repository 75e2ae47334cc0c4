import sys

from sf1630.cli.main import main

sys.exit(main())
