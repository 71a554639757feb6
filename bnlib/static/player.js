/* bnlib kernel-free frame player (no dependencies).
 * Contract: the root element has class "bn-player" and keeps data-frame equal to the
 * index of the frame on show; buttons .bn-play, .bn-pause, .bn-step (forward), .bn-back;
 * a range input .bn-scrub and a select .bn-speed. Each root is set up once, on its own,
 * so several players on one page never share state. At the first frame "back" is
 * disabled, at the last "step"; one live region (.bn-live) per player announces the
 * caption of a frame the reader moved to, once. */
(function () {
  "use strict";
  function setup(root) {
    if (!root || root.getAttribute("data-bn-ready") === "1") { return; }
    root.setAttribute("data-bn-ready", "1");
    var frames = root.querySelectorAll(".bn-frame");
    var n = frames.length;
    var fps = parseFloat(root.getAttribute("data-fps")) || 1;
    var scrub = root.querySelector(".bn-scrub");
    var speed = root.querySelector(".bn-speed");
    var counter = root.querySelector(".bn-counter");
    var play = root.querySelector(".bn-play");
    var pause = root.querySelector(".bn-pause");
    var back = root.querySelector(".bn-back");
    var step = root.querySelector(".bn-step");
    var live = root.querySelector(".bn-live");
    var timer = null;
    var current = 0;

    function show(i, announce) {
      var next = Math.max(0, Math.min(n - 1, i));
      var moved = next !== current;
      current = next;
      for (var k = 0; k < n; k++) { frames[k].hidden = (k !== current); }
      root.setAttribute("data-frame", String(current));
      if (scrub) { scrub.value = String(current); scrub.setAttribute("aria-valuetext", (current + 1) + " of " + n); }
      if (counter) { counter.textContent = (current + 1) + " / " + n; }
      if (back) { back.disabled = current === 0; }
      if (step) { step.disabled = current === n - 1; }
      if (announce && moved && live) {
        var cap = frames[current].querySelector(".bn-caption");
        live.textContent = "Frame " + (current + 1) + " of " + n + ". " + (cap ? cap.textContent : "");
      }
    }
    function stop() {
      if (timer !== null) { clearInterval(timer); timer = null; }
      root.classList.remove("bn-playing");
      if (play) { play.disabled = false; }
      if (pause) { pause.disabled = true; }
    }
    function start() {
      stop();
      if (current >= n - 1) { show(0, true); }        // play from the start again
      var rate = fps * (speed ? parseFloat(speed.value) || 1 : 1);
      timer = setInterval(function () {
        if (current >= n - 1) { stop(); } else { show(current + 1, true); }
        if (current >= n - 1) { stop(); }
      }, 1000 / rate);
      root.classList.add("bn-playing");
      if (play) { play.disabled = true; }
      if (pause) { pause.disabled = false; pause.focus(); }
    }
    function on(el, ev, fn) { if (el) { el.addEventListener(ev, fn); } }
    on(play, "click", start);
    on(pause, "click", function () { stop(); if (play) { play.focus(); } });
    on(step, "click", function () { stop(); show(current + 1, true); if (step.disabled && back) { back.focus(); } });
    on(back, "click", function () { stop(); show(current - 1, true); if (back.disabled && step) { step.focus(); } });
    on(scrub, "input", function () { stop(); show(parseInt(scrub.value, 10) || 0, true); });
    on(speed, "change", function () { if (timer !== null) { start(); } });
    root.addEventListener("keydown", function (e) {
      var tag = e.target && e.target.tagName;
      if (tag === "SELECT" || tag === "INPUT") { return; }   // the scrub and speed handle their own keys
      var to = {ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: n - 1}[e.key];
      if (to !== undefined) { stop(); show(to, true); e.preventDefault(); }
    });
    current = parseInt(root.getAttribute("data-frame"), 10) || 0;
    show(current, false);
    stop();
  }
  window.bnPlayerSetup = window.bnPlayerSetup || setup;
  var all = document.querySelectorAll(".bn-player");
  for (var i = 0; i < all.length; i++) { window.bnPlayerSetup(all[i]); }
})();
