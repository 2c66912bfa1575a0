"""spindle's version: the one place it is written.

pyproject.toml reads it from here when a distribution is built (``[tool.setuptools.dynamic]``),
``spindle.__version__`` re-exports it and ``python -m spindle --version`` prints it.  Bump it in
the same commit that moves ``CHANGELOG.md``'s "Unreleased" entries under a new heading.
"""

__version__ = "0.1.0"
