/* The report's Print button (no inline handler: the Content-Security-Policy allows scripts from 'self' only). */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
