/* The technician's phone app.
 *
 * State = the last GET /api/tech/today answer (also kept in localStorage, and cached by the
 * service worker) + the actions still waiting in the IndexedDB queue, applied on top as
 * predictions. Every action (status move, photo, completion report) goes through the queue
 * with its own Idempotency-Key and is sent in order; offline, the queue waits and replays
 * when the connection returns. A 409/404 on replay is a conflict: shown on the order, and
 * the order's later queued actions are dropped (they depended on it).
 * Proof photos wait in the queue as drafts (not sent, removable) until the technician
 * completes the job; then they go first, before the report and the move.
 * All user text goes through textContent; strings come translated from #tech-settings.
 */
(function () {
  "use strict";

  var settingsNode = document.getElementById("tech-settings");
  if (!settingsNode) return;
  var settings = JSON.parse(settingsNode.textContent);
  var T = settings.strings;
  var STORE_KEY = "tech-today-" + settings.user_id;
  var MAX_ORIGINAL = 4 * 1024 * 1024; // smaller files are sent as taken (EXIF kept)
  var MAX_SIDE = 2048;
  // The lifecycle as it applies to the order's own technician (dispatch/lifecycle.py).
  var TARGET = { accept: "accepted", reject: null, contact: undefined, depart: "en_route", arrive: "on_site", complete: "completed",
    need_part: "waiting_parts" };
  var ALLOWED = { assigned: ["accept", "reject"], accepted: ["contact", "depart"], returned: ["contact", "depart"],
    en_route: ["arrive"], on_site: ["complete"] };
  var OPEN = { assigned: 1, accepted: 1, en_route: 1, on_site: 1, returned: 1, "new": 1 };

  var state = {
    server: [], orders: [], byId: {}, current: null, queue: [], flushing: false, online: navigator.onLine,
    conflicts: {}, progress: {}, gone: {}, contacted: {}, parts: [], thumbs: {}, nextAfter: null
  };

  // --- helpers (the shared ones are in common.js) ---------------------------------------
  var C = window.dispatchCommon;
  var el = C.el, clear = C.clear, api = C.api, networkError = C.networkError, CSRF = C.csrf;
  function $(id) { return document.getElementById(id); }
  function fmtTime(iso, withDate) { return C.fmtTime(iso, settings.timezone, withDate); }
  function countdown(iso) {
    var ms = new Date(iso).getTime() - Date.now();
    var mins = Math.round(Math.abs(ms) / 60000);
    var text = (mins >= 60 ? Math.floor(mins / 60) + T.hours_short + " " : "") + (mins % 60) + T.minutes_short;
    return { text: (ms < 0 ? T.overdue : T.due_in) + " " + text, late: ms < 0, soon: ms >= 0 && ms < 2 * 3600000 };
  }
  // A number as people read it (the server sends it so, core/phones.py display_phone; this
  // formats a list saved by an older version the same way: "138 0013 8002").
  function fmtPhone(customer) {
    if (customer.phone_display) return customer.phone_display;
    var m = /^\+86(1\d{2})(\d{4})(\d{4})$/.exec(customer.phone || "");
    return m ? m[1] + " " + m[2] + " " + m[3] : (customer.phone || "");
  }
  // What the card says about getting there: the ETA (live while driving), the appointment
  // when nothing is planned yet, or that it is not planned (on site: nothing, the badge says it).
  function arrival(o) {
    if (o.status === "on_site") return "";
    // A later day of the plan: the day and window, not a time that reads as today's.
    var today = settings.days ? Object.keys(settings.days).sort()[0] : null;
    if (o.visit_day && today && o.visit_day > today && !o.eta_live) {
      return settings.visit_format.replace("%(day)s", settings.days[o.visit_day] || o.visit_day)
        .replace("%(start)s", o.visit_from).replace("%(end)s", o.visit_to);
    }
    if (o.eta) return T.eta + " " + fmtTime(o.eta) + (o.eta_live ? " · " + T.live : "");
    if (o.appointment_start) return T.appointment + " " + fmtTime(o.appointment_start) + "–" + fmtTime(o.appointment_end);
    return T.not_planned;
  }
  function jobLine(o) {
    var product = settings.products[o.product_category] || o.product_category;
    return [product, o.product_model, settings.issue[o.issue_category] || o.issue_category].filter(Boolean).join(" · ");
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // --- IndexedDB queue -------------------------------------------------------------------
  var dbPromise = new Promise(function (resolve, reject) {
    if (!window.indexedDB) { reject(new Error("no IndexedDB")); return; }
    var req = indexedDB.open("tech-app-" + settings.user_id, 1);
    req.onupgradeneeded = function () { req.result.createObjectStore("queue", { keyPath: "id", autoIncrement: true }); };
    req.onsuccess = function () { resolve(req.result); };
    req.onerror = function () { reject(req.error); };
  });
  function tx(mode, fn) {
    return dbPromise.then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction("queue", mode);
        var result = fn(t.objectStore("queue"));
        t.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function queueAll() { return tx("readonly", function (s) { return s.getAll(); }); }
  function queueAdd(item) { return tx("readwrite", function (s) { return s.add(item); }); }
  function queueDelete(id) { return tx("readwrite", function (s) { return s.delete(id); }); }
  function queuePut(item) { return tx("readwrite", function (s) { return s.put(item); }); }
  function sendable() { return state.queue.filter(function (q) { return !q.draft; }); }
  function reloadQueue() {
    return queueAll().then(function (items) {
      state.queue = (items || []).sort(function (a, b) { return a.id - b.id; });
    }).catch(function () { state.queue = state.queue || []; });
  }

  // --- the model: server list + queued predictions ----------------------------------------
  function rebuild() {
    var orders = state.server.map(function (o) { return Object.assign({}, o, { photo_ids: (o.photo_ids || []).slice(), queued_photos: [] }); });
    var byId = {};
    orders.forEach(function (o) { byId[o.id] = o; });
    state.queue.forEach(function (item) {
      var o = byId[item.orderId];
      if (!o) return;
      if (item.kind === "transition") {
        var target = TARGET[item.action];
        if (target) o.status = target;
        if (item.action === "contact") state.contacted[o.id] = true;
        o.version = item.version + 1;
      } else if (item.kind === "photo") {
        o.queued_photos.push(item);
        o.version += 1;
      } else if (item.kind === "report") {
        o.report_submitted = true;
      } else if (item.kind === "part") {
        o.status = "waiting_parts";
        o.version = item.version + 1;
      }
      if (!item.draft) o.pending = (o.pending || 0) + 1;
    });
    orders.forEach(function (o) { o.allowed_actions = ALLOWED[o.status] || []; });
    state.orders = orders;
    state.byId = byId;
  }
  function setServer(items) {
    var ids = {};
    items.forEach(function (o) { ids[o.id] = true; });
    // Orders that left this list were taken away meanwhile (shown as such) — unless the list
    // was only the saved copy painted at start, which may be days old.
    if (!state.provisional) state.server.forEach(function (o) { if (!ids[o.id] && OPEN[o.status]) state.gone[o.id] = o; });
    state.provisional = false;
    items.forEach(function (o) { delete state.gone[o.id]; });
    state.server = items;
  }
  function loadSaved() {
    try { var saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null"); if (saved) state.server = saved.items || []; } catch (e) { /* none */ }
  }
  function loadToday() {
    return fetch("/api/tech/today", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .catch(function (e) { throw networkError(e); })
      .then(function (r) {
        var cached = r.headers.get("X-Served-From") === "cache";
        if (!r.ok) { var err = new Error(r.statusText); err.status = r.status; err.network = r.status === 503; throw err; }
        return r.json().then(function (data) {
          if (cached) {
            // The service worker's last copy: good for a cold start offline, never newer than ours.
            setNet(false);
            // (Only this technician's copy: the cache is per browser, not per login.)
            if (!state.server.length && data.technician_id === settings.technician_id) state.server = data.items || [];
            if (!state.server.length) loadSaved();
            return;
          }
          setNet(true);
          setServer(data.items || []);
          try { localStorage.setItem(STORE_KEY, JSON.stringify(data)); } catch (e) { /* full: fine */ }
        });
      }).catch(function (err) {
        if (err.network) setNet(false);
        if (!state.server.length) loadSaved();
      }).then(reloadQueue).then(function () { rebuild(); render(); });
  }

  // --- sending the queue -------------------------------------------------------------------
  function enqueue(item) {
    item.key = uuid();
    item.createdAt = new Date().toISOString();
    return queueAdd(item).then(function (id) { item.id = id; return reloadQueue(); }).then(function () {
      rebuild(); render(); flush();
    });
  }
  function send(item) {
    var headers = { "Idempotency-Key": item.key };
    if (item.kind === "transition") {
      var body = { action: item.action, version: item.version };
      ["reason", "lat", "lon", "accuracy_m"].forEach(function (k) { if (item[k] != null) body[k] = item[k]; });
      return api("POST", "/api/tech/orders/" + item.orderId + "/actions", body, headers);
    }
    if (item.kind === "report") return api("POST", "/api/orders/" + item.orderId + "/completion-report", item.body, headers);
    if (item.kind === "part") {
      var part = Object.assign({ version: item.version }, item.body);
      ["lat", "lon", "accuracy_m"].forEach(function (k) { if (item[k] != null) part[k] = item[k]; });
      return api("POST", "/api/tech/orders/" + item.orderId + "/part-request", part, headers);
    }
    return uploadPhoto(item);
  }
  function uploadPhoto(item) {
    return new Promise(function (resolve, reject) {
      var form = new FormData();
      form.append("photo", item.blob, item.filename || "photo.jpg");
      form.append("source", item.source);
      if (item.lat != null) { form.append("lat", item.lat); form.append("lon", item.lon); form.append("accuracy_m", item.accuracy_m || 0); }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/tech/orders/" + item.orderId + "/photos");
      xhr.setRequestHeader("X-CSRFToken", CSRF);
      xhr.setRequestHeader("Idempotency-Key", item.key);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { state.progress[item.key] = Math.round(100 * e.loaded / e.total); renderPhotos(); }
      };
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300) { resolve(data); return; }
        var err = new Error((data && data.message) || xhr.statusText); err.status = xhr.status; err.data = data;
        reject(err);
      };
      xhr.onerror = function () { reject(networkError()); };
      state.progress[item.key] = 0;
      xhr.send(form);
    });
  }
  function flush() {
    if (state.flushing) return Promise.resolve();
    state.flushing = true;
    var sentAny = false;
    function next() {
      return reloadQueue().then(function () {
        var item = sendable()[0];
        if (!item) return null;
        renderQueueStatus(true);
        return send(item).then(function (result) {
          sentAny = true;
          setNet(true);
          if (item.kind === "transition" && result) applyServerOrder(result);
          delete state.progress[item.key];
          delete state.conflicts[item.orderId];
          return queueDelete(item.id).then(next);
        }, function (err) {
          if (err.network || !err.status || err.status >= 500 || err.status === 429) {
            if (err.network || !err.status) setNet(false);
            state.progress[item.key] = -1; // failed: waits for a retry
            return null;
          }
          sentAny = true;
          // A conflict or a refusal: this action and the order's later ones cannot apply.
          state.conflicts[item.orderId] = conflictText(err);
          var drop = state.queue.filter(function (q) { return q.orderId === item.orderId; });
          return drop.reduce(function (p, q) { return p.then(function () { return queueDelete(q.id); }); }, Promise.resolve()).then(next);
        });
      });
    }
    return next().catch(function () { /* keep the queue */ }).then(function () {
      state.flushing = false;
      var after = sentAny ? loadToday() : reloadQueue().then(function () { rebuild(); render(); });
      return after.then(function () {
        if (sendable().length && state.online) setTimeout(flush, 5000);
      });
    });
  }
  function applyServerOrder(o) {
    state.server.forEach(function (s) {
      if (s.id === o.id) { s.status = o.status; s.version = o.version; s.allowed_actions = o.allowed_actions; }
    });
  }
  function conflictText(err) {
    if (err.status === 409) return T.conflict + (err.data && err.data.message ? " (" + err.data.message + ")" : "");
    if (err.status === 404 || err.status === 403) return T.conflict + " " + T.not_yours;
    var detail = err.data && err.data.detail && err.data.detail.json;
    var fields = detail ? Object.keys(detail).map(function (k) { return detail[k].join ? detail[k].join(" ") : detail[k]; }).join(" ") : "";
    return T.error + ": " + (fields || err.message);
  }

  // --- connection state --------------------------------------------------------------------
  function setNet(online) {
    // A late answer to a request made before the cut must not say "online" again.
    if (online && navigator.onLine === false) online = false;
    state.online = online;
    var node = $("net");
    node.dataset.state = online ? "online" : "offline";
    node.textContent = online ? T.online : T.offline;
    node.className = "net " + (online ? "online" : "offline");
    renderQueueStatus(false);
  }
  window.addEventListener("online", function () { setNet(true); flush(); loadToday(); });
  window.addEventListener("offline", function () { setNet(false); });

  // --- rendering -----------------------------------------------------------------------------
  function render() {
    renderList();
    if (state.current != null) renderOrder();
    renderQueueStatus(false);
  }
  function renderQueueStatus(sending) {
    var node = $("queue-status");
    var n = sendable().length;
    node.dataset.pending = String(n);
    node.hidden = n === 0;
    node.textContent = n ? (sending && state.online ? T.syncing : n + " " + T.pending) : "";
  }
  function badge(status) { return el("span", { "class": "badge " + status }, settings.status[status] || status); }
  function contactLinks(o, holder) {
    var call = el("a", { "class": "button call", href: "tel:" + o.customer.phone, "data-role": "call" }, "☎ " + T.call);
    var nav = el("a", { "class": "button navigate", href: o.navigate_url, target: "_blank", rel: "noopener", "data-role": "navigate" }, "➤ " + T.navigate);
    holder.appendChild(call);
    holder.appendChild(nav);
  }
  function signature(extra) {
    // Re-draw only when something shown changed (keeps buttons under a finger stable).
    return JSON.stringify([extra, Math.floor(Date.now() / 30000), state.conflicts, state.contacted, state.gone]);
  }
  function renderList() {
    var list = $("order-list");
    var sig = signature(state.orders);
    if (list.dataset.sig === sig) return;
    list.dataset.sig = sig;
    clear(list);
    $("list-empty").hidden = state.orders.length > 0;
    var n = 0;
    state.orders.forEach(function (o) {
      var open = !!OPEN[o.status];
      var li = el("li", { "class": "order-card" + (open ? "" : " done") + (state.conflicts[o.id] ? " has-conflict" : ""),
        "data-order-id": o.id, "data-status": o.status, tabindex: "0", role: "button" });
      var head = el("div", { "class": "card-head" });
      head.appendChild(el("span", { "class": "seq" }, open ? String(++n) : "✓"));
      var when = open ? arrival(o) : T.completed_today;
      if (when) head.appendChild(el("span", { "class": "eta" + (o.eta_live && open ? " live" : "") }, when));
      head.appendChild(badge(o.status));
      if (o.priority !== "normal") head.appendChild(el("span", { "class": "badge prio-" + o.priority }, settings.priority[o.priority]));
      li.appendChild(head);
      li.appendChild(el("div", { "class": "cust" }, o.customer.name));
      li.appendChild(el("div", { "class": "addr" }, o.address));
      // What to bring: the product, its model and the fault.
      li.appendChild(el("div", { "class": "job" }, jobLine(o)));
      if (o.description && open) li.appendChild(el("div", { "class": "fault" }, o.description));
      if (o.appointment_start && open && o.eta) {
        li.appendChild(el("div", { "class": "appt" }, T.appointment + " " + fmtTime(o.appointment_start, true) + "–" + fmtTime(o.appointment_end)));
      }
      var due = el("div", { "class": "due" });
      due.appendChild(el("span", null, T.due + " " + fmtTime(o.due_at, true)));
      if (open) {
        var c = countdown(o.due_at);
        due.appendChild(el("span", { "class": "countdown" + (c.late ? " late" : c.soon ? " soon" : "") }, c.text));
      }
      li.appendChild(due);
      if (o.visit_count > 1 && open) li.appendChild(el("div", { "class": "returned-flag" }, T.returned_title));
      if (o.pending) li.appendChild(el("div", { "class": "pending-flag" }, o.pending + " " + T.pending));
      if (state.conflicts[o.id]) li.appendChild(el("div", { "class": "conflict-flag" }, T.conflict));
      var links = el("div", { "class": "links" });
      contactLinks(o, links);
      li.appendChild(links);
      li.addEventListener("click", function (e) { if (!e.target.closest("a")) openOrder(o.id); });
      li.addEventListener("keydown", function (e) { if (e.key === "Enter") openOrder(o.id); });
      list.appendChild(li);
    });
  }
  function fact(dl, label, value) {
    if (value === null || value === undefined || value === "") return;
    dl.appendChild(el("dt", null, label));
    var dd = el("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
    dl.appendChild(dd);
  }
  function renderOrder(force) {
    var o = state.byId[state.current];
    var detail = $("order-detail");
    var actions = $("order-actions");
    var sig = signature([state.current, o || null]);
    if (!force && detail.dataset.sig === sig) { if (o && o.status === "on_site") renderPhotos(); return; }
    detail.dataset.sig = sig;
    clear(detail);
    clear(actions);
    var message = state.conflicts[state.current] || (o ? "" : T.not_yours);
    showMessage(message, message ? "error" : "");
    if (!o) {
      var gone = state.gone[state.current];
      if (gone) detail.appendChild(el("h2", null, gone.number));
      $("complete-form").hidden = true;
      $("part-box").hidden = true;
      $("reject-form").hidden = true;
      return;
    }
    detail.dataset.status = o.status;
    detail.dataset.orderId = String(o.id);
    if (state.nextAfter && state.nextAfter.to === o.id) {
      detail.appendChild(el("p", { "class": "next-banner", id: "next-banner" }, "✓ " + T.done_next.replace("%(number)s", state.nextAfter.from)));
    }
    var h = el("h2", { id: "order-number" }, o.number + " ");
    h.appendChild(badge(o.status));
    detail.appendChild(h);
    if (o.return_info && OPEN[o.status]) {
      var box = el("div", { "class": "returned-box", id: "return-info" });
      box.appendChild(el("strong", null, T.returned_title + " (" + T.visit + " " + o.visit_count + ")"));
      box.appendChild(el("p", null, T.return_reason + ": " + (o.return_info.reason || "—")));
      var fixes = (o.return_info.problems || []).slice();
      if (o.return_info.callback_note) fixes.push(o.return_info.callback_note);
      if (fixes.length) box.appendChild(el("p", null, T.fix_now + ": " + fixes.join("; ")));
      detail.appendChild(box);
    }
    var dl = el("dl", { "class": "facts" });
    fact(dl, T.eta, o.eta ? fmtTime(o.eta) + (o.eta_live ? " · " + T.live : "") : null);
    var due = el("span", null, fmtTime(o.due_at, true) + " ");
    if (OPEN[o.status]) { var c = countdown(o.due_at); due.appendChild(el("span", { "class": "countdown" + (c.late ? " late" : "") }, c.text)); }
    fact(dl, T.due, due);
    fact(dl, T.customer, o.customer.name + " · " + fmtPhone(o.customer));
    fact(dl, T.address, o.address);
    fact(dl, T.product, [settings.products[o.product_category] || o.product_category, o.product_model].filter(Boolean).join(" · "));
    fact(dl, T.issue, settings.issue[o.issue_category] || o.issue_category);
    fact(dl, T.description, o.description);
    if (o.appointment_start) fact(dl, T.appointment, fmtTime(o.appointment_start, true) + "–" + fmtTime(o.appointment_end));
    fact(dl, T.warranty, o.in_warranty ? T.in_warranty : T.out_of_warranty);
    detail.appendChild(dl);
    var links = el("div", { "class": "links" });
    contactLinks(o, links);
    detail.appendChild(links);
    var hist = el("details", { "class": "history", id: "history" });
    hist.appendChild(el("summary", null, T.history + " (" + o.history.length + ")"));
    if (!o.history.length) hist.appendChild(el("p", { "class": "muted" }, T.no_history));
    var ul = el("ul");
    o.history.forEach(function (h) {
      ul.appendChild(el("li", null, fmtTime(h.created_at, true) + " · " + h.number + " · " + (settings.issue[h.issue_category] || h.issue_category) +
        " · " + (settings.status[h.status] || h.status) + (h.description ? " — " + h.description : "")));
    });
    hist.appendChild(ul);
    if (o.history.length) hist.open = true;
    detail.appendChild(hist);

    // Completing is the report's own button below; assigned work can be accepted and set
    // off for in one tap.
    var shown = o.allowed_actions.filter(function (a) { return a !== "complete"; });
    if (shown.indexOf("accept") >= 0) shown.unshift("set_off");
    shown.forEach(function (action) {
      var label = action === "set_off" ? T.accept_and_depart : settings.action[action] || action;
      if (action === "contact" && (state.contacted[o.id] || o.contacted_at)) label += " ✓";
      // Beside "accept and set off", a plain accept is the lesser choice.
      var plain = action === "reject" || (action === "accept" && shown[0] === "set_off");
      var b = el("button", { type: "button", "class": "big " + (plain ? "" : "primary"), "data-action": action }, label);
      b.addEventListener("click", function () { onAction(o, action); });
      actions.appendChild(b);
    });
    var completing = o.status === "on_site";
    $("complete-form").hidden = !completing;
    $("part-box").hidden = !completing;
    if (!completing) $("reject-form").hidden = !$("reject-form").dataset.open || o.status !== "assigned";
    if (completing) renderCompletion(o);
  }
  function showMessage(text, kind) {
    var node = $("order-message");
    node.textContent = text || "";
    node.className = "flash " + (kind || "info");
    node.hidden = !text;
  }
  function notice(text) {
    $("notice-text").textContent = text;
    $("notice").hidden = false;
    if (navigator.vibrate) { try { navigator.vibrate([200, 100, 200]); } catch (e) { /* not allowed */ } }
  }
  $("notice-close").addEventListener("click", function () { $("notice").hidden = true; });

  // --- navigation ----------------------------------------------------------------------------
  function openOrder(id) {
    if (state.nextAfter && state.nextAfter.to !== id) state.nextAfter = null;
    state.current = id;
    $("list-message").hidden = true;
    state.parts = [];
    $("reject-form").hidden = true;
    delete $("reject-form").dataset.open;
    $("list-view").hidden = true;
    $("order-view").hidden = false;
    $("complete-form").dataset.orderId = "";
    renderOrder(true);
    window.scrollTo(0, 0);
    if (history.state === null || history.state.order !== id) history.pushState({ order: id }, "", "#order-" + id);
  }
  function showList() {
    state.current = null;
    state.nextAfter = null;
    $("order-view").hidden = true;
    $("list-view").hidden = false;
    renderList();
  }
  $("back").addEventListener("click", function () { if (history.state && history.state.order) history.back(); else showList(); });
  window.addEventListener("hashchange", function () {
    var m = /^#order-(\d+)$/.exec(location.hash);
    if (m && state.current !== parseInt(m[1], 10)) openOrder(parseInt(m[1], 10));
  });
  window.addEventListener("popstate", function (e) {
    if (e.state && e.state.order) openOrder(e.state.order); else showList();
  });

  // --- actions ---------------------------------------------------------------------------------
  function onAction(o, action) {
    if (action === "reject") {
      var form = $("reject-form");
      form.hidden = false;
      form.dataset.open = "1";
      $("reject-reason").focus();
      return;
    }
    if (action === "set_off") {
      var version = o.version;
      enqueue({ kind: "transition", orderId: o.id, action: "accept", version: version }).then(function () {
        return enqueue({ kind: "transition", orderId: o.id, action: "depart", version: version + 1 });
      });
      return;
    }
    if (action === "arrive") {
      showMessage(T.locating, "info");
      locate(function (pos, denied) {
        if (!pos) { showMessage(denied ? T.no_position : T.no_fix, "error"); return; }
        showMessage("", "");
        enqueue({ kind: "transition", orderId: o.id, action: action, version: o.version, lat: pos.lat, lon: pos.lon, accuracy_m: pos.accuracy_m });
      }, true);
      return;
    }
    enqueue({ kind: "transition", orderId: o.id, action: action, version: o.version });
  }
  // A check-in (`required`) takes a new fix, never the phone's cached one: tapping "arrived"
  // a minute after leaving the last customer recorded that customer's doorstep.
  // done(position) or done(null, deniedByUser).
  function locate(done, required) {
    if (!navigator.geolocation) { done(null, true); return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      done({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: p.coords.accuracy });
    }, function (err) { done(null, !!err && err.code === 1); },
    { enableHighAccuracy: !!required, timeout: required ? 20000 : 5000, maximumAge: required ? 0 : 60000 });
  }
  $("reject-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var o = state.byId[state.current];
    var reason = $("reject-reason").value.trim();
    if (!reason) { $("reject-error").textContent = T.reason_required; $("reject-error").hidden = false; return; }
    $("reject-error").hidden = true;
    $("reject-form").hidden = true;
    delete $("reject-form").dataset.open;
    $("reject-reason").value = "";
    enqueue({ kind: "transition", orderId: o.id, action: "reject", version: o.version, reason: reason });
  });
  $("reject-cancel").addEventListener("click", function () { $("reject-form").hidden = true; delete $("reject-form").dataset.open; });

  // --- completion ------------------------------------------------------------------------------
  function renderCompletion(o) {
    var form = $("complete-form");
    if (form.dataset.orderId !== String(o.id)) {
      form.dataset.orderId = String(o.id);
      var box = $("checklist");
      clear(box);
      o.checklist.forEach(function (code) {
        var label = el("label", { "class": "check" });
        var input = el("input", { type: "checkbox", value: code, name: "checklist" });
        label.appendChild(input);
        label.appendChild(el("span", null, settings.checklist[code] || code));
        box.appendChild(label);
      });
      $("fee").value = "0";
      $("fee-note").value = "";
      $("notes").value = "";
      state.parts = [];
      renderParts();
      updateFeeNote();
      $("complete-error").hidden = true;
    }
    renderPhotos();
  }
  function renderParts() {
    var holder = $("parts");
    clear(holder);
    state.parts.forEach(function (part, i) {
      var row = el("div", { "class": "part-row" });
      var name = el("input", { "class": "part-name", maxlength: "100", placeholder: T.part_name, "aria-label": T.part_name });
      name.value = part.name;
      name.addEventListener("input", function () { part.name = name.value; });
      var qty = el("input", { "class": "part-qty", type: "number", min: "1", max: "999", "aria-label": T.qty });
      qty.value = String(part.qty);
      qty.addEventListener("input", function () { part.qty = parseInt(qty.value, 10) || 1; });
      var rm = el("button", { type: "button", "class": "link" }, T.remove);
      rm.addEventListener("click", function () { state.parts.splice(i, 1); renderParts(); });
      row.appendChild(name); row.appendChild(qty); row.appendChild(rm);
      holder.appendChild(row);
    });
  }
  $("add-part").addEventListener("click", function () { state.parts.push({ name: "", qty: 1 }); renderParts(); });
  function updateFeeNote() {
    var o = state.byId[state.current];
    var fee = parseFloat($("fee").value) || 0;
    $("fee-note-field").hidden = !(o && o.in_warranty && fee > 0);
  }
  $("fee").addEventListener("input", updateFeeNote);
  function renderPhotos() {
    var o = state.byId[state.current];
    var list = $("photo-list");
    clear(list);
    if (!o) return;
    o.photo_ids.forEach(function (id) {
      var li = el("li", { "class": "photo done", "data-state": "done" });
      li.appendChild(el("img", { src: "/api/photos/" + id + "?size=thumb", alt: "" }));
      li.appendChild(el("span", null, T.uploaded));
      list.appendChild(li);
    });
    o.queued_photos.forEach(function (item) {
      if (item.draft) { list.appendChild(draftPhoto(item)); return; }
      var p = state.progress[item.key];
      var stateName = p === undefined ? "queued" : p < 0 ? "failed" : "uploading";
      var li = el("li", { "class": "photo " + stateName, "data-state": stateName });
      var text = stateName === "queued" ? T.queued_photo : stateName === "failed" ? T.upload_failed : T.uploading + " " + p + "%";
      li.appendChild(el("span", null, text));
      if (stateName === "uploading") { var bar = el("progress", { max: "100" }); bar.value = p; li.appendChild(bar); }
      if (stateName === "failed") {
        var retry = el("button", { type: "button", "class": "retry" }, T.retry);
        retry.addEventListener("click", function () { delete state.progress[item.key]; flush(); });
        li.appendChild(retry);
      }
      list.appendChild(li);
    });
  }
  // A photo kept on the phone until the job is completed: its picture and a way to drop it.
  function draftPhoto(item) {
    var li = el("li", { "class": "photo ready", "data-state": "ready" });
    if (!state.thumbs[item.key] && window.URL && URL.createObjectURL) state.thumbs[item.key] = URL.createObjectURL(item.blob);
    if (state.thumbs[item.key]) li.appendChild(el("img", { src: state.thumbs[item.key], alt: "" }));
    li.appendChild(el("span", null, T.ready_photo));
    var rm = el("button", { type: "button", "class": "remove-photo", "data-role": "remove-photo", "aria-label": T.remove_photo }, "✕ " + T.remove);
    rm.addEventListener("click", function () {
      queueDelete(item.id).then(reloadQueue).then(function () {
        if (state.thumbs[item.key]) { URL.revokeObjectURL(state.thumbs[item.key]); delete state.thumbs[item.key]; }
        rebuild(); render();
      });
    });
    li.appendChild(rm);
    return li;
  }
  function addDraftPhoto(item) {
    item.key = uuid();
    item.draft = true;
    item.createdAt = new Date().toISOString();
    return queueAdd(item).then(reloadQueue).then(function () {
      var err = $("complete-error");
      if (err.textContent === T.photo_needed) err.hidden = true; // one is there now
      rebuild(); render();
    });
  }
  // Completing sends the drafts first (in the order taken), then the report and the move.
  function sendDrafts(orderId) {
    var drafts = state.queue.filter(function (q) { return q.draft && q.orderId === orderId; });
    return drafts.reduce(function (p, q) {
      return p.then(function () { q.draft = false; return queuePut(q); });
    }, Promise.resolve()).then(reloadQueue);
  }
  function prepare(file) {
    // Small files go as taken (their EXIF stays: time and place help verify the visit);
    // bigger ones are redrawn on a canvas at most 2048 px a side (which drops EXIF).
    if (file.size <= MAX_ORIGINAL || !window.createImageBitmap) return Promise.resolve(file);
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) { canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.85); });
    }).catch(function () { return file; });
  }
  function onPhoto(input, source) {
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var o = state.byId[state.current];
      input.value = "";
      if (!file || !o) return;
      prepare(file).then(function (blob) {
        locate(function (pos) {
          var item = { kind: "photo", orderId: o.id, source: source, blob: blob, filename: file.name || "photo.jpg" };
          if (pos) { item.lat = pos.lat; item.lon = pos.lon; item.accuracy_m = pos.accuracy_m; }
          addDraftPhoto(item);
        }, false);
      });
    });
  }
  onPhoto($("photo-camera"), "camera");
  onPhoto($("photo-gallery"), "gallery");

  $("complete-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var o = state.byId[state.current];
    if (!o) return;
    var err = $("complete-error");
    var photos = o.photo_ids.length + o.queued_photos.length;
    var fee = parseFloat($("fee").value) || 0;
    if (photos < Math.max(1, o.proof_photos_required)) { err.textContent = T.photo_needed; err.hidden = false; return; }
    if (o.in_warranty && fee > 0 && !$("fee-note").value.trim()) { err.textContent = T.fee_note_required; err.hidden = false; return; }
    err.hidden = true;
    var checked = Array.prototype.map.call(document.querySelectorAll('#checklist input:checked'), function (i) { return i.value; });
    var parts = state.parts.filter(function (p) { return p.name.trim(); }).map(function (p) { return { name: p.name.trim(), qty: p.qty }; });
    var body = { checklist: checked, parts: parts, fee: fee, fee_note: $("fee-note").value.trim(), notes: $("notes").value.trim() };
    var version = o.version;
    sendDrafts(o.id).then(function () {
      return enqueue({ kind: "report", orderId: o.id, body: body });
    }).then(function () {
      return enqueue({ kind: "transition", orderId: o.id, action: "complete", version: version });
    }).then(function () { landOnNextStop(o); });
  });
  // A part is needed: the order waits for it, off the route (the server takes it out of this
  // list); like every action it goes through the queue, so it is sent when the phone is online.
  function localDay(offsetDays) {
    var d = new Date(Date.now() + offsetDays * 86400000);
    return new Intl.DateTimeFormat("en-CA", { timeZone: settings.timezone, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
  }
  $("part-box").addEventListener("toggle", function () {
    if ($("part-box").open && !$("part-date").value) $("part-date").value = localDay(1);
    $("part-date").min = localDay(0);
  });
  $("part-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var o = state.byId[state.current];
    if (!o) return;
    var err = $("part-error");
    var name = $("part-name").value.trim();
    var qty = Number($("part-qty").value);
    var day = $("part-date").value;
    var problem = !name ? T.part_missing : !(Number.isInteger(qty) && qty >= 1 && qty <= 999) ? T.part_qty
      : (!day || day < localDay(0)) ? T.part_date : "";
    if (problem) { err.textContent = problem; err.hidden = false; return; }
    err.hidden = true;
    var version = o.version;
    locate(function (pos) {
      var item = { kind: "part", orderId: o.id, version: version, body: { part: name, quantity: qty, expected_on: day } };
      if (pos) { item.lat = pos.lat; item.lon = pos.lon; item.accuracy_m = pos.accuracy_m; }
      enqueue(item).then(function () {
        $("part-form").reset();
        $("part-box").open = false;
        showList();
        var msg = $("list-message");
        msg.textContent = "✓ " + T.part_waiting.replace("%(number)s", o.number);
        msg.hidden = false;
      });
    }, false);
  });

  // Done here: straight on to the next stop of the route (its ETA, one tap to set off), or
  // back to the list when the day's work is done.
  function landOnNextStop(done) {
    var next = state.orders.filter(function (x) { return OPEN[x.status] && x.id !== done.id; })[0];
    if (!next) {
      showList();
      var msg = $("list-message");
      msg.textContent = "✓ " + T.done_all.replace("%(number)s", done.number);
      msg.hidden = false;
      return;
    }
    state.nextAfter = { from: done.number, to: next.id };
    openOrder(next.id);
  }

  // --- live updates ------------------------------------------------------------------------------
  var reloadTimer = null;
  function scheduleReload() { clearTimeout(reloadTimer); reloadTimer = setTimeout(loadToday, 150); }
  function onOrderEvent(msg) {
    var ev = msg.event || {};
    var order = msg.order || {};
    if (ev.actor_id !== settings.user_id && ev.kind !== "photo" && ev.kind !== "completion_report") {
      var mine = state.server.some(function (o) { return o.id === order.id; });
      var toMe = order.technician_id === settings.technician_id;
      if (toMe && !mine) notice(T.new_assignment + ": " + order.number);
      else if (mine && !toMe) notice(T.order_removed + ": " + order.number);
      else if (mine) notice(T.order_changed + ": " + order.number + " · " + (settings.status[order.status] || order.status));
    }
    scheduleReload();
  }
  function connectSocket() {
    if (typeof io !== "function") return;
    var socket = io({ transports: ["websocket", "polling"], reconnectionDelayMax: 3000 });
    socket.on("connect", function () { document.body.dataset.live = "1"; setNet(true); flush(); scheduleReload(); });
    socket.on("disconnect", function () { document.body.dataset.live = "0"; });
    socket.on("order_event", onOrderEvent);
    // The account's rights changed (web/realtime.py RightsWatch): load the page again under them.
    socket.on("rights_changed", function () { window.location.reload(); });
  }

  // --- position while driving to a customer ------------------------------------------------------
  // Only while one of today's orders is en route, at most once a minute, and only when online:
  // the customer's tracking page turns it into a live ETA (POST /api/tech/position).
  var POSITION_EVERY_MS = (settings.position_every_s || 60) * 1000;
  var lastPositionAt = 0;
  function reportPosition() {
    var driving = state.server.some(function (o) { return o.status === "en_route"; });
    if (!driving || !navigator.onLine || !navigator.geolocation) return;
    if (Date.now() - lastPositionAt < POSITION_EVERY_MS) return;
    lastPositionAt = Date.now();
    navigator.geolocation.getCurrentPosition(function (pos) {
      api("POST", "/api/tech/position", {
        lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy_m: pos.coords.accuracy
      }).catch(function () { lastPositionAt = 0; /* try again on the next tick */ });
    }, function () { /* no permission or no fix: the ETA falls back to the plan */ },
    { enableHighAccuracy: true, maximumAge: 30000, timeout: 20000 });
  }
  setInterval(reportPosition, Math.min(10000, POSITION_EVERY_MS));

  // --- start ---------------------------------------------------------------------------------------
  if ("serviceWorker" in navigator && settings.sw_url) {
    navigator.serviceWorker.register(settings.sw_url, { scope: settings.scope }).catch(function () { /* no offline shell */ });
  }
  setInterval(function () { if (state.current == null) renderList(); else renderOrder(); }, 30000);
  setInterval(function () { if (sendable().length) flush(); }, 15000);
  setNet(navigator.onLine);
  // First paint from this technician's last saved list, with no network at all; the server's
  // list replaces it as soon as it arrives (a slow 3G line should not leave a blank screen).
  loadSaved();
  state.provisional = state.server.length > 0;
  reloadQueue().then(function () {
    rebuild(); render();
    document.body.dataset.shell = "1";
    if (window.performance && performance.mark) performance.mark("tech-shell"); // bench/phone.py
  });
  loadToday().then(function () {
    var m = /^#order-(\d+)$/.exec(location.hash);
    if (m) openOrder(parseInt(m[1], 10));
    document.body.dataset.ready = "1";
    if (window.performance && performance.mark) performance.mark("tech-ready"); // bench/phone.py times this
    flush();
  });
  connectSocket();

  // --- logging out: nothing of this user stays on a shared phone ---------------------------------
  // The server's answer carries Clear-Site-Data; this also covers browsers that ignore it.
  var logoutForm = document.querySelector('header form[action$="/logout"]');
  if (logoutForm) logoutForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (state.queue.length && !window.confirm(T.logout_pending)) return;
    try { localStorage.removeItem(STORE_KEY); } catch (e) { /* none */ }
    var cleared = window.caches ? caches.delete("tech-personal").catch(function () {}) : Promise.resolve();
    cleared.then(function () { logoutForm.submit(); });
  });
  window.techApp = { state: state, flush: flush, reload: loadToday };
})();
