"""`python -m recsearch` runs the CLI."""

from recsearch.cli import main
from recsearch.process_exit import exit_now

exit_now(main())
