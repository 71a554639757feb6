"""One object per animation: precomputed frames, a live ipywidgets view and a static player.

A subclass says which parameters it has (:class:`Param`), how to compute its
numbers from them (``compute``) and how to draw frame ``i`` (``render``). From
that the base class gives

* ``frames`` — every frame for the current parameters (what the HTML player holds);
* ``to_html()`` — the kernel-free player;
* ``widget()`` — ipywidgets controls that recompute, showing one frame at a time;
* ``_repr_mimebundle_`` — both at once, so Jupyter shows the live view and the
  built book (myst-nb's mime priority) shows the player.

ipywidgets is imported only when a live view is asked for.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

from ._player import Frame, player_html, view_html

__all__ = ["Param", "Animation"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True)
class Param:
    """A live control: ``kind`` is "int", "float", "log" (float on a log scale) or "choice"."""

    name: str
    kind: str
    default: object
    lo: float = 0.0
    hi: float = 1.0
    step: float = 0.1
    options: tuple = ()
    label: str = ""

    def check(self, value):
        """Return ``value`` converted, or raise a clear TypeError/ValueError."""
        if self.kind == "choice":
            if value not in self.options:
                raise ValueError(f"{self.name} must be one of {list(self.options)}; got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{self.name} must be a number; got {type(value).__name__}")
        if self.kind == "int" and value != int(value):
            raise ValueError(f"{self.name} must be a whole number; got {value}")
        if not self.lo <= value <= self.hi:
            raise ValueError(f"{self.name} must be between {self.lo:g} and {self.hi:g}; got {value}")
        return int(value) if self.kind == "int" else float(value)


class Animation:
    """Base class; subclasses set ``title``, ``fps``, ``params`` and implement compute/render."""

    title = "animation"
    fps = 1.0
    params: tuple[Param, ...] = ()

    def __init__(self, **values):
        known = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown parameter(s) {unknown}; "
                            f"known: {sorted(known)}")
        self.values = {p.name: p.default for p in self.params}
        self.values.update({k: known[k].check(v) for k, v in values.items()})
        self._cache: dict = {}
        self.frame = 0

    # --- what subclasses provide ------------------------------------------------
    def compute(self, **values):
        """The numbers for these parameter values (any object ``render`` understands)."""
        raise NotImplementedError

    def n_frames(self, state) -> int:
        raise NotImplementedError

    def render(self, state, i: int) -> Frame:
        raise NotImplementedError

    def overrides(self, i: int) -> dict:
        """Parameter values frame ``i`` sets (a guided tour); most animations set none."""
        return {}

    # --- derived views ---------------------------------------------------------------
    def _compute(self, values: dict):
        key = tuple(sorted(values.items()))
        if key not in self._cache:
            if len(self._cache) >= 16:          # keep memory small: forget the oldest
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = self.compute(**values)
        return self._cache[key]

    @property
    def state(self):
        """The computed numbers for the current values (recomputed only when they change)."""
        return self._compute(self.values)

    def set(self, **values) -> "Animation":
        """Change parameters (validated); the numbers are recomputed on next use."""
        known = {p.name: p for p in self.params}
        for k, v in values.items():
            if k not in known:
                raise TypeError(f"unknown parameter {k!r}; known: {sorted(known)}")
            self.values[k] = known[k].check(v)
        return self

    @property
    def frames(self) -> list[Frame]:
        """Every frame for the current parameters."""
        out = []
        for i in range(self.n_frames(self.state)):
            state = self._compute({**self.values, **self.overrides(i)})
            out.append(self.render(state, i))
        return out

    def current_html(self) -> str:
        """HTML of the frame on show (what the live view displays)."""
        state = self.state
        self.frame = min(self.frame, self.n_frames(state) - 1)
        return view_html(self.render(state, self.frame))

    def to_html(self) -> str:
        """The kernel-free player over every frame."""
        return player_html(self.frames, self.title, fps=self.fps)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{type(self).__name__}({args})"

    # --- live view ----------------------------------------------------------------
    def clear_cache(self) -> None:
        """Forget the computed numbers, so the next use recomputes them (benchmarks time that)."""
        self._cache.clear()

    def widget(self):
        """The live :class:`~bnlib.widgets._live.LiveView`: frame controls and one control per parameter."""
        from ._live import build_widget

        return build_widget(self)

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": repr(self), "text/html": self.to_html()}
        try:
            view = self.widget().box._repr_mimebundle_()
        except ImportError:       # no ipywidgets: the player alone still works
            view = {}
        if WIDGET_VIEW in view:
            bundle[WIDGET_VIEW] = view[WIDGET_VIEW]
        return bundle


