"""nnspec adapter for mlx."""

from .adapter import MlxBackend

__all__ = ["MlxBackend"]
