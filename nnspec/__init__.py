"""nnspec: the executable reference for the formulas of deep learning.

spec/        the NumPy reference, float64, one module per formula family
backends/    one adapter per framework, running the framework's own implementation
conformance/ the engine: catalogue, strategies, error measures, checks, results store
report/      merges results into JSON, Markdown and HTML
"""

__version__ = "0.1.0"
