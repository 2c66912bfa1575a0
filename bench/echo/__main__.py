"""``python -m bench.echo``: the echo-server benchmark."""

import sys

from bench.echo.run import main

sys.exit(main())
