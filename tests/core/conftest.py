from tests.core.impls import impl

__all__ = ["impl"]
