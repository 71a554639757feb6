"""The live ipywidgets view of an :class:`~bnlib.widgets._animation.Animation`.

Frame controls (play, step back/forward, scrub, speed) plus one control per
parameter; changing a parameter recomputes the numbers and redraws only the
frame on show, which keeps an update well under 50 ms.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import ipywidgets as W

from ._player import style_tag

__all__ = ["LiveView", "build_widget"]


@dataclass(frozen=True)
class LiveView:
    """The live view of an animation: the ipywidgets ``box`` on show, and handles to drive it.

    ``controls`` maps every control name (including "frame") to its widget, ``view``
    is the HTML widget with the picture, ``animation`` the object behind it.
    Displays as the box.
    """

    box: W.VBox
    controls: dict
    view: W.HTML
    animation: object

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


def _control(p, value):
    desc = p.label or p.name
    style = {"description_width": "initial"}
    if p.kind == "choice":
        return W.Dropdown(options=list(p.options), value=value, description=desc, style=style)
    if p.kind == "int":
        return W.IntSlider(value=value, min=int(p.lo), max=int(p.hi), step=int(p.step) or 1,
                           description=desc, style=style, continuous_update=False)
    if p.kind == "log":
        import math
        return W.FloatLogSlider(value=value, base=10, min=math.log10(p.lo), max=math.log10(p.hi),
                                step=p.step, description=desc, style=style, continuous_update=False,
                                readout_format=".1e")
    return W.FloatSlider(value=value, min=p.lo, max=p.hi, step=p.step, description=desc, style=style,
                         continuous_update=False, readout_format=".2f")


def build_widget(anim) -> LiveView:
    """The picture (an HTML widget), frame controls and parameter controls, as a :class:`LiveView`."""
    n = anim.n_frames(anim.state)
    view = W.HTML(value=style_tag() + anim.current_html())
    frame = W.IntSlider(value=anim.frame, min=0, max=n - 1, description="frame", continuous_update=True)
    play = W.Play(value=anim.frame, min=0, max=n - 1, interval=int(1000 / anim.fps), description="play")
    W.jslink((play, "value"), (frame, "value"))
    speed = W.Dropdown(options=[("0.5×", 0.5), ("1×", 1.0), ("2×", 2.0), ("4×", 4.0)], value=1.0,
                       description="speed")
    back, step = W.Button(description="◀ back"), W.Button(description="step ▶")
    controls = {p.name: _control(p, anim.values[p.name]) for p in anim.params}
    busy = [False]

    def redraw():
        view.value = style_tag() + anim.current_html()

    def on_param(name, change):
        if busy[0]:
            return
        anim.set(**{name: change["new"]})
        count = anim.n_frames(anim.state)
        frame.max = play.max = count - 1
        redraw()

    def on_frame(change):
        anim.frame = change["new"]
        tour = anim.overrides(anim.frame)
        if tour:                      # a guided-tour frame moves the sliders it sets
            busy[0] = True
            try:
                for k, v in tour.items():
                    controls[k].value = v
                anim.set(**tour)
            finally:
                busy[0] = False
        redraw()

    for name, c in controls.items():
        c.observe(partial(on_param, name), names="value")
    frame.observe(on_frame, names="value")
    speed.observe(lambda ch: setattr(play, "interval", int(1000 / (anim.fps * ch["new"]))), names="value")
    back.on_click(lambda _: setattr(frame, "value", max(frame.value - 1, 0)))
    step.on_click(lambda _: setattr(frame, "value", min(frame.value + 1, frame.max)))
    box = W.VBox([view, W.HBox([play, back, step, frame, speed]),
                  W.Box(list(controls.values()), layout=W.Layout(flex_flow="row wrap"))])
    return LiveView(box, {"frame": frame, **controls}, view, anim)
