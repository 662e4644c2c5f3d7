"""``python -m fastgnn.complexity [flags]``: the ``fastgnn complexity`` subcommand."""

import sys

from fastgnn.complexity.cli import main

sys.exit(main())
