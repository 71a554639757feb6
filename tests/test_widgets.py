"""bnlib.widgets: frames hold the right numbers, both views are offered, the player keeps its contract."""
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from bnlib.widgets import (distributions, gradient_flow, train_eval_gap,  # noqa: E402
                           transform_playground)
from bnlib.widgets._player import MAX_PLAYER_BYTES, Frame, player_html  # noqa: E402
from bnlib.widgets.distributions import synthetic_result  # noqa: E402
from bnlib.widgets.train_eval import BATCH_SIZES, D, EVAL_BATCHES  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CONTRACT = ("bn-player", "bn-play", "bn-pause", "bn-step", "bn-back", "bn-scrub", "bn-speed")


def centred_difference(f, x, dout, h=1e-6):
    """Gradient of sum(f(x) * dout) by centred differences (written out here: an independent oracle)."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = np.sum((f(xp) - f(xm)) * dout) / (2 * h)
    return g


def bn_closed_form(x, gamma, beta, eps):
    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta


# --- gradient flow -------------------------------------------------------------------------------

def test_gradient_flow_forward_frames_hold_the_closed_form_values():
    a = gradient_flow(N=5, D=3, seed=3, gamma=1.3, beta=-0.4, eps=1e-3)
    frames = a.frames
    x = frames[0].data["x"]
    fwd = {f.data["node"]: f.data["value"] for f in frames if f.data["phase"] == "forward"}
    assert list(fwd) == ["mu", "xmu", "sq", "var", "std", "inv_std", "x_hat", "scaled", "y"]
    np.testing.assert_allclose(fwd["mu"], x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(fwd["var"], ((x - x.mean(0)) ** 2).mean(0), rtol=1e-12)
    np.testing.assert_allclose(fwd["std"], np.sqrt(x.var(0) + 1e-3), rtol=1e-12)
    np.testing.assert_allclose(fwd["y"], bn_closed_form(x, 1.3, -0.4, 1e-3), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("upstream", ["random", "one entry", "y (loss ½Σy²)"])
def test_gradient_flow_final_frame_matches_centred_differences(upstream):
    a = gradient_flow(N=4, D=3, seed=1, gamma=0.7, upstream=upstream)
    frames = a.frames
    x = frames[0].data["x"]
    dy = next(f.data["dy"] for f in frames if f.data["phase"] == "dy")
    last = frames[-1].data
    assert last["phase"] == "done"
    if upstream.startswith("y"):     # L = ½ Σ y², so dL/dx is the gradient of that loss
        num = centred_difference(lambda z: 0.5 * bn_closed_form(z, 0.7, 0.5, 1e-5) ** 2, x, np.ones_like(x))
    else:
        num = centred_difference(lambda z: bn_closed_form(z, 0.7, 0.5, 1e-5), x, dy)
    np.testing.assert_allclose(last["dx"], num, rtol=1e-5, atol=1e-7)
    x_hat = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(last["dgamma"], (dy * x_hat).sum(0), rtol=1e-10)
    np.testing.assert_allclose(last["dbeta"], dy.sum(0), rtol=1e-12)


def test_gradient_flow_uniform_upstream_gives_zero_dx_and_says_so():
    frames = gradient_flow(N=6, D=4, seed=2, upstream="uniform").frames
    assert np.abs(frames[-1].data["dx"]).max() < 1e-12
    mu_step = next(f for f in frames if f.data.get("phase") == "backward" and f.data["node"] == "mu")
    assert np.abs(mu_step.data["totals"]["x"]).max() < 1e-12
    assert "cancel" in mu_step.caption and "dx" in mu_step.body
    # yet the random upstream gradient does reach x
    assert np.abs(gradient_flow(N=6, D=4, seed=2).frames[-1].data["dx"]).max() > 1e-3


def test_gradient_flow_shows_contributions_adding_at_the_fan_out_points():
    a = gradient_flow(N=4, D=3, seed=0)
    back = [f for f in a.frames if f.data["phase"] == "backward"]
    sq = next(f for f in back if f.data["node"] == "sq")      # second contribution to d(x - mu)
    x_hat = next(f for f in back if f.data["node"] == "x_hat")
    total = sq.data["totals"]["xmu"]
    np.testing.assert_allclose(total, x_hat.data["to_parents"]["xmu"] + sq.data["to_parents"]["xmu"],
                               rtol=1e-12)
    assert "contributions added" in sq.body and "d(x − μ)" in sq.body
    assert "fans out" in x_hat.caption        # the first half waits for the second
    # the edge label is entry [0, 0] of the gradient sent along that edge
    mu = next(f for f in back if f.data["node"] == "mu")
    label = f'{mu.data["to_parents"]["x"][0, 0]:+.3g}'
    assert re.search(rf">{re.escape(label)}</text>", mu.body)


def test_gradient_flow_uses_tables_for_small_and_heatmaps_for_large_batches():
    small = gradient_flow(N=4, D=3).frames[2].body      # frame 2: x - mu, an (N, D) array
    large = gradient_flow(N=32, D=8).frames[2].body
    assert 'class="bn-num"' in small and "heatmap" not in small
    assert 'aria-label="heatmap of' in large


def test_bad_parameters_are_rejected_with_clear_messages():
    with pytest.raises(ValueError, match="N must be between 2"):
        gradient_flow(N=1)
    with pytest.raises(ValueError, match="whole number"):
        gradient_flow(N=2.5)
    with pytest.raises(ValueError, match="upstream must be one of"):
        gradient_flow(upstream="ones")
    with pytest.raises(TypeError, match="unknown parameter"):
        gradient_flow(batch=3)
    with pytest.raises(TypeError, match="must be a number"):
        transform_playground(gamma="2")


# --- the two views ---------------------------------------------------------------------------------

ALL = {
    "gradient_flow": lambda: gradient_flow(),
    "gradient_flow_large": lambda: gradient_flow(N=64, D=16),
    "distributions": lambda: distributions(synthetic_result()),
    "distributions_long": lambda: distributions(synthetic_result(T=300, S=3000)),
    "transform_playground": lambda: transform_playground(),
    "train_eval_gap": lambda: train_eval_gap(),
}


@pytest.mark.parametrize("name", list(ALL))
def test_mimebundle_has_widget_view_and_a_small_self_contained_player(name):
    bundle = ALL[name]()._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and bundle[WIDGET_VIEW]["model_id"]
    html = bundle["text/html"]
    for cls in CONTRACT:
        assert re.search(rf'class="[^"]*\b{cls}\b', html), cls
    assert re.search(r'class="bn-player[^"]*"[^>]*data-frame="0"', html)
    assert len(html.encode()) < MAX_PLAYER_BYTES, f"{name}: {len(html.encode())} bytes"
    # nothing fetched from elsewhere: no src/href to any URL, no CDN
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert not re.search(r"cdn|unpkg|jsdelivr|require\.js", html, re.I)
    # every picture carries a text alternative
    svgs = re.findall(r"<svg\b[^>]*>", html)
    assert svgs and all(re.search(r'aria-label="[^"]+"', s) for s in svgs)
    assert "<img" not in html or all(re.search(r'alt="[^"]+"', t) for t in re.findall(r"<img\b[^>]*>", html))


def test_two_players_on_a_page_have_distinct_ids():
    a, b = gradient_flow().to_html(), gradient_flow().to_html()
    ida, idb = (re.search(r'id="(bn-player-\d+)"', h).group(1) for h in (a, b))
    assert ida != idb


def test_player_rejects_empty_frames():
    with pytest.raises(ValueError, match="at least one frame"):
        player_html([], "empty")
    assert 'data-frame="0"' in player_html([Frame("<p>a</p>", "c")], "one")


def test_live_controls_recompute_the_picture():
    a = gradient_flow(N=4, D=3)
    box = a.widget()
    before = box.view.value
    box.controls["frame"].value = box.controls["frame"].max        # the "done" frame
    done = box.view.value
    assert done != before and "dγ" in done
    box.controls["upstream"].value = "uniform"
    assert a.values["upstream"] == "uniform" and "cancel" not in box.view.value
    assert np.abs(a.frames[-1].data["dx"]).max() < 1e-12
    box.controls["N"].value = 32
    assert a.state["cache"]["x"].shape == (32, 3) and "heatmap of" in box.view.value


def test_transform_tour_moves_the_sliders_and_ends_in_the_identity():
    a = transform_playground(seed=4, N=50, mean=-1.5, scale=3.0, eps=1e-3)
    last = a.frames[-1].data
    x = last["x"]
    # independent oracle: the batch's own mean and sqrt(var + eps)
    assert last["gamma"] == pytest.approx(np.sqrt(x.var() + 1e-3), rel=1e-12)
    assert last["beta"] == pytest.approx(x.mean(), rel=1e-12)
    np.testing.assert_allclose(last["y"], x, rtol=0, atol=1e-12)
    first = a.frames[0].data
    assert abs(first["x_hat"].mean()) < 1e-12 and first["x_hat"].std() == pytest.approx(
        x.std() / np.sqrt(x.var() + 1e-3), rel=1e-12)
    box = a.widget()
    box.controls["frame"].value = 4
    assert box.controls["gamma"].value == pytest.approx(last["gamma"])
    assert "undo the normalization" in box.view.value
    box.controls["beta"].value = 2.0         # the learner takes over
    assert "Your own" in box.view.value


def test_train_eval_gap_matches_a_plain_numpy_replay_and_shrinks_with_batch_size():
    a = train_eval_gap(seed=5, momentum=0.2, steps=10, train_batch=8, mean=1.0, scale=2.0)
    gaps = a.frames[0].data["gaps"]
    # independent oracle: running averages and both normalizations written out with numpy,
    # drawing the same random numbers in the same order
    rng = np.random.default_rng(5)
    draw = lambda m: 1.0 + 2.0 * rng.standard_normal((m, D))   # noqa: E731
    rm, rv = np.zeros(D), np.ones(D)
    for _ in range(10):
        xb = draw(8)
        rm, rv = 0.8 * rm + 0.2 * xb.mean(0), 0.8 * rv + 0.2 * xb.var(0, ddof=1)
    for i, m in enumerate(BATCH_SIZES):
        g = []
        for _ in range(EVAL_BATCHES):
            xb = draw(m)
            y_eval = (xb - rm) / np.sqrt(rv + 1e-5)
            y_train = (xb - xb.mean(0)) / np.sqrt(xb.var(0) + 1e-5)
            g.append(np.mean((y_train - y_eval) ** 2))
        assert gaps[i] == pytest.approx(np.sqrt(np.mean(g)), rel=1e-10), m
    assert gaps[0] > 3 * gaps[-1]
    assert len(a.frames) == len(BATCH_SIZES)
    assert [f.data["batch_size"] for f in a.frames] == list(BATCH_SIZES)


# --- distributions -----------------------------------------------------------------------------------

def test_distributions_frames_follow_the_result():
    r = synthetic_result(T=25, S=400, seed=1)
    a = distributions(r, bins=20, xlim=8.0)
    frames = a.frames
    assert len(frames) == 25
    f = frames[17].data
    assert f["step"] == r.steps[17]
    assert f["hist_plain"].sum() == pytest.approx(1.0) and len(f["hist_bn"]) == 20
    assert f["saturated_plain"] == pytest.approx(np.mean(np.abs(r.samples_plain[17]) > 4.0))
    assert f["saturated_bn"] == pytest.approx(np.mean(np.abs(r.samples_bn[17]) > 4.0))
    counts, _ = np.histogram(r.samples_bn[17], np.linspace(-8, 8, 21))
    np.testing.assert_allclose(f["hist_bn"], counts / 400)
    assert f"{r.test_acc_bn[17]:.3f} with BN" in frames[17].caption


def test_distributions_subsamples_long_runs_and_accepts_any_object_with_the_fields():
    r = synthetic_result(T=200, S=50)
    a = distributions(SimpleNamespace(**vars(r)))
    assert len(a.frames) == 60 and a.frames[-1].data["t"] == 199


def test_distributions_rejects_results_without_the_fields():
    r = synthetic_result(T=5, S=10)
    fields = dict(vars(r))
    del fields["samples_bn"]
    with pytest.raises(TypeError, match="samples_bn"):
        distributions(SimpleNamespace(**fields))
    bad = dict(vars(r), percentiles_bn=np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"percentiles_bn must have shape \(5, 3\)"):
        distributions(SimpleNamespace(**bad))


# --- speed and imports -------------------------------------------------------------------------------

def test_importing_widgets_does_not_import_ipywidgets():
    code = "import sys, bnlib.widgets; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _fill_of(svg: str, name: str) -> str:
    """The fill colour of the node titled ``name`` in dot's SVG."""
    group = re.search(r'<g class="node">\s*<title>' + re.escape(name) + r'</title>(.*?)</g>', svg, re.S)
    return re.search(r'fill="([^"]+)"', group.group(1)).group(1).lower()


