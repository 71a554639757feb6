/* bnlib kernel-free frame player (no dependencies).
 * Contract: the root element has class "bn-player" and keeps data-frame equal to the
 * index of the frame on show; buttons .bn-play, .bn-pause, .bn-step (forward), .bn-back;
 * a range input .bn-scrub and a select .bn-speed. Each root is set up once, on its own,
 * so several players on one page never share state. */
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
    var timer = null;
    var current = 0;

    function show(i) {
      current = Math.max(0, Math.min(n - 1, i));
      for (var k = 0; k < n; k++) { frames[k].hidden = (k !== current); }
      root.setAttribute("data-frame", String(current));
      if (scrub) { scrub.value = String(current); }
      if (counter) { counter.textContent = (current + 1) + " / " + n; }
    }
    function stop() {
      if (timer !== null) { clearInterval(timer); timer = null; }
      root.classList.remove("bn-playing");
      if (play) { play.disabled = false; }
      if (pause) { pause.disabled = true; }
    }
    function start() {
      stop();
      if (current >= n - 1) { show(0); }        // play from the start again
      var rate = fps * (speed ? parseFloat(speed.value) || 1 : 1);
      timer = setInterval(function () {
        if (current >= n - 1) { stop(); } else { show(current + 1); }
      }, 1000 / rate);
      root.classList.add("bn-playing");
      if (play) { play.disabled = true; }
      if (pause) { pause.disabled = false; }
    }
    function on(sel, ev, fn) {
      var el = root.querySelector(sel);
      if (el) { el.addEventListener(ev, fn); }
    }
    on(".bn-play", "click", start);
    on(".bn-pause", "click", stop);
    on(".bn-step", "click", function () { stop(); show(current + 1); });
    on(".bn-back", "click", function () { stop(); show(current - 1); });
    on(".bn-scrub", "input", function () { stop(); show(parseInt(scrub.value, 10) || 0); });
    on(".bn-speed", "change", function () { if (timer !== null) { start(); } });
    root.addEventListener("keydown", function (e) {
      if (e.target && e.target.tagName === "SELECT") { return; }
      if (e.key === "ArrowRight") { stop(); show(current + 1); e.preventDefault(); }
      if (e.key === "ArrowLeft") { stop(); show(current - 1); e.preventDefault(); }
    });
    show(parseInt(root.getAttribute("data-frame"), 10) || 0);
    stop();
  }
  window.bnPlayerSetup = window.bnPlayerSetup || setup;
  var all = document.querySelectorAll(".bn-player");
  for (var i = 0; i < all.length; i++) { window.bnPlayerSetup(all[i]); }
})();
