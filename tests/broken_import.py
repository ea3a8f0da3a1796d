"""An adapter module that fails at import (its framework cannot start)."""

raise RuntimeError("CUDA driver version is insufficient for CUDA runtime version")
