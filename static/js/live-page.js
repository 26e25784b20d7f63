/* Pages that are one live part: the changes feed (refreshed when the source's update arrives over the
   WebSocket) and the system page (refreshed every data-live-every seconds, and on any source's health
   change). The server renders the part (?part=...); this only swaps it in when it differs. */
(function () {
  "use strict";
  var DI = window.DI;
  var part = document.getElementById("live-part");
  if (!part || !part.getAttribute("data-live-url")) return;
  var url = part.getAttribute("data-live-url");
  var source = part.getAttribute("data-live-source");
  var every = Number(part.getAttribute("data-live-every")) || 0;
  var timer = null;
  var shown = null;

  function strip(html) {
    // Ticking ages and probe latencies alone are no reason to repaint (and lose the reader's place).
    return html.replace(/<time[^>]*>[^<]*<\/time>/g, "").replace(/\d+(\.\d+)? ms/g, "");
  }

  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      DI.fetchJSON(url).then(function (body) {
        var content = strip(body.html);
        if (shown === null) shown = strip(part.innerHTML);
        if (content !== shown) {
          // Keep open "and N more fields" open across the swap.
          var open = Array.prototype.map.call(part.querySelectorAll("details[data-sequence][open]"), function (d) {
            return d.getAttribute("data-sequence");
          });
          part.innerHTML = body.html;
          open.forEach(function (seq) {
            var d = part.querySelector('details[data-sequence="' + CSS.escape(seq) + '"]');
            if (d) d.open = true;
          });
          shown = content;
        }
        document.body.setAttribute("data-part-refreshed", String(Date.now()));
      }).catch(function () {
        document.body.setAttribute("data-part-refreshed", "failed");
      });
    }, 300);
  }

  if (every > 0) setInterval(refresh, every * 1000);
  DI.live = new DI.LiveSocket("/ws/metrics/", {
    onOpen: function (live) { live.send({ type: "subscribe", sources: source ? [source] : "all" }); },
    onMessage: function (message) {
      if (message.type === "snapshot") refresh();
      else if (source && message.source === source && message.type === "update") refresh();
      else if (!source && (message.type === "source_status" || message.type === "alert")) refresh();
    },
  });
  DI.livePage = { refresh: refresh };
})();
