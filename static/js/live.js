/* The live connection shared by the dashboard pages: WebSocket to ws/metrics/, an application ping that
   notices a frozen server, reconnect with backoff, the badge that says so when live updates are paused,
   and the page-wide system banner. Protocol: docs/websocket-protocol.md. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var DI = (window.DI = window.DI || {});

  DI.readConfig = function (id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : {};
  };

  DI.formatAgo = function (seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 120) return seconds + " s ago";
    if (seconds < 7200) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 172800) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  };

  DI.formatDuration = function (seconds) {
    return DI.formatAgo(seconds).replace(" ago", "");
  };

  DI.formatNumber = function (value, decimals) {
    if (typeof value !== "number" || !isFinite(value)) return "—";
    if (!decimals || Number.isInteger(value)) decimals = 0;
    return value.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  };

  /* A uPlot value axis's width, measured from its widest label: a fixed width cut "50,000" to "0,000"
     on a narrow chart. uPlot calls it per layout cycle with the labels it is about to draw. */
  DI.valueAxisSize = function (u, values, axisIdx, cycleNum) {
    var axis = u.axes[axisIdx];
    if (cycleNum > 1) return axis._size;  // settled: labels do not change within one layout
    var widest = 0;
    u.ctx.font = axis.font[0];
    (values || []).forEach(function (text) {
      widest = Math.max(widest, u.ctx.measureText(String(text)).width / (window.devicePixelRatio || 1));
    });
    return Math.ceil(widest + axis.ticks.size + axis.gap + 4);
  };

  /* fetch JSON from our own endpoints; a 401 means the session ended: reload to reach the login page. */
  DI.fetchJSON = function (url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) {
        window.location.reload();
        throw new Error("logged out");
      }
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.error || "HTTP " + r.status);
        return body;
      });
    });
  };

  var MIN_DELAY = 1000;
  var MAX_DELAY = 30000;
  // A ping every PING_EVERY ms; no pong within PONG_TIMEOUT ms means the server is not answering (a frozen
  // process keeps the TCP connection open): the page pauses within PING_EVERY + PONG_TIMEOUT (15 s).
  // Documented in docs/websocket-protocol.md ("Heartbeat").
  var PING_EVERY = 10000;
  var PONG_TIMEOUT = 5000;
  // A handshake that gets no answer in this time is abandoned and retried (a frozen server accepts TCP).
  var CONNECT_TIMEOUT = 10000;

  function LiveSocket(path, handlers) {
    this.path = path;
    this.handlers = handlers;
    this.attempts = 0;
    this.ws = null;
    this.timer = null;
    this.countdown = null;
    this.everOpen = false;
    this.pingTimer = null;
    this.pongTimer = null;
    this.pingId = 0;
    this.badge = document.getElementById("live-badge");
    this.setState("connecting");
    var self = this;
    window.addEventListener("online", function () { self.reconnectNow(); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && self.state === "closed") self.reconnectNow();
    });
    this.connect();
  }

  LiveSocket.prototype.url = function () {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + this.path;
  };

  LiveSocket.prototype.setState = function (state, detail) {
    this.state = state;
    document.body.setAttribute("data-live", state);
    var badge = this.badge;
    if (!badge) return;
    if (state === "open") {
      badge.hidden = false;
      badge.className = "live-badge is-live";
      badge.textContent = "Live";
      badge.title = "Receiving live updates";
    } else if (state === "closed") {
      badge.hidden = false;
      badge.className = "live-badge is-paused";
      // The countdown is hidden from screen readers: the live region announces the pause once.
      var message = this.noReply ? "Live updates paused, no reply from the server, reconnecting" : "Live updates paused, reconnecting";
      if (badge.firstChild === null || badge.firstChild.nodeValue !== message) {
        badge.textContent = message;
        var countdown = document.createElement("span");
        countdown.setAttribute("aria-hidden", "true");
        badge.appendChild(countdown);
      }
      badge.lastChild.textContent = detail ? " " + detail : "…";
      badge.title = "The connection for live updates dropped; the page keeps trying";
    } else if (!this.everOpen) {
      badge.hidden = true;
    }
  };

  LiveSocket.prototype.connect = function () {
    var self = this;
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    var ws;
    try {
      ws = new WebSocket(this.url());
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    var handshake = setTimeout(function () {
      if (self.ws === ws && ws.readyState !== WebSocket.OPEN) self.abandon(ws);
    }, CONNECT_TIMEOUT);
    ws.onopen = function () {
      clearTimeout(handshake);
      self.attempts = 0;
      self.everOpen = true;
      self.noReply = false;
      self.setState("open");
      self.startPinging(ws);
      if (self.handlers.onOpen) self.handlers.onOpen(self);
    };
    ws.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      // Any message proves the server is running; a pong is only the cheapest one.
      clearTimeout(self.pongTimer);
      self.pongTimer = null;
      if (message.type === "pong") return;
      if (message.type === "error" && window.console) console.warn("live:", message.code, message.message);
      if (self.handlers.onMessage) self.handlers.onMessage(message);
    };
    ws.onclose = function (event) {
      clearTimeout(handshake);
      if (self.ws !== ws) return;
      self.stopPinging();
      self.ws = null;
      if (event.code === 4401) {
        // The session ended: the page itself now needs a login.
        window.location.reload();
        return;
      }
      self.paused();
      self.scheduleReconnect();
    };
  };

  LiveSocket.prototype.startPinging = function (ws) {
    var self = this;
    this.stopPinging();
    this.pingTimer = setInterval(function () {
      if (self.ws !== ws || ws.readyState !== WebSocket.OPEN || self.pongTimer) return;
      self.pingId += 1;
      ws.send(JSON.stringify({ type: "ping", id: "ping-" + self.pingId }));
      self.pongTimer = setTimeout(function () {
        self.pongTimer = null;
        if (self.ws === ws) {
          self.noReply = true;
          self.abandon(ws);
        }
      }, PONG_TIMEOUT);
    }, PING_EVERY);
  };

  LiveSocket.prototype.stopPinging = function () {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
  };

  /* Give up on a connection that does not answer: its close may never come (the server is frozen),
     so forget it now, tell the page its data is of unknown freshness, and reconnect. */
  LiveSocket.prototype.abandon = function (ws) {
    this.stopPinging();
    ws.onopen = ws.onmessage = ws.onclose = null;
    try { ws.close(); } catch (e) { /* already closing */ }
    this.ws = null;
    this.paused();
    this.scheduleReconnect();
  };

  LiveSocket.prototype.paused = function () {
    if (this.handlers.onPause) this.handlers.onPause();
  };

  LiveSocket.prototype.scheduleReconnect = function () {
    var self = this;
    // Exponential backoff with jitter so that a restarted server is not hit by every browser at once.
    var base = Math.min(MAX_DELAY, MIN_DELAY * Math.pow(2, this.attempts));
    var delay = Math.round(base / 2 + Math.random() * base / 2);
    this.attempts += 1;
    var due = Date.now() + delay;
    var tick = function () {
      var left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      self.setState("closed", left > 0 ? "in " + left + " s" : "…");
    };
    tick();
    clearInterval(this.countdown);
    this.countdown = setInterval(tick, 1000);
    this.timer = setTimeout(function () {
      clearInterval(self.countdown);
      self.setState("closed", "…");
      self.connect();
    }, delay);
  };

  LiveSocket.prototype.reconnectNow = function () {
    if (this.ws) return;
    this.attempts = 0;
    this.connect();
  };

  LiveSocket.prototype.send = function (message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  };

  DI.LiveSocket = LiveSocket;

  /* The page-wide banner (dashboard/system_state.py): no poller running, or the metric store down.
     Asked every data-check-every seconds, on every page that has it. */
  var banner = document.getElementById("system-banner");
  if (banner) {
    var applyState = function (state) {
      banner.setAttribute("data-pollers-alive", String(state.pollers_alive));
      banner.setAttribute("data-store-ok", state.store_ok ? "true" : "false");
      while (banner.firstChild) banner.removeChild(banner.firstChild);
      state.problems.forEach(function (text) {
        var p = document.createElement("p");
        p.textContent = text;
        banner.appendChild(p);
      });
      banner.hidden = state.ok;
      document.body.setAttribute("data-system", state.ok ? "ok" : "problem");
    };
    var checkSystem = function () {
      DI.fetchJSON(banner.getAttribute("data-state-url")).then(applyState).catch(function () {
        // No answer at all: the live badge already says the server is not answering.
      });
    };
    document.body.setAttribute("data-system", banner.hidden ? "ok" : "problem");
    setInterval(checkSystem, (Number(banner.getAttribute("data-check-every")) || 10) * 1000);
  }
})();
