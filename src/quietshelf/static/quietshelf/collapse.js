/* Small screens: panels marked data-collapse-below="700" (the search facets) start closed
 * below that width, so the results come first; wider screens keep them open. */
(function () {
  "use strict";
  document.querySelectorAll("details[data-collapse-below]").forEach(function (el) {
    var width = parseInt(el.getAttribute("data-collapse-below"), 10) || 700;
    if (window.matchMedia("(max-width: " + width + "px)").matches) el.open = false;
  });
})();
