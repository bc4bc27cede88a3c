"""`python -m benchmarks.filing_eval`: see `run.py`."""

import sys

from .run import main

sys.exit(main())
