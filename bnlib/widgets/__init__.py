"""Views of batch norm: graph diagrams, animations and explorables.

Each animation function returns an object that displays as a live widget in
Jupyter and as a self-contained player (play, pause, step, back, scrub, speed)
in the built book, through one ``_repr_mimebundle_`` carrying both views.
ipywidgets is imported only when a live view is built. :func:`draw_graph` is the
static graph picture with alt text (inline SVG); :func:`graph_walk` steps
through it one node at a time.
"""
from .diagram import describe_graph, draw_graph
from .distributions import distributions
from .gradient_flow import gradient_flow
from .train_eval import train_eval_gap
from .transform import transform_playground
from .walk import graph_walk

__all__ = ["draw_graph", "describe_graph", "graph_walk", "gradient_flow", "distributions",
           "transform_playground", "train_eval_gap"]
