"""Child processes (subprocess_exec, subprocess_shell) and signal handlers."""

from __future__ import annotations

from spindle._io.readiness import ReadinessLoop

__all__ = ["SubprocessMethods"]


class SubprocessMethods(ReadinessLoop):
    """Child processes (subprocess_exec, subprocess_shell) and signal handlers."""
