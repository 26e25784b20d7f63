/* Charts shared by the board and the region comparison: uPlot from the columnar data the server sends
   (boards/data.py: one time axis "t", one value list per series), with an optional min/max band,
   annotation markers drawn as vertical lines (and listed under the chart for screen readers and tests),
   and zoom by selecting a span with the mouse. */
(function () {
  "use strict";
  var DI = (window.DI = window.DI || {});
  var PALETTE = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"];

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  function timeLabel(ts, long) {
    var iso = new Date(ts * 1000).toISOString();
    return long ? iso.slice(5, 10) + " " + iso.slice(11, 16) : iso.slice(11, 16);
  }

  function withAlpha(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  /* Vertical lines at each marker's time, drawn over the plot. */
  function markerPlugin(markers) {
    return {
      hooks: {
        draw: [
          function (u) {
            if (!markers.length) return;
            var ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = cssVar("--degraded", "#b45309");
            ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
            ctx.setLineDash([6, 4]);
            markers.forEach(function (m) {
              var x = Math.round(u.valToPos(m.ts, "x", true));
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
            });
            ctx.restore();
          },
        ],
      },
    };
  }

  /* el: the container; spec: {t, series: [{label, values, min?, max?}], from, to, style, markers, onZoom, height,
     legend, compact (a sparkline: no axes, no cursor)} */
  DI.drawChart = function (el, spec) {
    if (el._plot) {
      el._plot.destroy();
      el._plot = null;
    }
    el.textContent = "";
    var plotBox = document.createElement("div");
    var markers = (spec.markers || []).map(function (a) { return { ts: Date.parse(a.at) / 1000, a: a }; });
    if (markers.length) {
      var list = document.createElement("ul");
      list.className = "panel-markers";
      markers.forEach(function (m) {
        var li = document.createElement("li");
        li.className = "panel-marker";
        li.setAttribute("data-kind", m.a.kind);
        li.setAttribute("data-annotation", String(m.a.id));
        li.textContent = timeLabel(m.ts, true) + " " + (m.a.source ? m.a.source + ": " : "") + m.a.text;
        list.appendChild(li);
      });
      el.appendChild(list);
    }
    el.appendChild(plotBox); // under the marker list: the newest markers stay in sight in a short panel
    if (!spec.t.length) {
      var empty = document.createElement("div");
      empty.className = "chart-empty";
      empty.textContent = "No data in this range";
      plotBox.appendChild(empty);
      return null;
    }
    var muted = cssVar("--muted", "#5b6676");
    var grid = cssVar("--border", "#dde3ea");
    var axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    var long = spec.to - spec.from > 86400;
    var data = [spec.t];
    var series = [{ value: function (u, ts) { return ts == null ? "—" : new Date(ts * 1000).toISOString().slice(0, 16).replace("T", " "); } }];
    var bands = [];
    spec.series.forEach(function (s, i) {
      var colour = PALETTE[i % PALETTE.length];
      data.push(s.values);
      series.push({
        label: s.label,
        stroke: colour,
        width: 2,
        fill: spec.style === "area" ? withAlpha(colour, 0.15) : undefined,
        spanGaps: false,
        points: { show: false },
        value: function (u, v) { return v == null ? "—" : DI.formatNumber(v, v % 1 ? 2 : 0); },
      });
      if (s.min && s.max) {
        data.push(s.max);
        series.push({ label: s.label + " max", stroke: withAlpha(colour, 0.35), width: 1, points: { show: false } });
        data.push(s.min);
        series.push({ label: s.label + " min", stroke: withAlpha(colour, 0.35), width: 1, points: { show: false } });
        bands.push({ series: [series.length - 2, series.length - 1], fill: withAlpha(colour, 0.12) });
      }
    });
    var width = Math.max(160, el.clientWidth || 320);
    var opts = {
      width: width,
      height: spec.height || 160,
      scales: { x: { time: true, min: spec.from, max: spec.to } },
      legend: { show: spec.legend !== false, live: true },
      cursor: spec.compact ? { show: false } : { drag: { x: !!spec.onZoom, y: false, setScale: false } },
      select: { show: !!spec.onZoom },
      bands: bands,
      axes: spec.compact
        ? [{ show: false }, { show: false }]
        : [
            Object.assign({ values: function (u, splits) { return splits.map(function (ts) { return timeLabel(ts, long); }); } }, axis),
            Object.assign({ size: DI.valueAxisSize, values: function (u, vals) { return vals.map(function (v) { return DI.formatNumber(v, v % 1 ? 1 : 0); }); } }, axis),
          ],
      series: series,
      plugins: [markerPlugin(markers)],
      hooks: {
        setSelect: [
          function (u) {
            if (!spec.onZoom || u.select.width < 8) return;
            var from = Math.floor(u.posToVal(u.select.left, "x"));
            var to = Math.ceil(u.posToVal(u.select.left + u.select.width, "x"));
            u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
            if (to - from >= 60) spec.onZoom(from, to);
          },
        ],
      },
    };
    var plot = new uPlot(opts, data, plotBox);
    el._plot = plot;
    return plot;
  };

  DI.resizeChart = function (el, height) {
    if (el._plot) el._plot.setSize({ width: Math.max(160, el.clientWidth || 320), height: height });
  };

  DI.palette = PALETTE;
})();
