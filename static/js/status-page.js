// Public status page: refresh without a reload. Polls the page's state.json; when its version changes,
// fetches the page again and swaps the main content. The page is whole without this script.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.dataset.stateUrl || !window.fetch || !window.DOMParser) return;
  var INTERVAL = 30000;
  var timer = null;

  function announce(text) {
    var live = document.getElementById("sp-live");
    if (live) live.textContent = text;
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("main");
    if (!fresh) return;
    main.innerHTML = fresh.innerHTML;
    main.dataset.version = fresh.dataset.version;
    document.title = doc.title;
    var overall = main.querySelector(".sp-overall");
    announce("Status updated: " + (overall ? overall.textContent.trim() : ""));
  }

  function check() {
    if (document.hidden) return schedule();
    // "no-cache": the page and its state may be cached for a few seconds; a change must not wait for that.
    fetch(main.dataset.stateUrl, { credentials: "same-origin", cache: "no-cache", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (!state || state.version === main.dataset.version) return null;
        return fetch(window.location.pathname, { credentials: "same-origin", cache: "no-cache" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) { if (html) swap(html); });
      })
      .catch(function () { /* offline for a moment: try again next round */ })
      .then(schedule);
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(check, INTERVAL);
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden) check(); });
  schedule();
})();
