/* The dispatcher's live board.
 *
 * State = one snapshot (GET /api/board) + every order_event after its last_seq, applied in
 * sequence order. A gap in the sequence, a reconnect or a periodic check fetches
 * GET /api/events?after=last_seq; a full page there (too far behind) reloads the snapshot.
 * All user text goes through textContent; strings come translated from #board-settings.
 */
(function () {
  "use strict";

  var root = document.getElementById("board");
  if (!root) return;
  var settings = JSON.parse(document.getElementById("board-settings").textContent);
  var T = settings.strings;
  var COLOURS = { new: "#f5b800", assigned: "#1e73d8", accepted: "#1e73d8", en_route: "#0f9fb5", on_site: "#0f9fb5",
    completed: "#2e7d32", returned: "#e8711a", waiting_parts: "#8a5a00" };
  var FEED_LIMIT = settings.feed_limit || 500;

  var state = {
    orders: {}, seen: {}, techs: {}, outlets: [], skills: {}, lastSeq: 0, loaded: false,
    queue: "unassigned", selected: null, detached: null, catchingUp: false, pending: [], plan: null
  };

  // --- small helpers (the shared ones are in common.js) ------------------------------
  var C = window.dispatchCommon;
  var el = C.el, clear = C.clear, api = C.api;
  function fmtTime(iso) { return C.fmtTime(iso, settings.timezone, true); }
  function showMessage(node, text, kind) {
    node.textContent = text;
    node.className = "flash " + (kind || "info") + (node.id === "board-message" ? " board-message" : "");
    node.hidden = !text;
  }
  var boardMessage = document.getElementById("board-message");

  // --- the order model -------------------------------------------------------------------
  /* The board's rules come with each snapshot (dispatch/board.py `rules`): the queue of every
   * status on the board, with and without a technician; the open statuses, in which an order
   * due within risk_hours (or overdue) is at risk; the statuses that count as load. An order
   * an event brings is sorted by them; the clock is the only thing judged here. */
  var rules = { queues: {}, open: {}, load: {}, riskHours: 0, forecastRisk: 1 };
  function setRules(r) {
    var set = function (list) { var out = {}; list.forEach(function (s) { out[s] = 1; }); return out; };
    rules = { queues: r.queues, open: set(r.open_statuses), load: set(r.load_statuses), riskHours: r.risk_hours,
      forecastRisk: r.forecast_risk };
  }
  /* Today's miss forecast (GET /api/forecast, refreshed by the scheduler, announced by the
   * `forecast` event): order id → { p_miss, text, computed_text }. */
  state.forecast = {};
  /* An order past its due time has missed already ("overdue" says so): no chance to show. */
  function forecastOf(o) {
    var f = state.forecast[o.id];
    return f && new Date(o.due_at).getTime() > Date.now() ? f : null;
  }
  function missChance(o) { var f = forecastOf(o); return f ? f.p_miss : -1; }
  function onBoard(o) { return !!rules.queues[o.status]; }
  function isOpen(o) { return !!rules.open[o.status]; }
  function isAtRisk(o) {
    return isOpen(o) && (new Date(o.due_at).getTime() <= Date.now() + rules.riskHours * 3600000
      || missChance(o) >= rules.forecastRisk);
  }
  function queueOf(o) { return rules.queues[o.status][o.technician_id == null ? "unassigned" : "assigned"]; }
  function visibleToMe(o) {
    return settings.outlet_id == null || o.outlet_id == null || o.outlet_id === settings.outlet_id;
  }
  /* Merge what we know of an order (a snapshot row, an event's summary or a full OrderOut);
   * an older version never overwrites a newer one. Returns true when something changed. */
  function upsert(o) {
    if (o.technician && typeof o.technician === "object") o.technician_id = o.technician.id;
    if (o.customer && typeof o.customer === "object") { o.contact_name = o.customer.name; o.contact_phone = o.customer.phone; }
    var cur = state.orders[o.id];
    // `seen` outlives an order's removal, so a late, older message cannot bring it back.
    if (state.seen[o.id] != null && o.version < state.seen[o.id]) return false;
    state.seen[o.id] = o.version;
    if (!onBoard(o) || !visibleToMe(o)) {
      // Off the board (closed, cancelled, out of scope); an open panel still shows its end state.
      if (state.selected === o.id) state.detached = Object.assign({}, cur || state.detached || {}, plain(o));
      if (cur) { delete state.orders[o.id]; return true; }
      return false;
    }
    var merged = Object.assign(cur ? Object.assign({}, cur) : {}, plain(o));
    state.orders[o.id] = merged;
    if (merged.contact_name === undefined || merged.address === undefined) fetchDetails(o.id);
    return true;
  }
  function plain(o) {
    var out = {};
    Object.keys(o).forEach(function (k) { if (o[k] !== undefined && k !== "customer" && k !== "technician") out[k] = o[k]; });
    return out;
  }
  function selectedOrder() {
    var id = state.selected;
    if (id == null) return null;
    return state.orders[id] || (state.detached && state.detached.id === id ? state.detached : null);
  }
  function fetchDetails(id) {
    api("GET", "/api/orders/" + id).then(function (full) { if (upsert(full)) scheduleRender(); }).catch(function () {});
  }

  // --- events: sequence, gaps, catch-up ------------------------------------------------
  function applyEvent(msg) {
    var ev = msg.event;
    var order = msg.order;
    if (order) upsert(order);
    var techId = order ? order.technician_id : msg.techId;
    if (ev && ev.lat != null && ev.lon != null && ev.actor_role === "technician" && techId != null) {
      var t = state.techs[techId];
      if (t) { t.lat = ev.lat; t.lon = ev.lon; t.position = "last"; t.last_seen_at = ev.at; }
    }
    if (state.selected === (ev && ev.order_id)) refreshPanelEvents();
  }
  function onOrderEvent(msg) {
    if (!state.loaded || state.catchingUp) { state.pending.push(msg); return; }
    var seq = msg.event.seq;
    if (seq <= state.lastSeq) return; // already applied (a catch-up got there first)
    if (seq === state.lastSeq + 1) {
      applyEvent(msg);
      state.lastSeq = seq;
      // Applied in sequence: what the event carries besides the order (a placement's timeline
      // rows) is as current as the board after it.
      eventHooks.forEach(function (fn) { fn(msg); });
      scheduleRender();
      return;
    }
    state.pending.push(msg); // a gap: something was missed
    catchUp();
  }
  function drainPending() {
    var queued = state.pending.sort(function (a, b) { return a.event.seq - b.event.seq; });
    state.pending = [];
    queued.forEach(onOrderEvent);
  }
  function catchUp() {
    if (!state.loaded || state.catchingUp) return;
    state.catchingUp = true;
    setConnection(socket && socket.connected ? "catching-up" : "offline");
    // Messages already here were committed before this request starts, and so was every
    // event numbered below them (numbers are taken in commit order): the feed answers for all
    // of those, even the ones it leaves out because they are no longer ours to see.
    var covered = state.pending.reduce(function (m, msg) { return Math.max(m, msg.event.seq); }, 0);
    api("GET", "/api/events?after=" + state.lastSeq + "&limit=" + FEED_LIMIT).then(function (feed) {
      if (feed.items.length >= FEED_LIMIT) {
        state.catchingUp = false;
        return loadSnapshot().then(function () { setConnection(socket && socket.connected ? "live" : "offline"); });
      }
      // The feed has no order summaries: each order it names is refreshed (once) below.
      feed.items.forEach(function (ev) {
        if (ev.seq > state.lastSeq) state.lastSeq = ev.seq;
        var o = state.orders[ev.order_id];
        if (o) applyEvent({ event: ev, order: null, techId: o.technician_id });
      });
      var ids = {};
      feed.items.forEach(function (ev) { ids[ev.order_id] = true; });
      if (feed.last_seq > state.lastSeq) state.lastSeq = feed.last_seq;
      return Promise.all(Object.keys(ids).map(refreshOrder)).then(function () {
        state.pending.forEach(function (msg) { if (msg.event.seq <= covered) applyEvent(msg); });
        if (covered > state.lastSeq) state.lastSeq = covered;
        state.catchingUp = false;
        if (state.selected && ids[state.selected]) refreshPanelEvents();
        setConnection(socket && socket.connected ? "live" : "offline");
        scheduleRender();
        drainPending();
      });
    }).catch(function () {
      state.catchingUp = false;
      setConnection(socket && socket.connected ? "live" : "offline");
      setTimeout(catchUp, 3000);
    });
  }
  function refreshOrder(id) {
    id = Number(id);
    return api("GET", "/api/orders/" + id).then(function (full) {
      upsert(full);
    }).catch(function (err) {
      if (err.status === 404) delete state.orders[id]; // gone from this user's view
    });
  }
  function loadSnapshot() {
    state.loaded = false; // events arriving meanwhile wait in `pending`
    return api("GET", root.dataset.api).then(function (snap) {
      state.orders = {};
      state.techs = {};
      state.lastSeq = snap.last_seq;
      setRules(snap.rules);
      snap.orders.forEach(function (o) { state.orders[o.id] = o; state.seen[o.id] = o.version; });
      snap.technicians.forEach(function (t) { state.techs[t.id] = t; });
      state.outlets = snap.outlets;
      state.skills = {};
      snap.skills.forEach(function (s) { state.skills[s.code] = s.name; });
      fillFilters();
      state.loaded = true;
      showMessage(boardMessage, "");
      render();
      fitMap();
      if (!document.body.dataset.boardReady) {
        // "Usable": the first snapshot's queue and map markers are drawn (bench/board.py waits for this).
        document.body.dataset.boardReady = "1";
        if (window.performance && performance.mark) performance.mark("board-ready");
        openLinkedPlan();
      }
      drainPending();
      loadForecast();
      if (!socket) connectSocket();
    }).catch(function (err) {
      // Keep trying: until a snapshot loads, events only wait in `pending`.
      showMessage(boardMessage, T.error + ": " + err.message, "error");
      setTimeout(loadSnapshot, 5000);
    });
  }

  function loadForecast() {
    return api("GET", "/api/forecast").then(function (res) {
      state.forecast = {};
      res.items.forEach(function (f) { state.forecast[f.order_id] = f; });
      scheduleRender();
    }).catch(function () {});
  }

  // --- connection ------------------------------------------------------------------------
  var connection = document.getElementById("connection");
  function setConnection(kind) {
    connection.className = "connection " + kind;
    connection.textContent = { live: T.connected, offline: T.offline, connecting: T.connecting,
      "catching-up": T.catching_up }[kind];
    connection.dataset.state = kind;
  }
  var socket = null;
  function connectSocket() {
    if (typeof io === "undefined") { setConnection("offline"); return; }
    socket = io({ transports: ["websocket", "polling"], reconnectionDelayMax: 3000 });
    socket.on("connect", function () { setConnection("live"); catchUp(); });
    socket.on("disconnect", function () { setConnection("offline"); });
    socket.on("connect_error", function () { setConnection("offline"); });
    socket.on("order_event", onOrderEvent);
    socket.on("forecast", function () { loadForecast(); if (state.selected != null) refreshPanelEvents(); });
    // The user's role or outlet changed (web/realtime.py RightsWatch): redraw under the new rights.
    socket.on("rights_changed", function () { window.location.reload(); });
  }
  window.addEventListener("online", function () { if (socket && !socket.connected) socket.connect(); });
  window.addEventListener("offline", function () { setConnection("offline"); });
  // Convergence even when the last message of a burst was lost (no later seq reveals the gap).
  setInterval(function () { if (socket && socket.connected) catchUp(); }, 30000);
  setInterval(function () { scheduleRender(); }, 60000); // at-risk changes with the clock

  // --- filters ---------------------------------------------------------------------------
  var fOutlet = document.getElementById("filter-outlet");
  var fSkill = document.getElementById("filter-skill");
  var fPriority = document.getElementById("filter-priority");
  var fSearch = document.getElementById("board-search");
  function fillFilters() {
    var keepO = fOutlet.value, keepS = fSkill.value;
    while (fOutlet.options.length > 1) fOutlet.remove(1);
    state.outlets.forEach(function (o) { fOutlet.appendChild(el("option", { value: String(o.id) }, o.name)); });
    while (fSkill.options.length > 1) fSkill.remove(1);
    Object.keys(state.skills).forEach(function (c) { fSkill.appendChild(el("option", { value: c }, state.skills[c])); });
    fOutlet.value = keepO; fSkill.value = keepS;
  }
  function matches(o) {
    if (fOutlet.value && String(o.outlet_id) !== fOutlet.value) return false;
    if (fSkill.value && o.required_skill !== fSkill.value) return false;
    if (fPriority.value && o.priority !== fPriority.value) return false;
    var q = fSearch.value.trim().toLowerCase();
    if (q) {
      var digits = q.replace(/[^0-9]/g, "");
      var hay = [o.number, o.address, o.contact_name].join(" ").toLowerCase();
      if (hay.indexOf(q) < 0 && !(digits.length >= 3 && String(o.contact_phone || "").indexOf(digits) >= 0)) return false;
    }
    return true;
  }
  function techMatches(t) {
    if (fOutlet.value && String(t.outlet_id) !== fOutlet.value) return false;
    if (fSkill.value && (t.skills || []).indexOf(fSkill.value) < 0) return false;
    return true;
  }
  [fOutlet, fSkill, fPriority].forEach(function (s) { s.addEventListener("change", render); });
  fSearch.addEventListener("input", render);

  // --- rendering ---------------------------------------------------------------------------
  var renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    setTimeout(function () { renderQueued = false; render(); }, 50);
  }
  var tabs = Array.prototype.slice.call(document.querySelectorAll(".queue-tab"));
  tabs.forEach(function (tab) {
    tab.addEventListener("click", function () { state.queue = tab.dataset.queue; render(); });
  });
  function render() {
    if (!state.loaded) return;
    var all = Object.keys(state.orders).map(function (k) { return state.orders[k]; }).filter(matches);
    all.sort(function (a, b) { return new Date(a.due_at) - new Date(b.due_at) || a.id - b.id; });
    var buckets = { unassigned: [], at_risk: [], in_progress: [], awaiting_callback: [], returned: [], waiting_parts: [] };
    all.forEach(function (o) {
      buckets[queueOf(o)].push(o);
      if (isAtRisk(o)) buckets.at_risk.push(o);
    });
    tabs.forEach(function (tab) {
      tab.classList.toggle("active", tab.dataset.queue === state.queue);
      tab.setAttribute("aria-selected", tab.dataset.queue === state.queue ? "true" : "false");
      tab.querySelector(".count").textContent = String(buckets[tab.dataset.queue].length);
    });
    // The at-risk queue: the likeliest misses first (the forecast), then by due time.
    buckets.at_risk.sort(function (a, b) { return missChance(b) - missChance(a); });
    renderQueue(buckets[state.queue]);
    if (state.queue === "waiting_parts") loadParts(buckets.waiting_parts);
    renderTechs();
    renderMap(all);
    if (state.selected != null) renderPanelFacts();
    renderHooks.forEach(function (fn) { fn(); });
  }
  var renderHooks = []; // other views of the same state (the timeline, timeline.js) redraw with it
  var eventHooks = []; // and see each event applied in sequence (a catch-up's are not: they refetch)
  /* Rows are keyed by order id and rebuilt on every redraw, so a row the dispatcher focused
   * with the keyboard is a new node afterwards: remember which order had the focus, give it
   * back to that order's new row, and let the list (not the row node) read the order id when
   * a key is pressed — never a stale node or whichever order now sits at the same place. */
  var queueList = document.getElementById("queue-list");
  queueList.tabIndex = -1; // holds the focus when the focused order has left the queue
  function rowOrderId(target) {
    var li = target && target.closest ? target.closest("li[data-order-id]") : null;
    return li && queueList.contains(li) ? Number(li.dataset.orderId) : null;
  }
  queueList.addEventListener("click", function (e) {
    var arrived = e.target.closest ? e.target.closest("button[data-part-arrived]") : null;
    if (arrived) { e.stopPropagation(); partArrived(Number(arrived.dataset.partArrived), arrived); return; }
    var id = rowOrderId(e.target);
    if (id != null && state.orders[id]) openOrder(id);
  });
  queueList.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" && e.key !== " ") return;
    var id = rowOrderId(document.activeElement);
    if (id == null) return;
    e.preventDefault();
    if (state.orders[id]) openOrder(id);
  });
  function renderQueue(list) {
    var ul = queueList;
    var active = document.activeElement;
    var focusedId = active === ul ? -1 : rowOrderId(active);
    renderQueueRows(ul, list);
    if (focusedId == null) return;
    var again = focusedId >= 0 ? ul.querySelector('li[data-order-id="' + focusedId + '"]') : null;
    (again || ul).focus({ preventScroll: true });
  }
  function renderQueueRows(ul, list) {
    clear(ul);
    if (!list.length) { ul.appendChild(el("li", { class: "empty" }, T.no_orders)); return; }
    list.forEach(function (o) {
      var risk = isAtRisk(o);
      var li = el("li", { "data-order-id": String(o.id), "data-status": o.status, class: (risk ? "at-risk " : "") + (state.selected === o.id ? "selected" : "") });
      var row1 = el("div", { class: "row1" });
      row1.appendChild(el("span", { class: "num" }, o.number));
      if (o.priority !== "normal") row1.appendChild(el("span", { class: "prio-" + o.priority }, settings.priority[o.priority] || o.priority));
      row1.appendChild(el("span", { class: "badge " + o.status }, settings.status[o.status] || o.status));
      li.appendChild(row1);
      var late = new Date(o.due_at).getTime() < Date.now();
      var tech = o.technician_id != null ? state.techs[o.technician_id] : null;
      var row2 = el("div", { class: "row2" });
      row2.appendChild(el("span", { class: "due" + (late ? " late" : "") }, (late ? T.overdue : T.due) + " " + fmtTime(o.due_at)));
      var who = tech ? tech.name : (o.technician_id != null ? "#" + o.technician_id : (o.status === "waiting_parts" ? "" : T.unassigned_short));
      row2.appendChild(el("span", null, [""].concat([state.skills[o.required_skill] || o.required_skill, who].filter(Boolean)).join(" · ")));
      li.appendChild(row2);
      li.appendChild(el("div", { class: "row3" }, [o.contact_name || "", o.address || ""].join(" · ")));
      var chance = forecastOf(o);
      if (chance && (risk || chance.p_miss >= rules.forecastRisk)) {
        li.appendChild(el("div", { class: "row-forecast" + (chance.p_miss >= rules.forecastRisk ? " likely" : ""),
          title: chance.computed_text }, chance.text));
      }
      if (o.status === "waiting_parts") partRow(li, o);
      li.tabIndex = 0; // click and Enter are handled by the list (see rowOrderId)
      // An unassigned, located order can be dragged onto a technician's row of the timeline.
      if (settings.can_act && o.technician_id == null && o.lat != null && rules.open[o.status]) li.draggable = true;
      ul.appendChild(li);
    });
  }
  // --- waiting for parts: what each order waits for (GET /api/parts/waiting, read when the
  // queue is shown and its orders change) and the dispatcher's "part arrived" -----------------
  state.parts = {};
  var partsKey = null;
  function loadParts(list) {
    var key = list.map(function (o) { return o.id + ":" + o.version; }).join(",");
    if (key === partsKey) return;
    partsKey = key;
    api("GET", "/api/parts/waiting").then(function (res) {
      state.parts = {};
      res.items.forEach(function (p) { state.parts[p.order_id] = p; });
      scheduleRender();
    }).catch(function () { partsKey = null; });
  }
  function partRow(li, o) {
    var p = state.parts[o.id];
    var row = el("div", { class: "row-part" });
    if (p) {
      row.appendChild(el("span", { class: "part" + (p.late ? " late" : "") },
        T.part_line.replace("%(quantity)s", p.quantity).replace("%(part)s", p.part).replace("%(day)s", C.fmtDay(p.expected_on))
        + (p.late ? " · " + T.part_late : "")));
    }
    if (settings.can_act) {
      row.appendChild(el("button", { type: "button", class: "part-arrived", "data-part-arrived": String(o.id) }, T.part_arrived));
    }
    li.appendChild(row);
  }
  function partArrived(id, button) {
    var o = state.orders[id];
    if (!o) return;
    button.disabled = true;
    api("POST", "/api/orders/" + id + "/part-arrived", { version: o.version }).then(function (res) {
      upsert(res.order);
      var text = res.placed
        ? T.part_back.replace("%(number)s", o.number).replace("%(name)s", techName(res.technician_id)).replace("%(eta)s", fmtTime(res.eta))
        : T.part_unplaced.replace("%(number)s", o.number);
      showMessage(document.getElementById("board-message"), text, "info");
      scheduleRender();
    }).catch(function (err) {
      button.disabled = false;
      showMessage(document.getElementById("board-message"), T.error + ": " + err.message, "error");
    });
  }

  function techLoad() {
    var load = {};
    Object.keys(state.orders).forEach(function (k) {
      var o = state.orders[k];
      if (o.technician_id != null && rules.load[o.status]) load[o.technician_id] = (load[o.technician_id] || 0) + 1;
    });
    return load;
  }
  function renderTechs() {
    var tbody = document.getElementById("tech-list");
    clear(tbody);
    var load = techLoad();
    Object.keys(state.techs).map(function (k) { return state.techs[k]; }).filter(techMatches).forEach(function (t) {
      var n = load[t.id] || 0;
      var tr = el("tr", { "data-tech-id": String(t.id) });
      var name = el("td");
      name.appendChild(el("div", null, t.name));
      name.appendChild(el("div", { class: "outlet" }, t.outlet_name));
      if (settings.can_act) name.appendChild(dropOutCell(t));
      tr.appendChild(name);
      var td = el("td", { class: "load" + (n >= t.daily_capacity ? " full" : "") });
      td.appendChild(el("span", { class: "load-text" }, n + " / " + t.daily_capacity));
      var bar = el("div", { class: "loadbar" });
      var fill = el("i");
      fill.style.width = Math.min(100, Math.round(100 * n / Math.max(1, t.daily_capacity))) + "%";
      bar.appendChild(fill);
      td.appendChild(bar);
      tr.appendChild(td);
      tr.appendChild(el("td", { class: "seen" }, t.last_seen_at ? fmtTime(t.last_seen_at) : T.at_home));
      tbody.appendChild(tr);
    });
  }

  // --- the map (web/static/board-map.js: clustered markers kept by id, updated in place) ---------
  var bmap = window.createBoardMap ? window.createBoardMap(settings, function (id) { openOrder(id); }) : null;
  var fitted = false, focused = null;
  var mapView = {
    atRisk: isAtRisk, selected: null,
    label: function (o) { return o.number + " · " + (settings.status[o.status] || o.status); },
    lineFrom: function (o) {
      var t = o.technician_id != null ? state.techs[o.technician_id] : null;
      return t && rules.load[o.status] ? t : null;
    },
    exists: function (id) { return !!state.orders[id]; },
    onTech: function (id) { showTechRoute(id); }
  };
  function renderMap(orders) {
    if (!bmap) return;
    mapView.selected = state.selected;
    var techs = Object.keys(state.techs).map(function (k) { return state.techs[k]; }).filter(techMatches);
    bmap.update(orders, techs, mapView);
    // A newly selected order: the map goes to it (out of its cluster if need be).
    if (state.selected !== focused) { focused = state.selected; if (focused != null) bmap.focusOrder(focused); }
  }
  /* One technician's day on the map: from where they are through `points` ([lat, lon] WGS-84,
   * in visiting order); the map moves to show it. No points: the technician alone. */
  function showRoute(techId, points) {
    if (!bmap) return;
    var t = state.techs[techId];
    bmap.showRoute(t && t.lat != null ? [t.lat, t.lon] : null, points || []);
  }
  /* A technician picked on the map or in the list: their stops in order, today's or (after the
   * shifts, on a day off) those of their next day with visits in the week ahead. */
  function showTechRoute(techId) {
    api("GET", "/api/timeline?days=7").then(function (day) {
      var mine = day.stops.filter(function (s) { return s.technician_id === techId; })
        .sort(function (a, b) { return a.seq - b.seq; });
      var first = mine.length ? new Date(mine[0].start).toDateString() : null;
      var points = mine.filter(function (s) { return new Date(s.start).toDateString() === first; })
        .map(function (s) { var o = state.orders[s.order_id]; return o && o.lat != null ? [o.lat, o.lon] : null; })
        .filter(Boolean);
      showRoute(techId, points);
      root.dataset.route = String(techId);
    }).catch(function () {});
  }
  document.getElementById("tech-list").addEventListener("click", function (e) {
    var tr = e.target.closest ? e.target.closest("tr[data-tech-id]") : null;
    if (tr) showTechRoute(Number(tr.dataset.techId));
  });
  function fitMap() {
    if (!bmap || fitted) return;
    var pts = [];
    Object.keys(state.orders).forEach(function (k) { var o = state.orders[k]; if (o.lat != null) pts.push([o.lat, o.lon]); });
    Object.keys(state.techs).forEach(function (k) { var t = state.techs[k]; if (t.lat != null) pts.push([t.lat, t.lon]); });
    fitted = bmap.fit(pts);
  }

  // --- the order panel -----------------------------------------------------------------------
  var panel = document.getElementById("order-panel");
  var panelMessage = document.getElementById("panel-message");
  Array.prototype.forEach.call(document.querySelectorAll("[data-close]"), function (b) {
    b.addEventListener("click", function () {
      document.getElementById(b.dataset.close).hidden = true;
      if (b.dataset.close === "order-panel") { state.selected = null; render(); }
      if (b.dataset.close === "plan-panel") closePlan();
    });
  });
  function openOrder(id) {
    if (state.selected !== id) { panelInfo = null; clear(document.getElementById("panel-events")); }
    state.selected = id;
    state.detached = null;
    panel.hidden = false;
    if (!planPanel.hidden) closePlan();
    showMessage(panelMessage, "");
    renderPanelFacts();
    renderPanelActions();
    refreshPanelEvents();
    render();
  }
  function fact(dl, term, value) { dl.appendChild(el("dt", null, term)); dl.appendChild(el("dd", null, value)); }
  /* What GET /api/board/orders/<id> adds to the board's row of an order: product, model and
   * fault in words, the phone to call, the SLA clocks, the history in sentences. */
  var panelInfo = null;
  function renderPanelFacts() {
    var o = selectedOrder();
    var dl = document.getElementById("panel-facts");
    clear(dl);
    var info = panelInfo && o && panelInfo.id === o.id ? panelInfo : null;
    if (!o) { document.getElementById("panel-number").textContent = ""; clear(document.getElementById("panel-actions")); clear(document.getElementById("panel-clocks")); return; }
    document.getElementById("panel-number").textContent = o.number;
    var tech = o.technician_id != null ? state.techs[o.technician_id] : null;
    fact(dl, T.status, settings.status[o.status] || o.status);
    dl.lastChild.id = "panel-status";
    fact(dl, T.priority, settings.priority[o.priority] || o.priority);
    fact(dl, T.technician, tech ? tech.name : T.unassigned_short);
    dl.lastChild.id = "panel-technician";
    fact(dl, T.customer, o.contact_name || "");
    dl.appendChild(el("dt", null, T.phone));
    var phone = el("dd", { id: "panel-phone" });
    if (info && info.tel) phone.appendChild(el("a", { href: info.tel, class: "tel" }, info.phone));
    else phone.textContent = info ? info.phone : "";
    dl.appendChild(phone);
    fact(dl, T.address, o.address || "");
    if (info) {
      fact(dl, T.product, [info.product, info.model].filter(Boolean).join(" · ") + (info.in_warranty ? " · " + T.in_warranty : ""));
      dl.lastChild.id = "panel-product";
      fact(dl, T.fault, info.fault + (info.description ? " · " + info.description : ""));
      dl.lastChild.id = "panel-fault";
    }
    fact(dl, T.skill, state.skills[o.required_skill] || o.required_skill);
    fact(dl, T.due, fmtTime(o.due_at));
    if (info && info.forecast && new Date(o.due_at).getTime() > Date.now()) {
      fact(dl, T.forecast, info.forecast.text + " · " + info.forecast.computed_text);
      dl.lastChild.id = "panel-forecast";
    }
    var link = el("a", { href: "/orders/" + o.id, class: "panel-link", target: "_blank", rel: "noopener" }, T.open_page);
    dl.appendChild(el("dt"));
    var dd = el("dd");
    dd.appendChild(link);
    dl.appendChild(dd);
    renderClocks(info);
    if (panel.dataset.version !== String(o.version) || panel.dataset.orderId !== String(o.id)) {
      panel.dataset.version = String(o.version);
      panel.dataset.orderId = String(o.id);
      renderPanelActions();
    }
  }
  /* "2 h 15 min": how long, two units at most, in the user's words. */
  function span(minutes) {
    var d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
    if (d) return fill(T.n_days, { n: d }) + (h ? " " + fill(T.n_hours, { n: h }) : "");
    if (h) return fill(T.n_hours, { n: h }) + (m ? " " + fill(T.n_min, { n: m }) : "");
    return fill(T.n_min, { n: m });
  }
  function renderClocks(info) {
    var ul = document.getElementById("panel-clocks");
    clear(ul);
    if (!info) return;
    info.clocks.forEach(function (c) {
      var li = el("li", { "data-clock": c.clock });
      li.appendChild(el("span", { class: "clock-name" }, c.label));
      var text, kind;
      if (c.stopped_at) {
        text = fill(c.stopped_at > c.due_at ? T.clock_met_late : T.clock_met, { time: fmtTime(c.stopped_at) });
        kind = c.stopped_at > c.due_at ? "late" : "met";
      } else {
        var left = Math.round((new Date(c.due_at).getTime() - Date.now()) / 60000);
        text = left >= 0 ? fill(T.time_left, { time: span(left) }) : fill(T.overdue_by, { time: span(-left) });
        kind = left < 0 ? "overdue" : (left < 60 ? "soon" : "running");
      }
      li.className = "clock " + kind;
      li.appendChild(el("span", { class: "clock-left" }, text));
      li.title = T.due + " " + fmtTime(c.due_at);
      ul.appendChild(li);
    });
  }
  setInterval(function () { if (state.selected != null && panelInfo) renderClocks(panelInfo.id === state.selected ? panelInfo : null); }, 30000);
  function refreshPanelEvents() {
    var id = state.selected;
    if (id == null) return;
    api("GET", "/api/board/orders/" + id).then(function (info) {
      if (state.selected !== id) return;
      panelInfo = info;
      renderPanelFacts();
      var list = document.getElementById("panel-events");
      clear(list);
      info.history.forEach(function (line) {
        var li = el("li");
        li.appendChild(el("span", { class: "when" }, line.at));
        li.appendChild(el("strong", null, line.what + (line.status ? " · " + line.status : "")));
        li.appendChild(el("span", { class: "who" }, line.who));
        line.details.forEach(function (d) { li.appendChild(el("span", { class: "detail" }, d)); });
        list.appendChild(li);
      });
    }).catch(function () {});
  }
  function button(text, cls, onClick) {
    var b = el("button", { type: "button", class: cls || "" }, text);
    b.addEventListener("click", onClick);
    return b;
  }
  function renderPanelActions() {
    var box = document.getElementById("panel-actions");
    clear(box);
    var o = selectedOrder();
    if (!o || !settings.can_act) return;
    var canAssign = { new: 1, assigned: 1, accepted: 1, returned: 1 }[o.status];
    var canCancel = { new: 1, assigned: 1, accepted: 1, en_route: 1, returned: 1 }[o.status];
    if (canAssign) {
      var row = el("div", { class: "row" });
      row.appendChild(button(o.technician_id != null ? T.reassign : T.assign, "primary", function () { showSuggestions(o.id); }));
      row.id = "assign-row";
      box.appendChild(row);
      box.appendChild(el("div", { id: "suggestions-box" }));
    }
    if (isOpen(o)) {
      var prow = el("div", { class: "row" });
      var sel = el("select", { id: "priority-select", "aria-label": T.priority });
      Object.keys(settings.priority).forEach(function (p) {
        var opt = el("option", { value: p }, settings.priority[p]);
        if (p === o.priority) opt.selected = true;
        sel.appendChild(opt);
      });
      prow.appendChild(sel);
      prow.appendChild(button(T.set_priority, "", function () {
        var cur = state.orders[o.id];
        if (cur) act(o.id, "/api/orders/" + o.id + "/priority", { priority: sel.value, version: cur.version });
      }));
      box.appendChild(prow);
    }
    if (canCancel) {
      var crow = el("div", { class: "row" });
      var reason = el("input", { type: "text", id: "cancel-reason", placeholder: T.cancel_reason, "aria-label": T.cancel_reason, maxlength: "500" });
      crow.appendChild(reason);
      crow.appendChild(button(T.cancel_order, "", function () {
        if (!reason.value.trim()) { showMessage(panelMessage, T.reason_required, "error"); return; }
        transition(o.id, "cancel", { reason: reason.value.trim() });
      }));
      box.appendChild(crow);
    }
  }
  function showSuggestions(id) {
    var box = document.getElementById("suggestions-box");
    clear(box);
    box.appendChild(el("p", { class: "muted" }, T.loading));
    api("GET", "/api/orders/" + id + "/suggestions").then(function (res) {
      clear(box);
      var o = state.orders[id];
      box.appendChild(el("h3", null, T.suggestions));
      if (!res.items.length) box.appendChild(el("p", { class: "muted" }, T.no_fit + (res.reason ? " (" + res.reason + ")" : "")));
      var ul = el("ul", { class: "suggestions" });
      res.items.forEach(function (s) {
        var li = el("li", { "data-tech-id": String(s.technician_id), class: s.current ? "current" : "" });
        // Lateness against the due time: an order overdue for days says so, not "67 min late".
        var late = s.overdue_minutes ? fill(T.overdue_already, { time: howLong(s.overdue_minutes) })
          : (s.late_minutes ? fill(T.late_by, { time: howLong(s.late_minutes) }) : "");
        var info = el("span", null, s.name + (s.current ? " (" + T.current_tech + ")" : "") + " · " + T.eta + " " + fmtTime(s.eta) +
          " · +" + Number(s.extra_km).toFixed(1) + " " + T.extra_km + (late ? " · " + late : ""));
        li.appendChild(info);
        // The technician who has it already: choosing them would change nothing, so no button.
        if (s.current) li.appendChild(el("span", { class: "muted current-tech" }, T.has_it));
        else li.appendChild(button(T.assign, "primary", function () { transition(id, "assign", { technician_id: s.technician_id }); }));
        ul.appendChild(li);
      });
      if (res.items.length) box.appendChild(ul);
      // Anyone else with the skill, for the dispatcher who knows better.
      var row = el("div", { class: "row" });
      var sel = el("select", { id: "assign-select", "aria-label": T.pick_technician });
      sel.appendChild(el("option", { value: "" }, T.pick_technician));
      Object.keys(state.techs).map(function (k) { return state.techs[k]; }).forEach(function (t) {
        if (o && (t.skills || []).indexOf(o.required_skill) < 0) return;
        sel.appendChild(el("option", { value: String(t.id) }, t.name + " · " + t.outlet_name));
      });
      row.appendChild(sel);
      row.appendChild(button(T.assign, "", function () {
        if (sel.value) transition(id, "assign", { technician_id: Number(sel.value) });
      }));
      // What the move would do to the miss forecast, before choosing it (nothing is written).
      row.appendChild(button(T.what_if, "what-if", function () {
        if (sel.value) whatIf(id, Number(sel.value), box);
      }));
      box.appendChild(row);
    }).catch(function (err) { clear(box); box.appendChild(el("p", { class: "error" }, T.error + ": " + err.message)); });
  }
  function whatIf(orderId, techId, box) {
    var out = box.querySelector(".what-if-result") || box.appendChild(el("div", { class: "what-if-result", "aria-live": "polite" }));
    clear(out);
    out.appendChild(el("p", { class: "muted" }, T.loading));
    api("POST", "/api/forecast/what-if", { order_id: orderId, technician_id: techId }).then(function (res) {
      clear(out);
      out.appendChild(el("h4", null, fill(T.what_if_head, { name: techName(techId) })));
      var ul = el("ul", { class: "what-if-orders" });
      res.orders.forEach(function (r) {
        var li = el("li", { "data-order-id": String(r.order_id), class: r.after > r.before ? "worse" : (r.after < r.before ? "better" : "") });
        li.appendChild(el("strong", null, r.number));
        li.appendChild(el("span", null, r.before_text + " → " + r.after_text));
        ul.appendChild(li);
      });
      out.appendChild(ul);
    }).catch(function (err) { clear(out); out.appendChild(el("p", { class: "error" }, T.error + ": " + err.message)); });
  }
  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, k) { return values[k] != null ? String(values[k]) : ""; });
  }
  /* 8 days, 5 h, 40 min: how long, in the user's words. */
  function howLong(minutes) {
    if (minutes >= 1440) return fill(T.n_days, { n: Math.floor(minutes / 1440) });
    if (minutes >= 60) return fill(T.n_hours, { n: Math.floor(minutes / 60) });
    return fill(T.n_min, { n: minutes });
  }
  /* The `a` key: assign the open order to the first suggestion that is not its own technician. */
  function assignTopSuggestion() {
    var o = selectedOrder();
    if (!o || !settings.can_act || !{ new: 1, assigned: 1, accepted: 1, returned: 1 }[o.status]) return false;
    showMessage(panelMessage, T.loading, "info");
    api("GET", "/api/orders/" + o.id + "/suggestions").then(function (res) {
      var top = res.items.filter(function (s) { return !s.current; })[0];
      if (!top) { showMessage(panelMessage, T.no_fit + (res.reason ? " (" + res.reason + ")" : ""), "error"); return; }
      transition(o.id, "assign", { technician_id: top.technician_id });
    }).catch(function (err) { showMessage(panelMessage, T.error + ": " + err.message, "error"); });
    return true;
  }
  function closeOrder() {
    if (panel.hidden) return false;
    panel.hidden = true;
    state.selected = null;
    render();
    return true;
  }
  function transition(id, action, extra) {
    var o = state.orders[id] || selectedOrder();
    if (!o) return;
    var body = Object.assign({ action: action, version: o.version }, extra || {});
    act(id, "/api/orders/" + id + "/transitions", body);
  }
  function act(id, url, body) {
    showMessage(panelMessage, "");
    api("POST", url, body).then(function (order) {
      upsert(order);
      showMessage(panelMessage, T.done, "info");
      render();
      renderPanelActions();
      refreshPanelEvents();
    }).catch(function (err) {
      if (err.status === 409) {
        showMessage(panelMessage, T.conflict + (err.message ? " (" + err.message + ")" : ""), "error");
        panelMessage.dataset.kind = "conflict";
        refreshOrder(id).then(function () { render(); renderPanelActions(); refreshPanelEvents(); });
      } else {
        showMessage(panelMessage, T.error + ": " + err.message, "error");
      }
    });
  }

  // --- a technician drops out: marked unavailable from now, their orders re-planned as a
  // proposal shown in the plan panel like a re-optimisation ------------------------------------
  var dropOpen = null;
  function dropOutCell(t) {
    var td = el("div", { class: "drop-out" });
    if (dropOpen !== t.id) {
      var b = el("button", { type: "button", class: "small", title: T.drop_out_title, "data-drop-out": String(t.id) }, T.drop_out);
      b.addEventListener("click", function () { dropOpen = t.id; renderTechs(); });
      td.appendChild(b);
      return td;
    }
    var select = el("select", { "aria-label": T.drop_out_reason });
    Object.keys(T.drop_out_reasons).forEach(function (code) { select.appendChild(el("option", { value: code }, T.drop_out_reasons[code])); });
    var go = el("button", { type: "button", class: "small primary" }, T.drop_out_confirm);
    go.addEventListener("click", function () {
      go.disabled = true;
      openPlanPanel();
      api("POST", "/api/technicians/" + t.id + "/drop-out", { reason: select.value }).then(function (plan) {
        dropOpen = null;
        showPlan(plan, T.dropped_out.replace("%(name)s", t.name));
        renderTechs();
      }).catch(function (err) {
        go.disabled = false;
        document.getElementById("plan-summary").textContent = T.error + ": " + err.message;
      });
    });
    td.appendChild(select);
    td.appendChild(go);
    return td;
  }

  // --- re-optimisation -----------------------------------------------------------------------
  /* A proposal (POST /api/plans) says its net effect in words (plan.summary); one no better than
   * today's plan has no moves and no Apply. Each move (an order changing technician) has a tick,
   * all ticked at first; the ticked ones are previewed as dashed lines on the map and ghost
   * blocks on the timeline until the panel closes. Apply sends the ticked moves with the
   * versions the plan saw; the answer names what moved and what was refused, and why. */
  var planPanel = document.getElementById("plan-panel");
  var reopt = document.getElementById("reoptimise");
  var planApply = document.getElementById("plan-apply");
  var map = bmap ? bmap.map : null;
  var planLayer = map ? L.layerGroup().addTo(map) : null;
  function shown(lat, lon) { return bmap.latLng(lat, lon); }  // in the tiles' datum (MAP_TILE_CRS)
  function techName(id) { var t = id != null ? state.techs[id] : null; return t ? t.name : T.unassigned_short; }
  function orderNumber(id) { var o = state.orders[id]; return o ? o.number : ""; }
  function tickedMoves() {
    if (!state.plan) return [];
    var ticked = {};
    Array.prototype.forEach.call(document.querySelectorAll("#plan-moves input[type=checkbox]"), function (box) {
      if (box.checked) ticked[box.value] = true;
    });
    return (state.plan.diff.moves || []).filter(function (m) { return ticked[String(m.order_id)]; });
  }
  function previewPlan() {
    var moves = state.plan && !planPanel.hidden ? tickedMoves() : [];
    if (planLayer) {
      planLayer.clearLayers();
      moves.forEach(function (m) {
        var o = state.orders[m.order_id], to = state.techs[m.to], from = m.from != null ? state.techs[m.from] : null;
        if (!o || o.lat == null) return;
        if (from && from.lat != null) {
          L.polyline([shown(from.lat, from.lon), shown(o.lat, o.lon)], { color: "#888", weight: 1.5, opacity: 0.6, dashArray: "2 6",
            interactive: false, className: "plan-from" }).addTo(planLayer);
        }
        if (to && to.lat != null) {
          L.polyline([shown(to.lat, to.lon), shown(o.lat, o.lon)], { color: "#d35400", weight: 3, opacity: 0.9, dashArray: "8 6",
            interactive: false, className: "plan-move" }).addTo(planLayer);
        }
        L.circleMarker(shown(o.lat, o.lon), { radius: 11, color: "#d35400", weight: 2, fill: false, interactive: false,
          className: "plan-ring" }).addTo(planLayer);
      });
    }
    if (window.dispatchTimeline && window.dispatchTimeline.preview) window.dispatchTimeline.preview(moves);
    var applyable = !!(state.plan && state.plan.improves);
    planApply.disabled = !applyable || (!moves.length && !resequenceWanted());
    document.getElementById("plan-count").textContent = applyable ? fill(T.plan_ticked, { n: moves.length, total: (state.plan.diff.moves || []).length }) : "";
  }
  function resequenceWanted() {
    var box = document.getElementById("plan-resequence");
    return !!(box && box.checked && !box.closest("label").hidden);
  }
  function closePlan() {
    planPanel.hidden = true;
    state.plan = null;
    previewPlan();
  }
  /* A proposal in the panel; `heading` says why it was made (a technician who dropped out). */
  function showPlan(plan, heading) {
    state.plan = plan;
    var d = plan.diff || {};
    var moves = plan.improves ? (d.moves || []) : [];
    var summary = document.getElementById("plan-summary");
    summary.textContent = (heading ? heading + " " : "") + plan.summary;
    summary.className = plan.improves ? "plan-summary better" : "plan-summary none";
    var tbody = document.getElementById("plan-moves");
    clear(tbody);
    moves.forEach(function (m) {
      var tr = el("tr", { "data-order-id": String(m.order_id) });
      var td = el("td");
      var box = el("input", { type: "checkbox", value: String(m.order_id), id: "plan-tick-" + m.order_id });
      box.checked = true;
      box.addEventListener("change", previewPlan);
      td.appendChild(box);
      tr.appendChild(td);
      var num = el("td");
      num.appendChild(el("label", { "for": "plan-tick-" + m.order_id }, orderNumber(m.order_id)));
      tr.appendChild(num);
      tr.appendChild(el("td", m.from == null ? { title: T.unassigned_short } : null, m.from == null ? "—" : techName(m.from)));
      tr.appendChild(el("td", null, techName(m.to)));
      tr.appendChild(el("td", null, m.eta ? fmtTime(m.eta) : ""));
      tbody.appendChild(tr);
    });
    document.getElementById("plan-table").hidden = !moves.length;
    var reseq = (plan.improves && d.resequenced) || [];
    var label = document.getElementById("plan-resequence").closest("label");
    label.hidden = !reseq.length;
    document.getElementById("plan-resequence-text").textContent = fill(T.plan_resequence, {
      names: reseq.map(function (r) { return techName(r.technician_id); }).join(T.list_sep) });
    planApply.hidden = !plan.improves;
    previewPlan();
    fitPreview();
  }
  /* Bring the moved orders and their new technicians into the part of the map the panel leaves free. */
  function fitPreview() {
    if (!map || !planLayer || !planLayer.getLayers().length) return;
    var bounds = L.latLngBounds([]);
    planLayer.eachLayer(function (layer) { bounds.extend(layer.getBounds ? layer.getBounds() : layer.getLatLng()); });
    var cover = planPanel.getBoundingClientRect(), box = document.getElementById("board-map").getBoundingClientRect();
    var right = Math.max(20, Math.min(box.width - 120, box.right - cover.left + 20));
    map.fitBounds(bounds, { paddingTopLeft: [20, 20], paddingBottomRight: [right, 20], maxZoom: 14 });
  }
  function openPlanPanel() {
    panel.hidden = true; state.selected = null;
    planPanel.hidden = false;
    state.plan = null;
    previewPlan();
    var summary = document.getElementById("plan-summary");
    summary.textContent = T.planning;
    summary.className = "plan-summary";
    clear(document.getElementById("plan-moves"));
    document.getElementById("plan-table").hidden = true;
    document.getElementById("plan-resequence").closest("label").hidden = true;
    clear(document.getElementById("plan-result"));
    planApply.hidden = true;
  }
  /* A proposal the board was opened on (/board?plan=ID: a technician marked out from their own
   * page), shown in the plan panel as if it had been made here. */
  function openLinkedPlan() {
    var id = Number(new URLSearchParams(window.location.search).get("plan"));
    if (!id || !settings.can_act) return;
    openPlanPanel();
    api("GET", "/api/plans/" + id).then(function (plan) {
      var dropped = plan.dropped_technician_id;
      showPlan(plan, dropped != null ? T.dropped_out.replace("%(name)s", techName(dropped)) : null);
    }).catch(function (err) {
      document.getElementById("plan-summary").textContent = T.error + ": " + err.message;
    });
  }
  if (reopt) reopt.addEventListener("click", function () {
    openPlanPanel();
    reopt.disabled = true;
    var body = fOutlet.value ? { outlet_id: Number(fOutlet.value) } : {};
    api("POST", "/api/plans", body).then(function (plan) { showPlan(plan); }).catch(function (err) {
      document.getElementById("plan-summary").textContent = T.error + ": " + err.message;
    }).then(function () { reopt.disabled = false; });
  });
  planApply.addEventListener("click", function () {
    if (!state.plan) return;
    var chosen = tickedMoves().map(function (m) { return { order_id: m.order_id, version: m.version }; });
    planApply.disabled = true;
    var out = document.getElementById("plan-result");
    clear(out);
    api("POST", "/api/plans/" + state.plan.id + "/apply", { moves: chosen, resequence: resequenceWanted() }).then(function (res) {
      out.appendChild(el("p", { class: "plan-applied" }, fill(T.plan_applied, { n: res.moved.length })));
      var ul = el("ul", { class: "plan-outcome" });
      res.moved.forEach(function (m) { ul.appendChild(el("li", { class: "moved", "data-order-id": String(m.order_id) }, m.number + " → " + m.technician)); });
      res.refused.forEach(function (r) { ul.appendChild(el("li", { class: "refused", "data-order-id": String(r.order_id) }, T.plan_refused + ": " + r.message)); });
      if (res.resequenced.length) ul.appendChild(el("li", { class: "moved" }, fill(T.plan_reordered, { names: res.resequenced.join(T.list_sep) })));
      out.appendChild(ul);
      state.plan = null;
      clear(document.getElementById("plan-moves"));
      document.getElementById("plan-table").hidden = true;
      document.getElementById("plan-resequence").closest("label").hidden = true;
      planApply.hidden = true;
      previewPlan();
      catchUp();
      if (window.dispatchTimeline) window.dispatchTimeline.reload();
    }).catch(function (err) {
      out.appendChild(el("p", { class: "error" }, T.error + ": " + err.message));
      planApply.disabled = false;
    });
  });
  document.getElementById("plan-discard").addEventListener("click", closePlan);

  // --- risk watch: teams flagged this month (KPI thresholds), refreshed on load and every few
  // minutes — monthly figures do not move with each event, so events do not redraw it.
  var riskList = document.getElementById("risk-watch");
  var RISK_SHOWN = 15;
  function loadRiskWatch() {
    if (!riskList) return;
    api("GET", riskList.dataset.api).then(function (res) {
      clear(riskList);
      riskList.dataset.month = res.month;
      if (!res.items.length) { riskList.appendChild(el("li", { class: "empty" }, riskList.dataset.empty)); return; }
      res.items.slice(0, RISK_SHOWN).forEach(function (item) {
        var li = el("li", { "data-kind": item.kind, "data-key": String(item.key) });
        var head = el("div", { class: "who" });
        head.appendChild(el("strong", null, item.name));
        head.appendChild(el("span", { class: "muted" }, " · " + riskList.dataset[item.kind]));
        li.appendChild(head);
        item.reasons.forEach(function (r) {
          li.appendChild(el("a", { href: r.url, class: "risk-reason", "data-figure": r.figure, target: "_blank", rel: "noopener" }, r.text));
        });
        riskList.appendChild(li);
      });
      if (res.items.length > RISK_SHOWN) {
        var more = el("li", { class: "more" });
        more.appendChild(el("a", { href: "/kpis?month=" + encodeURIComponent(res.month) }, "+" + (res.items.length - RISK_SHOWN) + " " + riskList.dataset.more));
        riskList.appendChild(more);
      }
    }).catch(function () { /* kept as it was; the next refresh tries again */ });
  }
  loadRiskWatch();
  setInterval(loadRiskWatch, 5 * 60000);

  // --- start ---------------------------------------------------------------------------------
  setConnection("connecting");
  loadSnapshot();
  // For tests and the curious: a read-only look at the board's state.
  window.dispatchBoard = { state: state, catchUp: catchUp, reload: loadSnapshot, socket: function () { return socket; },
    riskWatch: loadRiskWatch,
    // For the timeline (timeline.js), which shows the same state another way.
    settings: settings, onRender: function (fn) { renderHooks.push(fn); },
    onEvent: function (fn) { eventHooks.push(fn); }, render: render, upsert: upsert,
    refreshOrder: refreshOrder, openOrder: openOrder, techMatches: techMatches, showRoute: showRoute,
    map: function () { return bmap; },
    // For the keyboard (board-keys.js).
    closeOrder: closeOrder, closePlan: function () { if (planPanel.hidden) return false; closePlan(); return true; },
    assignTopSuggestion: assignTopSuggestion };
})();
