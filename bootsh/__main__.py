"""``python -m bootsh``."""

import sys

from bootsh.cli import main

sys.exit(main())
