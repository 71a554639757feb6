"""Animations of batch norm: live ipywidgets in Jupyter, kernel-free HTML players in the book.

Each function returns an object that displays as a live widget in Jupyter and as
a self-contained player (play, pause, step, back, scrub, speed) in the built book,
through one ``_repr_mimebundle_`` carrying both views. ipywidgets is imported only
when a live view is built; matplotlib only for bnlib.viz's palette. ``diagram`` is the
static graph picture with alt text (inline SVG), for chapters that show the graph.
"""
from .bench import benchmark_updates
from .diagram import diagram
from .distributions import distributions
from .gradient_flow import gradient_flow
from .train_eval import train_eval_gap
from .transform import transform_playground

__all__ = ["gradient_flow", "distributions", "transform_playground", "train_eval_gap",
           "benchmark_updates", "diagram"]
