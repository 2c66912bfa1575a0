"""``python -m bench.pyperf``: pyperformance's asyncio benchmarks on every loop."""

import sys

from bench.pyperf.run import main

sys.exit(main())
