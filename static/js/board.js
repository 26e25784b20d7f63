/* One board: panels on a 12-column grid (vendored gridstack), their data from /api/v1/boards/<slug>/data
   (or .../preview while editing unsaved panels), redrawn on the board's auto-refresh and on
   every live update of a source the board shows. Editing (operators and admins): add, edit, remove,
   drag and resize panels, or move them with the keyboard; save a version, restore one, duplicate,
   import and export the JSON document (docs/boards.md). Under PHONE_BELOW px the grid is one column
   whose order is the document's phone_order: a move there changes that order, never the 12-column
   layout. */
(function () {
  "use strict";
  var DI = window.DI;
  var config = DI.readConfig("board-config");
  var gridEl = document.getElementById("board-grid");
  var statusEl = document.getElementById("board-status");
  var errorEl = document.getElementById("board-error");
  var doc = JSON.parse(JSON.stringify(config.document));
  var editing = false;
  var dirty = false;
  var zoom = null; // {from, to} while zoomed
  var asked = {}; // variable -> chosen value
  var lastData = null;
  var renders = 0;
  var refreshTimer = null;
  var liveTimer = null;
  var fetching = null;
  var shownSources = {};
  var CELL_HEIGHT = 64;
  var PHONE_BELOW = 700; // grid width in px under which the board is one column (docs/boards.md)
  var phone = false; // the grid shows the one-column layout

  var grid = GridStack.init(
    {
      column: config.columns,
      cellHeight: CELL_HEIGHT,
      margin: 6,
      float: false,
      staticGrid: true,
      animate: false,
      handle: ".panel-head",
      resizable: { handles: "se" },
      alwaysShowResizeHandle: true, // in the editor: the corner to drag is always there to see
    },
    gridEl
  );

  function say(text) { statusEl.textContent = text; }

  function showError(text) {
    errorEl.hidden = !text;
    errorEl.textContent = text || "";
  }

  function apiErrorText(body) {
    var e = body && body.error;
    if (!e) return "The request failed.";
    var fields = e.details && e.details.fields;
    if (!fields) return e.message;
    return e.message + " " + Object.keys(fields).map(function (k) { return k + ": " + fields[k].join("; "); }).join(" · ");
  }

  function api(method, url, body) {
    var init = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") init.headers["X-CSRFToken"] = config.csrf;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (r) {
      if (r.status === 401) {
        window.location.reload();
        throw new Error("logged out");
      }
      if (r.status === 204) return null;
      return r.json().then(function (data) {
        if (!r.ok) {
          var err = new Error(apiErrorText(data));
          err.body = data;
          throw err;
        }
        return data;
      });
    });
  }

  var base = "/api/v1/boards/" + encodeURIComponent(config.slug);

  /* --- the grid ------------------------------------------------------------------------------- */

  function panelById(id) {
    for (var i = 0; i < doc.panels.length; i++) if (doc.panels[i].id === id) return doc.panels[i];
    return null;
  }

  function button(label, cls, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "panel-tool " + cls;
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  /* Where a panel sits: its 12-column place, or in the one-column layout its slot (x 0, its height,
     below the panels before it in the phone order), not resizable there (a height is the 12-column one). */
  function panelElement(panel, slot) {
    var item = document.createElement("div");
    var at = slot || panel;
    item.className = "grid-stack-item";
    item.setAttribute("gs-id", panel.id);
    item.setAttribute("gs-x", at.x);
    item.setAttribute("gs-y", at.y);
    item.setAttribute("gs-w", at.w);
    item.setAttribute("gs-h", at.h);
    if (slot) item.setAttribute("gs-no-resize", "true");
    var content = document.createElement("section");
    content.className = "grid-stack-item-content board-panel";
    content.setAttribute("data-panel", panel.id);
    content.setAttribute("data-type", panel.type);
    content.setAttribute("tabindex", "0");
    content.setAttribute("aria-label", (panel.title || panel.type) + " panel");
    var head = document.createElement("header");
    head.className = "panel-head";
    var h = document.createElement("h3");
    h.textContent = panel.title || panel.type;
    head.appendChild(h);
    var tools = document.createElement("span");
    tools.className = "panel-tools";
    tools.appendChild(button("Edit", "panel-edit", function () { openDialog(panel.id); }));
    tools.appendChild(button("Remove", "panel-remove", function () { removePanel(panel.id); }));
    head.appendChild(tools);
    var body = document.createElement("div");
    body.className = "panel-body";
    content.appendChild(head);
    content.appendChild(body);
    content.addEventListener("keydown", function (event) { onPanelKey(event, item); });
    item.appendChild(content);
    return item;
  }

  /* The 12-column layout's reading order: top to bottom, then left to right. */
  function readingOrder() {
    return doc.panels.slice().sort(function (a, b) { return a.y - b.y || a.x - b.x; })
      .map(function (p) { return p.id; });
  }

  /* The one-column order: the panels phone_order lists, as listed, then the others in reading order. */
  function phoneOrder() {
    var listed = (doc.phone_order || []).filter(function (id) { return panelById(id) !== null; });
    return listed.concat(readingOrder().filter(function (id) { return listed.indexOf(id) < 0; }));
  }

  /* Keep phone_order only while it differs from the reading order (absent, the phone follows the grid). */
  function setPhoneOrder(order) {
    if (order.join("\n") === readingOrder().join("\n")) delete doc.phone_order;
    else doc.phone_order = order;
  }

  function phoneSlots() {
    var slots = {};
    var y = 0;
    phoneOrder().forEach(function (id) {
      var h = panelById(id).h;
      slots[id] = { x: 0, y: y, w: 1, h: h };
      y += h;
    });
    return slots;
  }

  function narrow() { return gridEl.clientWidth > 0 && gridEl.clientWidth < PHONE_BELOW; }

  /* (Re)create every panel for the current width: the 12-column layout, or the one-column phone order. */
  function build() {
    grid.removeAll(true);
    phone = narrow();
    grid.column(phone ? 1 : config.columns, "none"); // an empty grid: nothing for gridstack to re-lay out
    var slots = phone ? phoneSlots() : {};
    doc.panels.forEach(function (panel) {
      var el = panelElement(panel, slots[panel.id]);
      gridEl.appendChild(el);
      grid.makeWidget(el);
    });
    document.getElementById("board-empty").hidden = doc.panels.length > 0;
    document.getElementById("board-title").textContent = doc.title;
    document.title = doc.title + " · DevOps Insights";
    syncLayout();
  }

  /* Read positions back from the grid into the document (after drag, resize, keyboard or compaction):
     the 12-column places, or in the one-column layout only the order, top to bottom. */
  function syncLayout() {
    var nodes = grid.getGridItems().map(function (el) { return el.gridstackNode; })
      .filter(function (node) { return node && panelById(String(node.id)); });
    if (phone) {
      if (nodes.length !== doc.panels.length) return; // mid-build: not every panel is on the grid yet
      nodes.sort(function (a, b) { return a.y - b.y; });
      setPhoneOrder(nodes.map(function (node) { return String(node.id); }));
      return;
    }
    nodes.forEach(function (node) {
      var panel = panelById(String(node.id));
      panel.x = node.x;
      panel.y = node.y;
      panel.w = node.w;
      panel.h = node.h;
    });
  }

  grid.on("change", function () {
    syncLayout();
    if (editing) dirty = true;
    if (lastData) render(lastData);
  });
  grid.on("resizestop", function () { if (lastData) render(lastData); });

  /* One-column layout: Up and Down move the focused panel one place in the phone order. */
  function movePhonePanel(id, step) {
    var order = phoneOrder();
    var from = order.indexOf(id);
    var to = Math.max(0, Math.min(order.length - 1, from + step));
    order.splice(to, 0, order.splice(from, 1)[0]);
    setPhoneOrder(order);
    dirty = true;
    build();
    say("Moved to place " + (to + 1) + " of " + order.length + ".");
    gridEl.querySelector('.board-panel[data-panel="' + CSS.escape(id) + '"]').focus();
    if (lastData) render(lastData);
  }

  function onPanelKey(event, item) {
    if (!editing || event.target !== item.firstChild) return;
    var dx = { ArrowLeft: -1, ArrowRight: 1 }[event.key] || 0;
    var dy = { ArrowUp: -1, ArrowDown: 1 }[event.key] || 0;
    if (!dx && !dy) return;
    if (phone) {
      if (!dy || event.shiftKey) return; // no widths in one column; heights are the 12-column layout's
      event.preventDefault();
      movePhonePanel(String(item.gridstackNode.id), dy);
      return;
    }
    event.preventDefault();
    var node = item.gridstackNode;
    var change = event.shiftKey
      ? { w: Math.max(1, Math.min(config.columns - node.x, node.w + dx)), h: Math.max(1, node.h + dy) }
      : { x: Math.max(0, Math.min(config.columns - node.w, node.x + dx)), y: Math.max(0, node.y + dy) };
    grid.update(item, change);
    syncLayout();
    dirty = true;
    var n = item.gridstackNode;
    say((event.shiftKey ? "Resized to " + n.w + " × " + n.h : "Moved to column " + (n.x + 1) + ", row " + (n.y + 1)) + ".");
    item.firstChild.focus();
    if (lastData) render(lastData);
  }

  /* --- data ----------------------------------------------------------------------------------- */

  function query() {
    var parts = [];
    if (zoom) parts.push("from=" + zoom.from, "to=" + zoom.to);
    else parts.push("range=" + encodeURIComponent(doc.time_range));
    var vars = Object.keys(asked).map(function (k) { return k + "=" + asked[k]; });
    if (vars.length) parts.push("vars=" + encodeURIComponent(vars.join(",")));
    return parts.join("&");
  }

  function load() {
    if (fetching) return fetching;
    var request = dirty
      ? api("POST", base + "/preview?" + query(), exportable())
      : api("GET", base + "/data?" + query());
    fetching = request
      .then(function (data) {
        lastData = data;
        showError("");
        renderVariables(data.variables);
        render(data);
        say("Updated " + new Date().toISOString().slice(11, 19) + " UTC" + (zoom ? " · zoomed" : ""));
      })
      .catch(function (err) { showError(err.message); })
      .then(function () { fetching = null; });
    return fetching;
  }

  function renderVariables(variables) {
    var box = document.getElementById("board-variables");
    box.textContent = "";
    (doc.variables || []).forEach(function (v) {
      var label = document.createElement("label");
      label.textContent = "$" + v.name + " ";
      var select = document.createElement("select");
      select.setAttribute("data-variable", v.name);
      ["*"].concat(variables.options[v.name] || []).forEach(function (value) {
        var o = document.createElement("option");
        o.value = value;
        o.textContent = value === "*" ? "All" : value;
        select.appendChild(o);
      });
      select.value = variables.values[v.name] || "*";
      select.addEventListener("change", function () {
        asked[v.name] = select.value;
        load();
      });
      label.appendChild(select);
      box.appendChild(label);
    });
  }

  function markersFor(sources, data) {
    return (data.annotations || []).filter(function (a) { return !a.source || sources.indexOf(a.source) >= 0; });
  }

  function bodyHeight(body) {
    return Math.max(60, body.clientHeight - 40);
  }

  function render(data) {
    renders += 1;
    shownSources = {};
    doc.panels.forEach(function (panel) {
      var section = gridEl.querySelector('.board-panel[data-panel="' + CSS.escape(panel.id) + '"]');
      if (!section) return;
      var body = section.querySelector(".panel-body");
      var entry = data.panels[panel.id];
      section.setAttribute("data-rendered", String(renders));
      if (!entry) {
        body.textContent = "Save the board to load this panel.";
        return;
      }
      (entry.sources || []).forEach(function (s) { shownSources[s] = true; });
      if (entry.error) {
        body.textContent = entry.error;
        return;
      }
      DI.boardPanels[panel.type](body, panel, entry, data);
      if (entry.omitted_sources) {
        // The server charts at most 64 series per panel; say what a wide selector left out.
        var more = document.createElement("div");
        more.className = "muted small";
        more.textContent = entry.omitted_sources + " more source(s) not shown: at most 64 series per panel.";
        body.appendChild(more);
      }
    });
    document.body.setAttribute("data-board-renders", String(renders));
  }

  function onZoom(from, to) {
    zoom = { from: from, to: to };
    document.getElementById("zoom-reset").hidden = false;
    load();
  }

  DI.boardPanels = {
    timeseries: function (body, panel, entry, data) {
      var series = entry.series.map(function (s) {
        var label = (entry.sources.length > 1 || panel.metrics.length === 1 ? s.source : "") + (panel.metrics.length > 1 ? " " + s.metric : "");
        return { label: label.trim() || s.metric, values: s.avg, min: s.min, max: s.max };
      });
      body.setAttribute("data-points", String(entry.t.length));
      DI.drawChart(body, {
        t: entry.t, series: series, from: data.range.from, to: data.range.to, style: panel.style,
        markers: markersFor(entry.sources, data), onZoom: onZoom, height: bodyHeight(body) - 24,
      });
    },
    stat: function (body, panel, entry, data) {
      body.textContent = "";
      var big = document.createElement("div");
      big.className = "stat-value";
      big.textContent = entry.value == null ? "—" : DI.formatNumber(entry.value, entry.value % 1 ? 2 : 0);
      var delta = document.createElement("div");
      delta.className = "stat-delta " + (entry.delta > 0 ? "is-up" : entry.delta < 0 ? "is-down" : "");
      delta.textContent = entry.delta == null ? "" : (entry.delta > 0 ? "+" : "") + DI.formatNumber(entry.delta, entry.delta % 1 ? 2 : 0) + " over the range";
      var who = document.createElement("div");
      who.className = "muted small";
      who.textContent = (entry.source || "no source") + " · " + panel.metric;
      var spark = document.createElement("div");
      spark.className = "stat-spark";
      body.appendChild(big);
      body.appendChild(delta);
      body.appendChild(who);
      body.appendChild(spark);
      if (entry.series.length) {
        DI.drawChart(spark, {
          t: entry.t, series: [{ label: panel.metric, values: entry.series[0].avg }], from: data.range.from, to: data.range.to,
          legend: false, compact: true, height: 48, markers: [],
        });
      }
    },
    table: function (body, panel, entry) {
      body.textContent = "";
      var table = document.createElement("table");
      table.className = "table";
      var head = table.createTHead().insertRow();
      ["source"].concat(entry.columns).forEach(function (c) {
        var th = document.createElement("th");
        th.textContent = c;
        head.appendChild(th);
      });
      var tbody = table.createTBody();
      entry.rows.forEach(function (row) {
        var tr = tbody.insertRow();
        tr.insertCell().textContent = row.source;
        row.values.forEach(function (v) {
          var td = tr.insertCell();
          td.className = "num-cell";
          td.textContent = v == null ? "—" : DI.formatNumber(v, v % 1 ? 2 : 0);
        });
      });
      body.appendChild(table);
    },
    bar: function (body, panel, entry) {
      body.textContent = "";
      var top = Math.max.apply(null, entry.bars.map(function (b) { return Math.abs(b.value || 0); }).concat([1e-9]));
      var list = document.createElement("ul");
      list.className = "bars";
      entry.bars.forEach(function (b, i) {
        var li = document.createElement("li");
        var name = document.createElement("span");
        name.className = "bar-name";
        name.textContent = b.source;
        var track = document.createElement("span");
        track.className = "bar-track";
        var fill = document.createElement("span");
        fill.className = "bar-fill";
        fill.style.width = (b.value == null ? 0 : Math.abs(b.value) / top * 100) + "%";
        fill.style.background = DI.palette[i % DI.palette.length];
        track.appendChild(fill);
        var value = document.createElement("span");
        value.className = "bar-value";
        value.textContent = b.value == null ? "—" : DI.formatNumber(b.value, b.value % 1 ? 2 : 0);
        li.appendChild(name);
        li.appendChild(track);
        li.appendChild(value);
        list.appendChild(li);
      });
      body.appendChild(list);
    },
    status: function (body, panel, entry) {
      body.textContent = "";
      var list = document.createElement("ul");
      list.className = "status-grid";
      entry.cells.forEach(function (cell) {
        var li = document.createElement("li");
        li.className = "status-cell is-" + cell.state;
        li.setAttribute("data-source", cell.source);
        li.textContent = cell.source + " · " + cell.state;
        list.appendChild(li);
      });
      body.appendChild(list);
    },
    note: function (body, panel, entry) {
      // Rendered by the server: Markdown with raw HTML off, then cleaned by nh3 (boards/data.py).
      body.innerHTML = entry.html;
      body.classList.add("note-body");
    },
  };

  /* --- editing -------------------------------------------------------------------------------- */

  function exportable() {
    syncLayout();
    var out = {
      format: doc.format, title: doc.title, time_range: doc.time_range, refresh: doc.refresh,
      variables: doc.variables || [], panels: doc.panels,
    };
    var order = (doc.phone_order || []).filter(function (id) { return panelById(id) !== null; });
    if (order.length) out.phone_order = order;
    return out;
  }

  function setEditing(on) {
    editing = on;
    grid.setStatic(!on);
    document.body.classList.toggle("is-editing", on);
    document.getElementById("board-editbar").hidden = !on;
    document.getElementById("board-edit").hidden = on;
  }

  function removePanel(id) {
    doc.panels = doc.panels.filter(function (p) { return p.id !== id; });
    var el = gridEl.querySelector('.grid-stack-item[gs-id="' + CSS.escape(id) + '"]');
    if (el) grid.removeWidget(el);
    dirty = true;
    document.getElementById("board-empty").hidden = doc.panels.length > 0;
  }

  function newId() {
    var n = doc.panels.length + 1;
    while (panelById("p" + n)) n += 1;
    return "p" + n;
  }

  function defaults(type) {
    var metric = config.metrics.indexOf("cpu_load") >= 0 ? "cpu_load" : config.metrics[0] || "cpu_load";
    var sized = { timeseries: [6, 4], stat: [3, 3], table: [6, 3], bar: [6, 3], status: [6, 2], note: [4, 3] }[type];
    var panel = { id: newId(), type: type, title: type === "note" ? "Note" : metric, x: 0, y: 1000, w: sized[0], h: sized[1] };
    if (type !== "note") panel.sources = ["*"];
    if (type === "timeseries" || type === "table") panel.metrics = [metric];
    if (type === "stat" || type === "bar") panel.metric = metric;
    if (type === "stat") panel.sources = [config.sources[0] || "*"];
    if (type === "timeseries") panel.style = "line";
    if (type === "note") panel.text = "Write **Markdown** here.";
    return panel;
  }

  function addPanel(panel) {
    doc.panels.push(panel);
    if (phone) {
      build(); // its one-column slot: last, unless phone_order already lists it
    } else {
      var el = panelElement(panel);
      gridEl.appendChild(el);
      grid.makeWidget(el);
      syncLayout();
    }
    dirty = true;
    document.getElementById("board-empty").hidden = true;
    say("Added a " + panel.type + " panel.");
    load();
  }

  var dialog = document.getElementById("panel-dialog");
  var form = document.getElementById("panel-form");
  var editingPanel = null;

  function splitList(text) {
    return text.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function openDialog(id) {
    var panel = id ? panelById(id) : defaults(document.getElementById("add-type").value);
    editingPanel = { id: id, panel: panel };
    form.elements.title.value = panel.title || "";
    form.elements.sources.value = (panel.sources || []).join(", ");
    form.elements.metrics.value = (panel.metrics || []).join(", ");
    form.elements.metric.value = panel.metric || "";
    form.elements.style.value = panel.style || "line";
    form.elements.band.checked = !!panel.band;
    form.elements.text.value = panel.text || "";
    Array.prototype.forEach.call(form.querySelectorAll("[data-for]"), function (label) {
      label.hidden = label.getAttribute("data-for").split(" ").indexOf(panel.type) < 0;
    });
    document.getElementById("panel-error").hidden = true;
    dialog.showModal();
  }

  if (dialog) {
    dialog.addEventListener("close", function () {
      if (dialog.returnValue !== "ok" || !editingPanel) return;
      var panel = JSON.parse(JSON.stringify(editingPanel.panel));
      panel.title = form.elements.title.value.trim();
      if (panel.sources) panel.sources = splitList(form.elements.sources.value);
      if (panel.metrics) panel.metrics = splitList(form.elements.metrics.value);
      if (panel.metric !== undefined) panel.metric = form.elements.metric.value.trim();
      if (panel.type === "timeseries") {
        panel.style = form.elements.style.value;
        panel.band = form.elements.band.checked;
      }
      if (panel.type === "note") panel.text = form.elements.text.value;
      if (editingPanel.id) {
        var index = doc.panels.indexOf(panelById(editingPanel.id));
        doc.panels[index] = panel;
        dirty = true;
        var el = gridEl.querySelector('.board-panel[data-panel="' + CSS.escape(panel.id) + '"] h3');
        if (el) el.textContent = panel.title || panel.type;
        load();
      } else {
        addPanel(panel);
      }
      editingPanel = null;
    });
  }

  function save() {
    doc.title = document.getElementById("edit-title").value.trim() || doc.title;
    return api("PUT", base, exportable())
      .then(function (answer) {
        doc = answer.document;
        dirty = false;
        setEditing(false);
        build();
        document.getElementById("board-version").textContent = "version " + answer.version;
        showError("");
        return announceAfterLoad("Saved version " + answer.saved_version + ".");
      })
      .catch(function (err) { showError(err.message); });
  }

  function reloadDocument(message) {
    return api("GET", base).then(function (answer) {
      doc = answer.document;
      dirty = false;
      build();
      document.getElementById("board-version").textContent = "version " + answer.version;
      applySettings();
      return announceAfterLoad(message);
    });
  }

  // Said now and again once the data that follows has loaded: the load's own "Updated ..." would otherwise
  // replace it at once, and the confirmation (an aria-live status) would be gone before anyone read it.
  function announceAfterLoad(message) {
    say(message);
    return load().then(function () { say(message); });
  }

  function showHistory() {
    var box = document.getElementById("history-panel");
    if (!box.hidden) {
      box.hidden = true;
      return;
    }
    api("GET", base + "/versions").then(function (answer) {
      var list = document.getElementById("history-list");
      list.textContent = "";
      answer.versions.forEach(function (v) {
        var li = document.createElement("li");
        li.setAttribute("data-version", String(v.number));
        li.textContent = "Version " + v.number + " · " + v.created_at.slice(0, 16).replace("T", " ") + " · " + (v.author || "—") + " · " + v.panels + " panel" + (v.panels === 1 ? "" : "s") + (v.note ? " · " + v.note : "") + " ";
        if (v.number !== answer.versions[0].number) {
          li.appendChild(button("Restore", "restore-version", function () {
            api("POST", base + "/versions/" + v.number + "/restore").then(function (r) {
              box.hidden = true;
              return reloadDocument("Restored version " + v.number + " as version " + r.saved_version + ".");
            }).catch(function (err) { showError(err.message); });
          }));
        }
        list.appendChild(li);
      });
      box.hidden = false;
    }).catch(function (err) { showError(err.message); });
  }

  function download() {
    var blob = new Blob([JSON.stringify(Object.assign({}, exportable(), { slug: config.slug, team: config.team }), null, 2) + "\n"], { type: "application/json" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = config.slug + ".json";
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }

  function importFile(file) {
    var reader = new FileReader();
    reader.onload = function () {
      var parsed;
      try {
        parsed = JSON.parse(reader.result);
      } catch (e) {
        showError("That file is not JSON: " + e.message);
        return;
      }
      if (!parsed || typeof parsed !== "object" || !Array.isArray(parsed.panels)) {
        showError("That file is not a board document (no panels).");
        return;
      }
      doc = Object.assign({ format: doc.format, variables: [], time_range: doc.time_range, refresh: doc.refresh }, parsed);
      document.getElementById("edit-title").value = doc.title || "";
      dirty = true;
      build();
      applySettings();
      say("Imported " + doc.panels.length + " panels; Save to keep them.");
      load();
    };
    reader.readAsText(file);
  }

  /* --- settings, refresh, live ---------------------------------------------------------------- */

  function applySettings() {
    document.getElementById("board-range").value = doc.time_range;
    document.getElementById("board-refresh").value = String(doc.refresh);
    clearInterval(refreshTimer);
    if (doc.refresh > 0) refreshTimer = setInterval(function () { if (!zoom) load(); }, doc.refresh * 1000);
  }

  document.getElementById("board-range").addEventListener("change", function (e) {
    doc.time_range = e.target.value;
    zoom = null;
    document.getElementById("zoom-reset").hidden = true;
    if (editing) dirty = true;
    load();
  });
  document.getElementById("board-refresh").addEventListener("change", function (e) {
    doc.refresh = Number(e.target.value);
    if (editing) dirty = true;
    applySettings();
  });
  document.getElementById("zoom-reset").addEventListener("click", function () {
    zoom = null;
    document.getElementById("zoom-reset").hidden = true;
    load();
  });
  document.getElementById("board-export").addEventListener("click", download);

  if (config.can_edit) {
    document.getElementById("board-edit").addEventListener("click", function () { setEditing(true); });
    document.getElementById("board-cancel").addEventListener("click", function () {
      setEditing(false);
      reloadDocument("Changes discarded.");
    });
    document.getElementById("board-save").addEventListener("click", save);
    document.getElementById("add-panel").addEventListener("click", function () { openDialog(null); });
    document.getElementById("board-history").addEventListener("click", showHistory);
    document.getElementById("import-json").addEventListener("change", function (e) {
      if (e.target.files[0]) importFile(e.target.files[0]);
      e.target.value = "";
    });
    document.getElementById("marker-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var f = event.target;
      var body = { text: f.elements.text.value.trim(), tags: splitList(f.elements.tags.value) };
      if (f.elements.source.value) body.source = f.elements.source.value;
      else body.team = config.team;
      api("POST", "/api/v1/annotations", body).then(function () {
        f.reset();
        document.getElementById("marker-box").open = false;
        say("Marker added.");
        load();
      }).catch(function (err) { showError(err.message); });
    });
    document.getElementById("board-duplicate").addEventListener("click", function () {
      api("POST", base + "/duplicate").then(function (copy) { window.location.href = copy.url; })
        .catch(function (err) { showError(err.message); });
    });
  }

  window.addEventListener("resize", function () {
    clearTimeout(liveTimer);
    liveTimer = setTimeout(function () {
      if (narrow() !== phone) build(); // crossed PHONE_BELOW: the other layout
      if (lastData) render(lastData);
    }, 200);
  });

  var liveUpdates = 0;
  DI.live = new DI.LiveSocket("/ws/metrics/", {
    onOpen: function (live) { if (config.sources.length) live.send({ type: "subscribe", sources: config.sources.slice(0, 500) }); },
    onMessage: function (message) {
      if (message.type !== "update" || !shownSources[message.source] || zoom) return;
      liveUpdates += 1;
      document.body.setAttribute("data-live-updates", String(liveUpdates));
      // Several sources update within a poll round: one reload for all of them.
      clearTimeout(liveTimer);
      liveTimer = setTimeout(load, 1500);
    },
  });

  build();
  applySettings();
  load();
  if (config.can_edit && window.location.hash === "#edit") setEditing(true); // a board just created
  DI.board = { load: load, document: function () { return doc; }, grid: grid };
})();
