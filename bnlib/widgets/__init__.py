"""Animations of batch norm: live ipywidgets in Jupyter, kernel-free HTML players in the book.

Each function returns an object that displays as a live widget in Jupyter and as
a self-contained player (play, pause, step, scrub, speed) in the built book.
"""
from .gradient_flow import gradient_flow

__all__ = ["gradient_flow"]
