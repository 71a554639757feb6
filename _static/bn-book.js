/* The book's small page script (jupyter-book loads every .js in _static on every page).
 * A box that scrolls sideways (a wide equation, code line, table or figure) is made reachable
 * by keyboard (tabindex=0), as WCAG asks of scrollable regions; a box that no longer
 * scrolls (window made wider) is taken out of the tab order again. */
(function () {
  "use strict";
  var SELECTOR = "div.math, .katex-display, pre, .cell_output .output, figure > .cell_output, .cell_output figure, " +
                 ".mathjax_process, .bn-table-wrap, .bn-diagram, .bn-panel, .pst-scrollable-table-container";
  function mark() {
    var boxes = document.querySelectorAll(".bd-article :is(" + SELECTOR + ")");
    for (var i = 0; i < boxes.length; i++) {
      var el = boxes[i];
      var scrolls = el.scrollWidth > el.clientWidth + 1;
      if (scrolls && el.getAttribute("tabindex") !== "0") {
        el.setAttribute("tabindex", "0");
        el.setAttribute("data-bn-scroll", "1");
      } else if (!scrolls && el.getAttribute("data-bn-scroll") === "1") {
        el.removeAttribute("tabindex");
        el.removeAttribute("data-bn-scroll");
      }
    }
  }
  var timer = null;
  function later() { clearTimeout(timer); timer = setTimeout(mark, 150); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", mark); } else { mark(); }
  window.addEventListener("load", mark);
  window.addEventListener("resize", later);
})();
