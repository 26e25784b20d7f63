/* The region comparison: every region's series overlaid, each one's deviation from the median of the
   others, and the ranking, from /api/v1/compare (boards/compare.py); refreshed on live updates. */
(function () {
  "use strict";
  var DI = window.DI;
  var config = DI.readConfig("compare-config");
  var form = document.getElementById("compare-form");
  var statusEl = document.getElementById("compare-status");
  var timer = null;

  function pct(v) { return v == null ? "—" : (v > 0 ? "+" : "") + DI.formatNumber(v, 1) + " %"; }

  function load() {
    var metric = form.elements.metric.value;
    var range = form.elements.range.value;
    if (!metric) {
      statusEl.textContent = "No metric to compare yet.";
      return;
    }
    history.replaceState(null, "", "?metric=" + encodeURIComponent(metric) + "&range=" + encodeURIComponent(range));
    DI.fetchJSON("/api/v1/compare?metric=" + encodeURIComponent(metric) + "&range=" + encodeURIComponent(range)).then(function (data) {
      var values = data.regions.map(function (r) { return { label: r.region, values: r.avg }; });
      var deviations = data.regions.map(function (r) { return { label: r.region, values: r.deviation }; });
      DI.drawChart(document.getElementById("compare-values"), { t: data.t, series: values, from: data.range.from, to: data.range.to, height: 220 });
      DI.drawChart(document.getElementById("compare-deviation"), { t: data.t, series: deviations, from: data.range.from, to: data.range.to, height: 220 });
      var byRegion = {};
      data.regions.forEach(function (r) { byRegion[r.region] = r; });
      var body = document.getElementById("compare-ranking");
      body.textContent = "";
      data.ranking.forEach(function (name, i) {
        var r = byRegion[name];
        var tr = body.insertRow();
        tr.setAttribute("data-region", name);
        tr.insertCell().textContent = String(i + 1);
        tr.insertCell().textContent = name;
        tr.insertCell().textContent = r.latest == null ? "—" : DI.formatNumber(r.latest, r.latest % 1 ? 2 : 0);
        tr.insertCell().textContent = pct(r.latest_deviation);
        tr.insertCell().textContent = r.mean_abs_deviation == null ? "—" : DI.formatNumber(r.mean_abs_deviation, 1) + " %";
      });
      statusEl.textContent = data.metric + " over " + range + ", from the " + data.tier + " tier in " + data.bucket + " s buckets.";
      document.body.setAttribute("data-compare-loaded", String(Date.now()));
    }).catch(function (err) { statusEl.textContent = "Could not load: " + err.message; });
  }

  form.addEventListener("change", load);
  form.addEventListener("submit", function (e) { e.preventDefault(); load(); });
  DI.live = new DI.LiveSocket("/ws/metrics/", {
    onOpen: function (live) { live.send({ type: "subscribe", sources: "all" }); },
    onMessage: function (message) {
      if (message.type !== "update") return;
      clearTimeout(timer);
      timer = setTimeout(load, 2000);
    },
  });
  form.elements.range.value = config.range;
  load();
})();
