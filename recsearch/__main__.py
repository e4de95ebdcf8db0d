"""`python -m recsearch` runs the CLI, as the `recsearch` console script does."""

from recsearch.cli import entry_point

entry_point()
