"""``python -m tests.peers``: see ``run.py``."""

import sys

from tests.peers.run import main

sys.exit(main())
