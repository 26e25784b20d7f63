/* The boards list: create an empty board, or import a board document, through /api/v1/boards. */
(function () {
  "use strict";
  var DI = window.DI;
  var config = DI.readConfig("boards-config");
  var form = document.getElementById("new-board");
  var errorEl = document.getElementById("board-error");
  if (!form) return;

  function fail(body) {
    var e = (body && body.error) || { message: "The request failed." };
    var fields = (e.details && e.details.fields) || {};
    errorEl.textContent = e.message + " " + Object.keys(fields).map(function (k) { return k + ": " + fields[k].join("; "); }).join(" · ");
    errorEl.hidden = false;
  }

  function create(document_) {
    document_.team = form.elements.team.value;
    return fetch("/api/v1/boards", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": config.csrf },
      body: JSON.stringify(document_),
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) return fail(body);
        window.location.href = body.url + (document_.panels.length ? "" : "#edit");
      });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    create({ format: config.format, title: form.elements.title.value.trim(), panels: [] });
  });
  document.getElementById("import-board").addEventListener("change", function (event) {
    var file = event.target.files[0];
    if (!file) return;
    var reader = new FileReader();
    reader.onload = function () {
      try {
        create(JSON.parse(reader.result));
      } catch (e) {
        fail({ error: { message: "That file is not JSON: " + e.message } });
      }
    };
    reader.readAsText(file);
    event.target.value = "";
  });
})();
