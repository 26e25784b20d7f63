/* The overview after first paint: live card updates in place, ticking ages, client-side staleness,
   filters and sorting re-applied as statuses change, and the one-hour sparklines. */
(function () {
  "use strict";
  var DI = window.DI;
  var config = DI.readConfig("overview-config");
  var form = document.getElementById("filters");
  var pending = {};
  var pendingAll = false;
  var checkFailed = false;
  var pendingTimer = null;
  var lastCheck = {};
  var sparks = {};
  var SPARK_SPAN = 3600;

  function cardsFor(slug) {
    return document.querySelectorAll('.card[data-source="' + CSS.escape(slug) + '"]');
  }

  function allCards() {
    return Array.prototype.slice.call(document.querySelectorAll(".card[data-source]"));
  }

  function setStatus(card, status, reason) {
    card.setAttribute("data-status", status);
    card.setAttribute("data-severity", String(config.severity[status]));
    card.className = card.className.replace(/\bcard-(ok|degraded|error|unreachable|stale|waiting|unknown)\b/, "card-" + status);
    var pill = card.querySelector('[data-role="status"]');
    if (pill) {
      pill.className = "pill pill-" + status;
      pill.textContent = config.labels[status];
    }
    var why = card.querySelector('[data-role="reason"]');
    if (why && reason) why.textContent = reason;
    // A status the browser set itself (stale, unknown) says since when the numbers are the last known.
    var note = card.querySelector('[data-role="last-known"]');
    if (note && !note.querySelector('[data-role="down-since"]') && card.getAttribute("data-last-seen")) {
      var since = document.createElement("span");
      since.setAttribute("data-role", "down-since");
      since.setAttribute("data-since", card.getAttribute("data-last-seen"));
      note.appendChild(document.createTextNode(" · "));
      note.appendChild(since);
      renderSince(since);
    }
  }

  /* "down since 19:30 (8 min)": UTC, 24-hour, like every time on these pages. */
  function renderSince(el) {
    var from = Date.parse(el.getAttribute("data-since"));
    if (isNaN(from)) return;
    var card = el.closest(".card"); var status = card ? card.getAttribute("data-status") : "";
    // While the server does not answer nothing is known to be down: only when the data was last confirmed.
    el.textContent = (status === "unknown" ? "last confirmed " : "down since ") + new Date(from).toISOString().slice(11, 16) + " (" + DI.formatDuration((Date.now() - from) / 1000) + ")";
  }

  /* Ask the server for fresh card markup (one store read for all asked), batched over 300 ms. */
  function refresh(slugs) {
    if (slugs === null) pendingAll = true;
    else slugs.forEach(function (s) { pending[s] = true; });
    if (pendingTimer) return;
    pendingTimer = setTimeout(function () {
      var wanted = pendingAll ? [] : Object.keys(pending);
      pending = {};
      pendingAll = false;
      pendingTimer = null;
      var query = wanted.map(function (s) { return "source=" + encodeURIComponent(s); }).join("&");
      DI.fetchJSON(config.cardsUrl + (query ? "?" + query : ""))
        .then(function (body) {
          checkFailed = false;
          applyCards(body);
        })
        .catch(function () {
          checkFailed = true;
        });
    }, 300);
  }

  function applyCards(body) {
    Object.keys(body.cards).forEach(function (slug) {
      var data = body.cards[slug];
      // Compared without the ticking age, so a recheck that finds nothing new leaves the card (and the
      // keyboard focus inside it) alone.
      var content = data.html.replace(/<time[^>]*>[^<]*<\/time>/g, "");
      cardsFor(slug).forEach(function (card) {
        card.setAttribute("data-last-seen", data.last_seen || "");
        card.setAttribute("data-interval", String(data.interval));
        var statusChanged = card.getAttribute("data-status") !== data.status;
        if (card.diContent === content && !statusChanged) return;
        var known = card.diContent !== undefined;
        card.diContent = content;
        var inner = card.querySelector('[data-role="body"]');
        if (inner) inner.innerHTML = data.html;
        setStatus(card, data.status, data.reason);
        if (!known && !statusChanged) return;
        card.classList.add("is-flash");
        setTimeout(function () { card.classList.remove("is-flash"); }, 800);
      });
      lastCheck[slug] = Date.now();
    });
    // Asked for and no longer polled for this team (paused, deleted, moved): its card would otherwise keep its
    // last verdict with a ticking age. The page says the list changed; a reload lists paused sources again.
    (body.gone || []).forEach(function (slug) {
      cardsFor(slug).forEach(function (card) { card.remove(); });
      var notice = document.querySelector('[data-role="list-changed"]');
      if (notice) notice.hidden = false;
    });
    arrange();
    tick();
  }

  function filterValues() {
    if (!form) return { status: "", tag: "" };
    return { status: form.elements.status.value, tag: form.elements.tag.value };
  }

  /* The status counts: fresh while every card has its verdict from the server. While any card is
     unknown (no reply from the server, live.js) the chips keep the last confirmed numbers, dimmed,
     and say since when: counting the unknown cards as nothing would read as "0 error" now. */
  var summary = document.querySelector(".summary");
  var countsNote = document.querySelector('[data-role="counts-note"]');
  var confirmedAt = Date.now();

  function clock(ms) { return new Date(ms).toISOString().slice(11, 16) + " UTC"; }

  function showCounts(counts, unknown) {
    if (!summary) return;
    if (unknown) {
      summary.classList.add("is-unconfirmed");
      summary.setAttribute("aria-label", "Sources by status, last confirmed " + clock(confirmedAt) + " (no reply from the server since)");
      if (countsNote) {
        countsNote.hidden = false;
        countsNote.textContent = "last confirmed " + clock(confirmedAt) + ", no reply from the server since";
      }
      return;
    }
    confirmedAt = Date.now();
    summary.classList.remove("is-unconfirmed");
    summary.setAttribute("aria-label", "Sources by status");
    if (countsNote) countsNote.hidden = true;
    document.querySelectorAll("[data-count-for]").forEach(function (chip) {
      var n = chip.querySelector(".chip-n");
      if (n) n.textContent = String(counts[chip.getAttribute("data-count-for")] || 0);
    });
  }

  /* The same rule as dashboard.cards.apply_filters, then the sort, then the status counts. */
  function arrange() {
    var f = filterValues();
    var counts = {};
    var seen = {};
    var unknown = 0;
    allCards().forEach(function (card) {
      var status = card.getAttribute("data-status");
      var tags = (card.getAttribute("data-tags") || "").split(",").filter(Boolean);
      card.hidden = (f.status && status !== f.status) || (f.tag && tags.indexOf(f.tag) < 0);
      var slug = card.getAttribute("data-source");
      if (!seen[slug]) {
        seen[slug] = true;
        counts[status] = (counts[status] || 0) + 1;
        if (status === "unknown") unknown += 1;
      }
    });
    showCounts(counts, unknown);
    /* Filters that hide every card say so, as the server's first paint does: a blank page read as broken. */
    var noMatch = document.querySelector('[data-role="no-match"]');
    if (noMatch) noMatch.hidden = !allCards().every(function (card) { return card.hidden; });
    var groups = document.getElementById("groups");
    var byStatus = groups && groups.getAttribute("data-sort") === "status";
    document.querySelectorAll(".cards").forEach(function (list) {
      var items = Array.prototype.slice.call(list.children);
      var sorted = items.slice().sort(function (a, b) {
        var d = byStatus ? Number(a.getAttribute("data-severity")) - Number(b.getAttribute("data-severity")) : 0;
        if (d) return d;
        return a.getAttribute("data-name").localeCompare(b.getAttribute("data-name"));
      });
      var moved = sorted.some(function (el, i) { return el !== items[i]; });
      if (moved) sorted.forEach(function (el) { list.appendChild(el); });
      var group = list.closest(".group");
      if (group) group.hidden = items.every(function (el) { return el.hidden; });
    });
    /* The same rule as dashboard.cards.group_cards: sorted by status, groups go worst first (by their
       worst card), then by name; by name, groups are in name order. */
    if (groups) {
      var sections = Array.prototype.slice.call(groups.querySelectorAll(".group"));
      var worst = function (section) {
        var w = Infinity;
        section.querySelectorAll(".card[data-severity]").forEach(function (c) { w = Math.min(w, Number(c.getAttribute("data-severity"))); });
        return w;
      };
      var order = sections.map(function (section, i) {
        return { el: section, worst: byStatus ? worst(section) : 0, name: section.getAttribute("data-group") || "", ungrouped: section.hasAttribute("data-ungrouped"), i: i };
      }).sort(function (a, b) {
        return (a.worst - b.worst) || ((a.ungrouped ? 1 : 0) - (b.ungrouped ? 1 : 0)) || a.name.toLowerCase().localeCompare(b.name.toLowerCase());
      });
      if (order.some(function (o, i) { return o.el !== sections[i]; })) {
        order.forEach(function (o) { groups.appendChild(o.el); });
      }
    }
  }

  /* Every second: ages tick. Unchanged polls publish nothing, so once a card's data is older than its
     interval the server is asked (batched, at most once per interval per source) for its verdict; the
     server knows about unchanged polls. Only when the server cannot be asked does the browser itself
     call data older than two intervals stale. */
  function tick() {
    var now = Date.now();
    var recheck = [];
    var changed = false;
    allCards().forEach(function (card) {
      var seenAt = card.getAttribute("data-last-seen");
      var slug = card.getAttribute("data-source");
      var interval = Number(card.getAttribute("data-interval")) || 30;
      if (!seenAt) return;
      var age = (now - Date.parse(seenAt)) / 1000;
      var ago = card.querySelector('[data-role="ago"]');
      if (ago) ago.textContent = DI.formatAgo(age);
      var since = card.querySelector('[data-role="down-since"]');
      if (since) renderSince(since);
      if (age > interval + 2 && (!lastCheck[slug] || now - lastCheck[slug] > interval * 1000)) {
        lastCheck[slug] = now;
        recheck.push(slug);
      }
      var status = card.getAttribute("data-status");
      if (checkFailed && age > config.staleAfterIntervals * interval && status !== "stale" && status !== "unreachable" && status !== "unknown") {
        setStatus(card, "stale", "no fresh data for " + DI.formatDuration(age));
        changed = true;
      }
    });
    if (changed) arrange();
    if (recheck.length) refresh(recheck);
  }

  /* Sparklines: SVG paths drawn from the last hour of bucket averages, extended by live updates. */
  function drawSpark(slug, metric) {
    var points = (sparks[slug] && sparks[slug][metric]) || [];
    var cutoff = Date.now() / 1000 - SPARK_SPAN;
    points = points.filter(function (p) { return p[0] >= cutoff && typeof p[1] === "number"; });
    if (sparks[slug]) sparks[slug][metric] = points;
    cardsFor(slug).forEach(function (card) {
      var fig = card.querySelector('[data-spark="' + metric + '"]');
      if (!fig) return;
      var svg = fig.querySelector("svg");
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      fig.setAttribute("data-points", String(points.length));
      if (points.length < 2) return;
      var t0 = cutoff, t1 = cutoff + SPARK_SPAN;
      var lo = Infinity, hi = -Infinity;
      points.forEach(function (p) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); });
      if (hi === lo) { hi += 1; lo -= 1; }
      var d = points.map(function (p, i) {
        var x = ((p[0] - t0) / (t1 - t0)) * 100;
        var y = 22 - ((p[1] - lo) / (hi - lo)) * 20;
        return (i ? "L" : "M") + x.toFixed(2) + " " + y.toFixed(2);
      }).join(" ");
      var first = ((points[0][0] - t0) / (t1 - t0)) * 100;
      var last = ((points[points.length - 1][0] - t0) / (t1 - t0)) * 100;
      var ns = "http://www.w3.org/2000/svg";
      var area = document.createElementNS(ns, "path");
      area.setAttribute("d", d + " L" + last.toFixed(2) + " 24 L" + first.toFixed(2) + " 24 Z");
      area.setAttribute("class", "spark-area");
      var line = document.createElementNS(ns, "path");
      line.setAttribute("d", d);
      line.setAttribute("class", "spark-line");
      svg.appendChild(area);
      svg.appendChild(line);
    });
  }

  function loadSparklines() {
    DI.fetchJSON(config.sparklinesUrl).then(function (body) {
      sparks = body.series;
      Object.keys(sparks).forEach(function (slug) {
        drawSpark(slug, "cpu_load");
        drawSpark(slug, "wait_time");
      });
    }).catch(function () {});
  }

  function onMessage(message) {
    if (message.type === "snapshot") {
      // Sent after every (re)connect: whatever happened while away, repaint every card from the server.
      refresh(null);
      loadSparklines();
    } else if (message.type === "update") {
      var t = Date.parse(message.fetched_at) / 1000;
      cardsFor(message.source).forEach(function (card) {
        card.setAttribute("data-last-seen", message.fetched_at);
      });
      sparks[message.source] = sparks[message.source] || { cpu_load: [], wait_time: [] };
      ["cpu_load", "wait_time"].forEach(function (metric) {
        var v = message.metrics && message.metrics[metric];
        if (typeof v === "number") {
          (sparks[message.source][metric] = sparks[message.source][metric] || []).push([t, v]);
          drawSpark(message.source, metric);
        }
      });
      refresh([message.source]);
    } else if (message.type === "source_status" || message.type === "alert") {
      refresh([message.source]);
    }
  }

  /* Status, tag and sort apply in place (a keyboard user stepping through a select is not sent
     round a page load per step) and stay in the address; grouping changes the page's sections. */
  if (form) {
    form.addEventListener("change", function (event) {
      if (event.target.name === "group") {
        form.submit();
        return;
      }
      document.getElementById("groups").setAttribute("data-sort", form.elements.sort.value);
      arrange();
      var params = new URLSearchParams(new FormData(form));
      Array.from(params.keys()).forEach(function (key) { if (!params.get(key)) params.delete(key); });
      history.replaceState(null, "", "?" + params.toString());
    });
  }
  arrange();
  tick();
  setInterval(tick, 1000);
  loadSparklines();
  /* No reply from the server (live.js): no card can claim to be current until the next snapshot. */
  function onPause() {
    var changed = false;
    allCards().forEach(function (card) {
      if (card.getAttribute("data-status") === "unknown") return;
      card.diContent = undefined; // the next repaint from the server replaces it whatever it says
      setStatus(card, "unknown", "no reply from the server: current state unknown");
      changed = true;
    });
    if (changed) arrange();
  }

  DI.live = new DI.LiveSocket(config.wsPath, {
    onOpen: function (live) { live.send({ type: "subscribe", sources: "all" }); },
    onMessage: onMessage,
    onPause: onPause,
  });
  DI.overview = { refresh: refresh, sparks: function () { return sparks; } };
})();
