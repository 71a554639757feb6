"""bnlib: batch normalization, node by node.

The numpy core (``graph``, ``batchnorm``, ``gradcheck``, ``nn``) imports neither
matplotlib nor ipywidgets; ``viz`` and ``widgets`` are imported on demand.
"""
from . import gradcheck, graph
from .batchnorm import (BatchNorm, BNCache, batchnorm_backward, batchnorm_forward,
                        batchnorm_inference, fold_into_linear)

__all__ = ["graph", "gradcheck", "BatchNorm", "BNCache", "batchnorm_forward",
           "batchnorm_backward", "batchnorm_inference", "fold_into_linear"]
__version__ = "0.1.0"
