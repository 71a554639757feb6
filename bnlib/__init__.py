"""bnlib: batch normalization, node by node.

The numpy core (``graph``, ``batchnorm``, ``fastpath``, ``norms``, ``gradcheck``,
``nn``, ``layer``, ``data``) imports neither matplotlib nor ipywidgets and never
imports the views above it (``viz``, ``widgets``, ``exercises``, ``notebook``),
which are imported on demand.
"""
from . import fastpath, gradcheck, graph
from .batchnorm import (BatchNorm, BNCache, batchnorm_backward, batchnorm_forward,
                        batchnorm_inference, fold_into_linear)

__all__ = ["graph", "gradcheck", "fastpath", "BatchNorm", "BNCache", "batchnorm_forward",
           "batchnorm_backward", "batchnorm_inference", "fold_into_linear"]
__version__ = "0.1.0"
