/* bnlib explorable: the batch-norm graph of one feature, recomputed in the browser (no kernel).
 * The graph comes from the page as data (bnlib.graph.NODES: names, labels, parents, and the name
 * of each node's operation); this file only knows the eight local operations, forward and
 * backward. window.bnExplorable.compute(spec, inputs) is pure (the browser tests call it):
 * inputs {x: [...], dy: [...], gamma, beta, eps} -> {values: {name: number | [numbers]},
 * grads: {name: ...}} or throws an Error whose message says what is wrong. */
(function () {
  "use strict";
  function isArr(v) { return Array.isArray(v); }
  function map2(a, b, f) {            // elementwise with a scalar broadcast over an array
    if (isArr(a) && isArr(b)) { return a.map(function (t, i) { return f(t, b[i]); }); }
    if (isArr(a)) { return a.map(function (t) { return f(t, b); }); }
    if (isArr(b)) { return b.map(function (t) { return f(a, t); }); }
    return f(a, b);
  }
  function sum(a) { var s = 0; for (var i = 0; i < a.length; i++) { s += a[i]; } return s; }
  function mul(a, b) { return map2(a, b, function (p, q) { return p * q; }); }
  function add(a, b) { return map2(a, b, function (p, q) { return p + q; }); }
  function neg(a) { return isArr(a) ? a.map(function (t) { return -t; }) : -a; }
  // forward(...parents, ...constants) and backward(dout, out, ...parents, ...constants) -> one gradient per parent
  var OPS = {
    mean: { f: function (x) { return sum(x) / x.length; },
            b: function (d, o, x) { return [x.map(function () { return d / x.length; })]; } },
    subtract: { f: function (x, mu) { return map2(x, mu, function (p, q) { return p - q; }); },
                b: function (d) { return [d, -sum(d)]; } },
    square: { f: function (v) { return mul(v, v); }, b: function (d, o, v) { return [mul(mul(v, 2), d)]; } },
    sqrt: { f: function (v, eps) { return Math.sqrt(v + eps); }, b: function (d, o) { return [d * 0.5 / o]; } },
    reciprocal: { f: function (s) { return 1 / s; }, b: function (d, o, s) { return [-d / (s * s)]; } },
    normalize: { f: function (v, inv) { return mul(v, inv); },
                 b: function (d, o, v, inv) { return [mul(d, inv), sum(mul(d, v))]; } },
    scale: { f: function (g, xh) { return mul(g, xh); },
             b: function (d, o, g, xh) { return [sum(mul(d, xh)), mul(d, g)]; } },
    shift: { f: function (s, b) { return add(s, b); }, b: function (d) { return [d, sum(d)]; } }
  };
  function finite(v) { return isArr(v) ? v.every(isFinite) : isFinite(v); }

  function check(spec, inp) {
    var x = inp.x, dy = inp.dy;
    if (!isArr(x) || x.length < 2) { throw new Error("The batch needs at least 2 values of x (its mean and variance are over the batch)."); }
    if (!x.every(isFinite)) { throw new Error("Every value of x must be a number."); }
    if (!isArr(dy) || dy.length !== x.length || !dy.every(isFinite)) {
      throw new Error("dy needs one number per value of x (" + x.length + ").");
    }
    ["gamma", "beta", "eps"].forEach(function (k) {
      if (!isFinite(inp[k])) { throw new Error(spec.labels[k] + " must be a number."); }
    });
    if (inp.eps < 0) { throw new Error(spec.labels.eps + " must be 0 or more (it is added to the variance under a square root)."); }
    spec.nodes.forEach(function (n) { if (!OPS[n.op]) { throw new Error("unknown operation " + n.op); } });
  }

  function compute(spec, inp) {
    check(spec, inp);
    var v = {x: inp.x.slice(), gamma: +inp.gamma, beta: +inp.beta, eps: +inp.eps};
    spec.nodes.forEach(function (n) {
      v[n.name] = OPS[n.op].f.apply(null, n.parents.concat(n.constants).map(function (p) { return v[p]; }));
      if (n.op === "sqrt" && !(v[n.name] > 0)) {
        var eps = spec.labels[n.constants[0]];
        throw new Error("All values of x are equal and " + eps + " = 0, so " + spec.labels[n.name] +
                        " = 0 and the normalization would divide by zero. Change a value of x or make " + eps + " > 0.");
      }
      if (!finite(v[n.name])) { throw new Error("The numbers overflow at " + spec.labels[n.name] + ": use smaller values."); }
    });
    var g = {y: inp.dy.slice()};
    spec.nodes.slice().reverse().forEach(function (n) {
      var args = [g[n.name], v[n.name]].concat(n.parents.concat(n.constants).map(function (p) { return v[p]; }));
      var local = OPS[n.op].b.apply(null, args);
      n.parents.forEach(function (p, i) { g[p] = (p in g) ? add(g[p], local[i]) : local[i]; });   // fan-out adds
    });
    return {values: v, grads: g};
  }

  function fmt(t) {
    if (Math.abs(t) < 5e-16) { return "0"; }
    var s = Number(t.toPrecision(4)).toString();
    return s;
  }
  function show(v) { return isArr(v) ? "[" + v.map(fmt).join(", ") + "]" : fmt(v); }

  function setup(root) {
    if (!root || root.getAttribute("data-bn-ready") === "1") { return; }
    root.setAttribute("data-bn-ready", "1");
    var data = JSON.parse(root.querySelector(".bn-x-data").textContent);
    var spec = data.spec;
    var controls = root.querySelector(".bn-x-controls");
    var error = root.querySelector(".bn-x-error");
    var out = root.querySelector(".bn-x-out");
    controls.hidden = false;                      // without the script the table alone is shown
    out.setAttribute("aria-live", "off");         // the summary line below announces changes once
    var summary = document.createElement("p");
    summary.className = "bn-sr";
    summary.setAttribute("aria-live", "polite");
    root.appendChild(summary);

    function cells(name) { return root.querySelectorAll('.bn-x-cells[data-row="' + name + '"] input'); }
    function num(el) { return el.value.trim() === "" ? NaN : Number(el.value); }
    function read() {
      var inp = {x: [], dy: []};
      ["x", "dy"].forEach(function (k) { cells(k).forEach(function (el) { inp[k].push(num(el)); }); });
      ["gamma", "beta", "eps"].forEach(function (k) { inp[k] = num(root.querySelector('input[data-name="' + k + '"]')); });
      return inp;
    }
    function cell(name, k, i) {
      var input = document.createElement("input");
      input.type = "number"; input.step = "any"; input.inputMode = "decimal";
      input.setAttribute("data-name", name); input.setAttribute("data-index", String(i));
      input.setAttribute("aria-label", name + " " + (i + 1)); input.value = String(k);
      return input;
    }
    function resize(n, xs, dys) {
      ["x", "dy"].forEach(function (k) {
        var row = root.querySelector('.bn-x-cells[data-row="' + k + '"]');
        var vals = k === "x" ? xs : dys;
        row.textContent = "";
        vals.forEach(function (t, i) { row.appendChild(cell(k, t, i)); });
        row.parentElement.querySelector("legend").textContent =
          (k === "x" ? "batch x" : "upstream gradient dy") + " (" + n + " values)";
      });
      root.querySelector(".bn-x-add").disabled = n >= data.max_n;
      root.querySelector(".bn-x-remove").disabled = n <= 2;
    }
    var calm = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    function put(el, text) {            // a changed number flashes briefly, unless motion is reduced
      if (el.textContent === text) { return; }
      el.textContent = text;
      if (calm) { return; }
      el.classList.add("bn-x-changed");
      setTimeout(function () { el.classList.remove("bn-x-changed"); }, 600);
    }
    function render() {
      var res;
      try { res = compute(spec, read()); } catch (e) {
        error.textContent = e.message; error.hidden = false;
        root.classList.add("bn-x-invalid");
        return;
      }
      error.hidden = true; error.textContent = "";
      root.classList.remove("bn-x-invalid");
      root.querySelectorAll("tr[data-node]").forEach(function (tr) {
        var name = tr.getAttribute("data-node");
        put(tr.querySelector(".bn-x-value"), show(res.values[name]));
        if (name in res.grads) { put(tr.querySelector(".bn-x-grad"), show(res.grads[name])); }
      });
      root.querySelectorAll(".bn-x-result").forEach(function (o) { put(o, show(res.grads[o.getAttribute("data-of")])); });
      summary.textContent = spec.inputs.map(function (k) { return "d" + spec.labels[k] + " = " + show(res.grads[k]); }).join("; ");
    }
    root.addEventListener("input", function (e) { if (e.target.tagName === "INPUT") { render(); } });
    root.querySelector(".bn-x-add").addEventListener("click", function () {
      var inp = read();
      if (inp.x.length >= data.max_n) { return; }
      resize(inp.x.length + 1, inp.x.concat([inp.x[inp.x.length - 1]]), inp.dy.concat([0]));
      render();
    });
    root.querySelector(".bn-x-remove").addEventListener("click", function () {
      var inp = read();
      if (inp.x.length <= 2) { return; }
      resize(inp.x.length - 1, inp.x.slice(0, -1), inp.dy.slice(0, -1));
      render();
    });
    root.querySelector(".bn-x-reset").addEventListener("click", function () {
      var d = data.defaults;
      resize(d.x.length, d.x, d.dy);
      ["gamma", "beta", "eps"].forEach(function (k) { root.querySelector('input[data-name="' + k + '"]').value = String(d[k]); });
      render();
    });
    resize(data.defaults.x.length, read().x, read().dy);
  }
  window.bnExplorable = window.bnExplorable || {compute: compute, setup: setup};
  var all = document.querySelectorAll(".bn-explorable");
  for (var i = 0; i < all.length; i++) { window.bnExplorable.setup(all[i]); }
})();
