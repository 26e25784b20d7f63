/* The drill-down after first paint: uPlot charts of every metric with the range picker, kept live,
   and every snapshot- or health-derived part replaced together on a live update. */
(function () {
  "use strict";
  var DI = window.DI;
  var config = DI.readConfig("source-config");
  var head = document.querySelector(".source-head");
  var statusLine = document.getElementById("chart-status");
  var rangeForm = document.getElementById("range-form");
  var customBox = document.getElementById("custom-range");
  var charts = {};
  var current = { range: config.ranges[0] };
  var reloadTimer = null;
  var metaByName = {};
  var anomalies = [];
  config.metrics.forEach(function (m) { metaByName[m.name] = m; });

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  function seriesQuery() {
    if (current.range === "custom") {
      return "start=" + encodeURIComponent(current.start) + (current.end ? "&end=" + encodeURIComponent(current.end) : "");
    }
    return "range=" + encodeURIComponent(current.range);
  }

  function plotWidth(fig) {
    return Math.max(240, fig.querySelector(".chart-plot").clientWidth || fig.clientWidth || 320);
  }

  /* Deploy and change markers (docs/boards.md): a dashed line at each one's time. */
  function markerPlugin(markers) {
    return { hooks: { draw: [function (u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = cssVar("--degraded", "#b45309");
      ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
      ctx.setLineDash([6, 4]);
      markers.forEach(function (m) {
        var x = Math.round(u.valToPos(Date.parse(m.at) / 1000, "x", true));
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
      });
      ctx.restore();
    }] } };
  }

  function draw(name, metric, start, end, markers) {
    var fig = document.querySelector('.chart[data-metric="' + CSS.escape(name) + '"]');
    if (!fig) return;
    var plot = fig.querySelector(".chart-plot");
    var pts = metric.points;
    fig.setAttribute("data-points", String(pts.length));
    if (charts[name]) {
      charts[name].destroy();
      delete charts[name];
    }
    plot.textContent = "";
    if (!pts.length) {
      var empty = document.createElement("div");
      empty.className = "chart-empty";
      empty.textContent = "No data in this range";
      plot.appendChild(empty);
      return;
    }
    var xs = pts.map(function (p) { return p[0]; });
    var mins = pts.map(function (p) { return p[1]; });
    var avgs = pts.map(function (p) { return p[2]; });
    var maxs = pts.map(function (p) { return p[3]; });
    var unit = metric.unit && metric.unit !== "up/down" ? " " + metric.unit : "";
    var decimals = metric.decimals || 0;
    var fmt = function (u, v) { return v == null ? "—" : DI.formatNumber(v, decimals) + unit; };
    var accent = cssVar("--accent", "#2563eb");
    var muted = cssVar("--muted", "#5b6676");
    var grid = cssVar("--border", "#dde3ea");
    var axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    var longRange = end - start > 86400;
    var timeAxis = Object.assign({
      values: function (u, splits) {
        return splits.map(function (ts) {
          var iso = new Date(ts * 1000).toISOString();
          return longRange ? iso.slice(5, 10) + " " + iso.slice(11, 16) : iso.slice(11, 16);
        });
      },
    }, axis);
    fig.setAttribute("data-markers", String((markers || []).length));
    var opts = {
      plugins: [markerPlugin(markers || [])],
      width: plotWidth(fig),
      height: 180,
      scales: { x: { time: true, min: start, max: end } },
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      axes: [timeAxis, Object.assign({ size: DI.valueAxisSize, values: function (u, vals) { return vals.map(function (v) { return DI.formatNumber(v, v % 1 ? 1 : 0); }); } }, axis)],
      // Anomalous hours of this metric (/api/v1/anomalies) as shaded bands.
      hooks: { draw: [function (u) { shadeAnomalies(u, name); }] },
      series: [
        { value: function (u, ts) { return ts == null ? "—" : new Date(ts * 1000).toISOString().slice(0, 19).replace("T", " "); } },
        { label: "min", stroke: muted, width: 1, dash: [4, 4], value: fmt, points: { show: false } },
        { label: "avg", stroke: accent, width: 2, value: fmt, points: { show: pts.length < 3 } },
        { label: "max", stroke: muted, width: 1, dash: [4, 4], value: fmt, points: { show: false } },
      ],
    };
    charts[name] = new uPlot(opts, [xs, mins, avgs, maxs], plot);
  }

  function shadeAnomalies(u, name) {
    var ctx = u.ctx;
    ctx.save();
    ctx.fillStyle = "rgba(220, 38, 38, 0.18)";
    anomalies.forEach(function (a) {
      if (a.metric !== name || !a.hour) return;
      var from = Date.parse(a.hour) / 1000;
      var x0 = u.valToPos(from, "x", true);
      var x1 = u.valToPos(from + 3600, "x", true);
      ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
    });
    ctx.restore();
  }

  function loadAnomalies(start, end) {
    if (!config.anomaliesUrl) return;
    var iso = function (s) { return new Date(s * 1000).toISOString(); };
    DI.fetchJSON(config.anomaliesUrl + "&from=" + encodeURIComponent(iso(start - 3600)) + "&to=" + encodeURIComponent(iso(end)))
      .then(function (body) {
        anomalies = body.anomalies || [];
        document.querySelectorAll(".chart[data-metric]").forEach(function (fig) {
          var n = anomalies.filter(function (a) { return a.metric === fig.getAttribute("data-metric"); }).length;
          fig.setAttribute("data-anomalies", String(n));
        });
        Object.keys(charts).forEach(function (name) { charts[name].redraw(false); });
      })
      .catch(function () { /* markers are an extra: the charts stand without them */ });
  }

  function load() {
    statusLine.textContent = "Loading…";
    DI.fetchJSON(config.seriesUrl + "?" + seriesQuery())
      .then(function (body) {
        var names = Object.keys(body.metrics);
        var total = 0;
        names.forEach(function (name) {
          total += body.metrics[name].points.length;
          draw(name, body.metrics[name], body.start, body.end, body.annotations);
        });
        var label = body.range === "custom" ? "custom range" : "last " + body.range;
        statusLine.textContent =
          "Showing " + label + " in " + DI.formatDuration(body.bucket_seconds).replace(/^(\d+) s$/, "$1-second") + " buckets (UTC) · " +
          total + " points · loaded " + new Date().toISOString().slice(11, 19) + " UTC";
        document.body.setAttribute("data-charts", "ready");
        loadAnomalies(body.start, body.end);
      })
      .catch(function (err) {
        statusLine.textContent = "Could not load the charts: " + err.message;
        document.body.setAttribute("data-charts", "error");
      });
  }

  function pressed(range) {
    rangeForm.querySelectorAll(".seg").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-range") === range ? "true" : "false");
    });
  }

  rangeForm.querySelectorAll(".seg").forEach(function (button) {
    button.addEventListener("click", function () {
      var range = button.getAttribute("data-range");
      pressed(range);
      if (range === "custom") {
        customBox.hidden = false;
        var now = new Date();
        if (!rangeForm.elements.start.value) {
          rangeForm.elements.start.value = new Date(now - 86400000).toISOString().slice(0, 16);
          rangeForm.elements.end.value = now.toISOString().slice(0, 16);
        }
        rangeForm.elements.start.focus();
        return;
      }
      customBox.hidden = true;
      current = { range: range };
      load();
    });
  });

  rangeForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var start = rangeForm.elements.start.value;
    if (!start) {
      statusLine.textContent = "Choose a start time.";
      return;
    }
    current = { range: "custom", start: start, end: rangeForm.elements.end.value };
    load();
  });

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      Object.keys(charts).forEach(function (name) {
        var fig = document.querySelector('.chart[data-metric="' + CSS.escape(name) + '"]');
        if (fig) charts[name].setSize({ width: plotWidth(fig), height: 180 });
      });
    }, 150);
  });

  var LAST_KNOWN = { stale: true, unreachable: true, unknown: true };

  function setHeadStatus(status, reason) {
    head.setAttribute("data-status", status);
    var pill = head.querySelector('[data-role="status"]');
    pill.className = "pill pill-" + status;
    pill.textContent = config.labels[status];
    if (reason) head.querySelector('[data-role="reason"]').textContent = reason;
    document.body.classList.toggle("is-last-known-page", !!LAST_KNOWN[status]);
  }

  /* One truth per page: every part derived from the snapshot or poll health (header, issue banner, Now,
     sections, alerts, changes, poll health, raw JSON) is replaced from one server read, never some alone. */
  var checkFailed = false;
  var partsTimer = null;
  function refreshParts() {
    clearTimeout(partsTimer);
    partsTimer = setTimeout(function () {
      DI.fetchJSON(config.partsUrl).then(function (body) {
        checkFailed = false;
        Object.keys(body.parts).forEach(function (name) {
          var el = document.querySelector('[data-part="' + name + '"]');
          if (!el) return;
          // The raw JSON's open/closed state is the reader's: keep it across the swap.
          var wasOpen = !!el.querySelector("details[open]");
          el.innerHTML = body.parts[name];
          if (wasOpen) el.querySelectorAll("details").forEach(function (d) { d.open = true; });
        });
        head.setAttribute("data-last-seen", body.last_seen || "");
        head.setAttribute("data-status", body.status);
        document.body.classList.toggle("is-last-known-page", !!body.last_known);
        document.body.setAttribute("data-parts-sequence", String(body.sequence));
        tick();
      }).catch(function () {
        checkFailed = true;
      });
    }, 150);
  }

  /* As on the overview: the server decides about staleness while it can be asked (unchanged polls
     publish nothing); the browser decides only when it cannot. */
  var lastCheck = 0;
  function tick() {
    var seenAt = head.getAttribute("data-last-seen");
    if (!seenAt) return;
    var age = (Date.now() - Date.parse(seenAt)) / 1000;
    var ago = head.querySelector('[data-role="ago"]');
    if (ago) ago.textContent = DI.formatAgo(age);
    var since = head.querySelector('[data-role="down-since"]');
    if (since && since.getAttribute("data-since")) {
      var from = Date.parse(since.getAttribute("data-since"));
      since.textContent = (head.getAttribute("data-status") === "unknown" ? "last confirmed " : "down since ") + new Date(from).toISOString().slice(11, 16) + " (" + DI.formatDuration((Date.now() - from) / 1000) + ")";
    }
    if (age > config.interval + 2 && Date.now() - lastCheck > config.interval * 1000) {
      lastCheck = Date.now();
      refreshParts();
    }
    var status = head.getAttribute("data-status");
    if (checkFailed && age > config.staleAfterIntervals * config.interval && !LAST_KNOWN[status]) {
      setHeadStatus("stale", "no fresh data for " + DI.formatDuration(age));
    }
  }

  function updateNumbers(metrics) {
    document.querySelectorAll(".num[data-metric]").forEach(function (num) {
      var name = num.getAttribute("data-metric");
      var value = metrics[name];
      var meta = metaByName[name];
      if (typeof value !== "number" || !meta) return;
      var el = num.querySelector(".num-value");
      var unitEl = num.querySelector(".unit");
      if (meta.unit === "ms" && value >= 1000) {
        el.textContent = DI.formatNumber(value / 1000, 2);
        if (unitEl) unitEl.textContent = "s";
      } else {
        el.textContent = DI.formatNumber(value, meta.decimals);
        if (unitEl) unitEl.textContent = meta.unit;
      }
    });
  }

  function onMessage(message) {
    if (message.type === "update" && message.source === config.source) {
      head.setAttribute("data-last-seen", message.fetched_at);
      updateNumbers(message.metrics || {});
      refreshParts();
      if (current.range !== "custom") {
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(load, 1000);
      }
    } else if (message.type === "snapshot") {
      refreshParts();
    } else if ((message.type === "source_status" || message.type === "alert") && message.source === config.source) {
      refreshParts();
    }
  }

  /* No reply from the server: what the page shows may be out of date; say so until the next snapshot. */
  function onPause() {
    if (head.getAttribute("data-status") !== "unknown") {
      setHeadStatus("unknown", "no reply from the server: current state unknown");
    }
  }

  load();
  setInterval(tick, 1000);
  DI.charts = charts;
  DI.live = new DI.LiveSocket(config.wsPath, {
    onOpen: function (live) { live.send({ type: "subscribe", sources: [config.source] }); },
    onMessage: onMessage,
    onPause: onPause,
  });
  DI.source = { refreshParts: refreshParts };
})();
