"""``python -m bootsh.lab``: the same as ``bootsh lab``."""

import sys

from bootsh.lab import main

sys.exit(main())
