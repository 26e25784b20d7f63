/* Copy buttons: a button[data-copy="<id>"] copies the text of the element with that id. Without this
   script the buttons stay hidden and the text is there to select by hand. */
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) { return; }
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        button.textContent = "Copied";
        button.setAttribute("data-copied", "");
      }, function () {
        button.textContent = "Copy failed: select the text";
      });
      window.setTimeout(function () { button.textContent = label; }, 2000);
    });
  });
})();
