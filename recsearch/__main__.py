"""`python -m recsearch` runs the CLI."""

import sys

from recsearch.cli import main

sys.exit(main())
