"""`python -m service …`: the `sparsecoding` command, where its console script is not installed
(a checkout on PYTHONPATH, as on a machine that cannot pip-install the project)."""

import sys

from .cli import main

sys.exit(main())
