"""``python -m factordiff.cli COMMAND ...``: the same as the ``factordiff`` console script."""

import sys

from factordiff.cli import main

sys.exit(main())