def test_diagram_is_inline_svg_with_alt_text_and_the_highlight_in_the_palette_colour():
    from bnlib.viz import COLORS
    from bnlib.widgets import draw_graph

    d = draw_graph("The graph with μ highlighted", highlight="mu")
    html = d._repr_html_()
    assert re.search(r'<svg role="img" aria-label="The graph with μ highlighted"', html)
    assert "<?xml" not in html and ' id="' not in html
    assert _fill_of(d.svg, "mu") == COLORS["highlight"].lower()
    assert _fill_of(d.svg, "var") != COLORS["highlight"].lower()
    assert _fill_of(d.svg, "x") == COLORS["input"].lower()
    with pytest.raises(ValueError, match="alt"):
        draw_graph("  ")


def test_diagram_alt_text_says_what_is_highlighted_in_the_graph_labels():
    from bnlib.widgets import draw_graph

    d = draw_graph(highlight="x_hat", edge=("xmu", "x_hat"), direction="backward")
    assert "highlighted: x̂" in d.alt and "x − μ to x̂" in d.alt and "backward" in d.alt
    assert "x and x − μ fan out" in d.alt


def test_every_node_and_edge_of_the_graph_is_drawn_with_its_label():
    from bnlib import graph
    from bnlib.widgets.diagram import to_dot

    dot = to_dot()
    for n in graph.NODES:
        assert f'"{n.name}" [label="{n.label}"' in dot
    edges = re.findall(r'"(\w+)" -> "(\w+)"', dot)
    assert edges == list(graph.EDGES)


def test_highlighting_an_unknown_node_is_an_error_naming_the_nodes():
    from bnlib.widgets.diagram import to_dot

    with pytest.raises(ValueError, match="x_hat"):
        to_dot(highlight="xhat")
