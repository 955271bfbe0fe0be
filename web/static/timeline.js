/* The board's timeline: one row per technician in the board's filter, their shifts behind,
 * each planned visit as a block (travel before it as a thin bar, its due time as a line, red
 * when late), a now-line, zoom from hours to a week (vis-timeline, loaded before this file).
 *
 * Data: GET /api/timeline for the days in view (dispatch/timeline.py), read again shortly
 * after the board applies events (board.js keeps the sequence; this file only notices that
 * it moved). Acting: a drop (an unassigned order from the queue onto a row, a block onto
 * another row or another time in its own) is one POST /api/orders/<id>/placement with the
 * order's version; the answer is the new state, a refusal with its reason, or a 409 after
 * which the order and the timeline are read again. User text goes in with textContent only.
 */
(function () {
  "use strict";

  var B = window.dispatchBoard;
  var box = document.getElementById("timeline");
  if (!B || !box || !window.dispatchTimelineDays || typeof vis === "undefined" || !vis.Timeline ||
      typeof window.moment === "undefined") return;
  var C = window.dispatchCommon;
  var el = C.el, api = C.api;
  var settings = B.settings;
  var T = settings.strings;
  var section = box.closest(".board-timeline");
  var message = document.getElementById("timeline-message");
  var D = window.dispatchTimelineDays; // timeline-days.js: the zone's days, and the first read
  var HOUR = D.HOUR, DAY = D.DAY, OFFSET = D.OFFSET, localDay = D.localDay, dayStart = D.dayStart;
  var UNDER_WAY = { en_route: 1, on_site: 1 };

  function fmt(iso) { return C.fmtTime(iso, settings.timezone, false); }
  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, k) { return values[k] != null ? String(values[k]) : ""; });
  }
  function say(text, kind) {
    message.textContent = text || "";
    message.className = "flash " + (kind || "info");
    message.hidden = !text;
    if (kind) message.dataset.kind = kind; else delete message.dataset.kind;
  }

  /* vis-timeline measures every block it draws (offsetWidth/offsetHeight and getComputedStyle:
   * on the first draw a forced layout of the whole page per row, seconds for 200 rows). The
   * blocks here have their height fixed in board.css and a short label, so an item that states
   * its size (`size: [label width px, height px]`) is taken at its word instead of measured;
   * any other item is measured as the library does. */
  var BLOCK_PX = 22, TRAVEL_PX = 4;
  function takeSizeAsStated(proto, sizes) {
    var measure = proto._getDomComponentsSizes;
    proto._getDomComponentsSizes = function () {
      var size = this.data && this.data.size;
      if (!size) return measure.call(this);
      this.overflow = false; // board.css: the blocks clip their label
      this.whiteSpace = false;
      return sizes(size);
    };
  }
  var kinds = vis.timeline && vis.timeline.components && vis.timeline.components.items;
  if (kinds && kinds.RangeItem && !kinds.RangeItem.prototype._sizeAsStated) {
    kinds.RangeItem.prototype._sizeAsStated = true;
    takeSizeAsStated(kinds.RangeItem.prototype, function (s) { return { content: { width: s[0] }, box: { height: s[1] } }; });
    takeSizeAsStated(kinds.BackgroundItem.prototype, function (s) { return { content: { width: s[0] } }; });
  }
  function labelPx(text) { return 7 * String(text || "").length + 8; } // .72rem digits, with the padding

  var groups = new vis.DataSet();
  var items = new vis.DataSet();
  var data = { rows: [], stops: [], byOrder: {}, start: null, days: 0 };
  var loadedSeq = -1, loading = null, loadingSpan = null, again = false;

  var options = {
    stack: false,
    groupOrder: "order",
    orientation: { axis: "top", item: "top" },
    showCurrentTime: true,
    zoomMin: HOUR,
    zoomMax: 7 * DAY,
    start: D.opening.start,
    end: D.opening.end,
    height: "100%",
    verticalScroll: true,
    zoomKey: "ctrlKey",
    horizontalScroll: true,
    margin: { item: { horizontal: 0, vertical: 6 }, axis: 4 },
    locale: C.lang.indexOf("zh") === 0 ? "zh-cn" : "en",
    moment: function (date) { return window.moment(date).utcOffset(OFFSET); },
    selectable: true,
    editable: settings.can_act ? { add: false, remove: false, updateTime: true, updateGroup: true, overrideItems: false } : false,
    snap: null,
    itemsAlwaysDraggable: { item: true, range: true }, // a visit moves without being selected first
    onMove: function (item, callback) {
      callback(null); // the block goes back until the server says where it is now
      place(item.orderId, Number(item.group), item.start);
    },
    tooltip: { followMouse: true, overflowMethod: "cap" },
    groupHeightMode: "fixed",
  };
  if (options.locale === "zh-cn") {
    window.moment.locale("zh-cn");
    // Dates the Chinese way ("12月7日 周一"), not moment's default "周一 7 十二月".
    options.format = {
      minorLabels: { weekday: "M月D日 ddd", day: "D日", week: "M月D日", month: "M月" },
      majorLabels: { second: "M月D日 HH:mm", minute: "M月D日 ddd", hour: "M月D日 ddd", weekday: "YYYY年M月",
        day: "YYYY年M月", week: "YYYY年M月", month: "YYYY年" },
    };
  }
  var timeline = new vis.Timeline(box, items, groups, options);
  window.dispatchTimeline = { timeline: timeline, items: items, groups: groups, data: data, reload: function () { return load(true); } };

  // --- rows: the board's technicians, as filtered there -----------------------------------
  /* Rows go in a page at a time: the first PAGE (more than the panel shows) for the first draw,
   * the rest a page per frame after it. vis-timeline lays out every row it holds on each draw,
   * and a row added after blocks makes it search all of them for its own. Until the board's
   * snapshot is in, the rows are the timeline's own (same names, outlets, skills). */
  var PAGE = 16; // the rows in view at 1440×900 are about 12
  var rowLimit = PAGE, rowKey = "", growing = false, rowShown = {};
  function syncRows() {
    var byId = {};
    data.rows.forEach(function (r) { byId[r.id] = r; });
    var techs = data.rows.map(function (r) { return B.state.loaded ? B.state.techs[r.id] : r; })
      .filter(function (t) { return t && B.techMatches(t); });
    var more = techs.length > rowLimit;
    techs = techs.slice(0, rowLimit);
    var load = {};
    data.stops.forEach(function (s) { load[s.technician_id] = (load[s.technician_id] || 0) + 1; });
    var key = techs.map(function (t) { return t.id + ":" + (load[t.id] || 0) + ":" + byId[t.id].unplanned.length; }).join(",");
    if (key === rowKey) return;
    rowKey = key;
    var wanted = {}, added = [], rows = [];
    techs.forEach(function (t, i) {
      var r = byId[t.id];
      wanted[t.id] = true;
      if (!groups.get(t.id)) added.push(t.id);
      var meta = (load[t.id] || 0) + " / " + t.daily_capacity;
      if (r.unplanned.length) meta += " · " + r.unplanned.length + " " + T.unplanned;
      var shown = [i, t.name, t.outlet_name, meta].join("|");
      if (rowShown[t.id] === shown && groups.get(t.id)) return; // only the rows that changed are redrawn
      rowShown[t.id] = shown;
      var label = el("div", { class: "tl-row", "data-tech-id": String(t.id), title: t.outlet_name });
      label.appendChild(el("span", { class: "tl-name" }, t.name));
      label.appendChild(el("span", { class: "tl-meta" }, meta));
      rows.push({ id: t.id, content: label, order: i });
    });
    var gone = groups.getIds().filter(function (id) { return !wanted[id]; });
    gone.forEach(function (id) { delete rowShown[id]; });
    if (gone.length) groups.remove(gone);
    if (rows.length) groups.update(rows);
    if (added.length) addItems(itemsOfRows(added)); // the blocks of rows just shown, after their rows
    if (more) moreRowsSoon();
  }
  function moreRowsSoon() {
    if (growing || !section.dataset.drawn) return; // the first draw first; the changed handler calls again
    growing = true;
    requestAnimationFrame(function () {
      setTimeout(function () {
        growing = false;
        rowLimit += PAGE;
        syncRows();
      }, 0);
    });
  }

  // --- blocks --------------------------------------------------------------------------------
  /* Enough of the number to tell orders apart on a small block: today's "WO-20261207-0009" is
   * "0009", an older one "1206-0009" (the running number starts again each day). The tooltip
   * has the whole number. */
  function shortNumber(number) {
    var parts = String(number).split("-");
    if (parts.length < 3 || parts[1].length !== 8) return String(number);
    var today = localDay(new Date()).replace(/-/g, "");
    return (parts[1] === today ? "" : parts[1].slice(4) + "-") + parts[parts.length - 1];
  }
  function stopItems(s) {
    var movable = settings.can_act && !UNDER_WAY[s.status];
    var cls = "tl-stop status-" + s.status + (s.late ? " late" : "") + (s.pinned ? " pinned" : "") +
      (B.state.selected === s.order_id ? " selected" : "");
    var content = el("span", { class: "tl-label", "data-order-id": String(s.order_id) }, shortNumber(s.number));
    var title = s.number + " · " + T.eta_short + " " + fmt(s.arrival) + " · " + T.visit + " " + fmt(s.start) + "–" + fmt(s.end) +
      " · " + T.due + " " + fmt(s.due_at) + (s.late ? " · " + T.late : "") + (s.pinned ? " · " + T.pinned : "");
    var out = [{
      id: "o" + s.order_id, orderId: s.order_id, group: s.technician_id, start: new Date(s.start), end: new Date(s.end), type: "range",
      content: content, className: cls, title: title.replace(/[<>&]/g, ""), size: [labelPx(content.textContent), BLOCK_PX],
      editable: movable ? { updateTime: true, updateGroup: true, remove: false } : false,
    }];
    if (new Date(s.travel_start) < new Date(s.arrival)) {
      out.push({ id: "t" + s.order_id, group: s.technician_id, start: new Date(s.travel_start), end: new Date(s.arrival), type: "range",
        content: "", className: "tl-travel", selectable: false, editable: false, title: T.travel, size: [0, TRAVEL_PX] });
    }
    out.push({ id: "d" + s.order_id, group: s.technician_id, start: new Date(s.due_at),
      end: new Date(new Date(s.due_at).getTime() + 60000), type: "background", content: "",
      className: "tl-due" + (s.late ? " late" : ""), title: T.due + " " + s.number + " " + fmt(s.due_at), size: [0] });
    return out;
  }
  function rowBackground(r) {
    var out = r.shifts.map(function (sh, i) {
      return { id: "s" + r.id + "-" + i, group: r.id, start: new Date(sh.start), end: new Date(sh.end), type: "background", content: "", className: "tl-shift",
        size: [0] };
    });
    (r.breaks || []).forEach(function (b, i) {
      out.push({ id: "b" + r.id + "-" + i, group: r.id, start: new Date(b.start), end: new Date(b.end), type: "background", content: "",
        className: "tl-break", title: T.break_window.replace("%(minutes)s", b.minutes), size: [0] });
    });
    r.leave_days.forEach(function (d) {
      var from = dayStart(d);
      out.push({ id: "l" + r.id + "-" + d, group: r.id, start: from, end: new Date(from.getTime() + DAY), type: "background",
        content: T.on_leave, className: "tl-leave", size: [14 * String(T.on_leave).length + 8] });
    });
    return out;
  }
  /* The items of these rows (technician ids): shifts, breaks, leave, and each visit's blocks. */
  function itemsOfRows(ids) {
    var want = {}, out = [];
    ids.forEach(function (id) { want[id] = true; });
    data.rows.forEach(function (r) { if (want[r.id]) Array.prototype.push.apply(out, rowBackground(r)); });
    data.stops.forEach(function (s) { if (want[s.technician_id]) Array.prototype.push.apply(out, stopItems(s)); });
    return out;
  }
  function setData(res) {
    data.rows = res.rows;
    data.stops = res.stops;
    data.byOrder = {};
    res.stops.forEach(function (s) { data.byOrder[s.order_id] = s; });
  }
  function draw(res) {
    setData(res);
    var selected = timeline.getSelection();
    rowKey = "";
    syncRows(); // rows first, then their blocks (only the rows shown have blocks in the timeline)
    replaceItems(itemsOfRows(groups.getIds()));
    timeline.setSelection(selected.filter(function (id) { return items.get(id); }));
    box.dataset.loadedSeq = String(loadedSeq);
    if (pinBar) showPinBar();
    drawPreview();
    markReady();
  }
  /* Make `all` the timeline's items, touching only the ones that changed: vis-timeline lays out
   * and measures every item it is given, so re-adding thousands after each event (a drop
   * changes one row) cost seconds per board. The preview's ghosts are left to drawPreview. */
  var signatures = {};
  function signature(item) {
    var c = item.content;
    return [item.group, +new Date(item.start), +new Date(item.end), item.className, item.title,
      c && c.nodeType ? c.textContent : c, JSON.stringify(item.editable)].join("|");
  }
  function replaceItems(all) {
    var wanted = {}, changed = [], fresh = {};
    all.forEach(function (item) {
      var sig = signature(item);
      wanted[item.id] = true;
      fresh[item.id] = sig;
      if (signatures[item.id] !== sig || !items.get(item.id)) changed.push(item);
    });
    var gone = items.getIds({ filter: function (i) { return !i.ghost && !wanted[i.id]; } });
    if (gone.length) items.remove(gone);
    if (changed.length) items.update(changed);
    signatures = fresh;
  }
  /* Add or update these items, touching only the ones that changed. */
  function addItems(list) {
    var changed = list.filter(function (item) {
      var sig = signature(item);
      if (signatures[item.id] === sig && items.get(item.id)) return false;
      signatures[item.id] = sig;
      return true;
    });
    if (changed.length) items.update(changed);
  }
  /* An event that carries the rows it changed (a placement, an assignment, a pin: the
   * technicians' days from dispatch/timeline.py technician_days) redraws those rows from it at
   * once, without reading /api/timeline again: the board's other boards see a drop as soon as
   * its event lands. Only when the timeline was current just before this event, no read is under
   * way, the event's days cover the days in view and every row it names is on this board;
   * otherwise the read after the render (below) stays the fallback. */
  function patchable(tl, seq) {
    if (!tl || loading || loadedSeq !== seq - 1 || data.start == null) return false;
    var from = dayStart(tl.first_day).getTime();
    if (dayStart(data.start).getTime() < from || dayStart(data.start).getTime() + data.days * DAY > from + tl.days * DAY) return false;
    var mine = {};
    data.rows.forEach(function (r) { mine[r.id] = true; });
    return tl.rows.every(function (r) { return mine[r.id]; });
  }
  function patchRows(tl) {
    var from = dayStart(data.start).getTime(), to = from + data.days * DAY;
    var techs = {}, unplanned = {};
    tl.rows.forEach(function (r) { techs[r.id] = true; unplanned[r.id] = r.unplanned; });
    data.rows = data.rows.map(function (r) { return techs[r.id] ? Object.assign({}, r, { unplanned: unplanned[r.id] }) : r; });
    var fresh = tl.stops.filter(function (s) { var t = new Date(s.arrival).getTime(); return t >= from && t < to; });
    var moved = {};
    fresh.forEach(function (s) { moved[s.order_id] = true; });
    data.stops = data.stops.filter(function (s) { return !techs[s.technician_id] && !moved[s.order_id]; }).concat(fresh);
    data.byOrder = {};
    data.stops.forEach(function (s) { data.byOrder[s.order_id] = s; });
    var all = [], wanted = {};
    fresh.forEach(function (s) { if (groups.get(s.technician_id)) Array.prototype.push.apply(all, stopItems(s)); });
    all.forEach(function (item) { wanted[item.id] = true; });
    // A visit's items are "o", "t" and "d" + its order id; the rows' own (shifts, breaks, leave) stay.
    var gone = items.getIds({ filter: function (i) {
      return !i.ghost && !wanted[i.id] && /^[otd]\d/.test(i.id) && (techs[i.group] || moved[String(i.id).slice(1)]);
    } });
    gone.forEach(function (id) { delete signatures[id]; });
    if (gone.length) items.remove(gone);
    addItems(all);
    syncRows();
    if (pinBar) showPinBar();
    if (previewMoves.length) drawPreview();
  }
  B.onEvent(function (msg) {
    var seq = msg.event.seq;
    if (!patchable(msg.timeline, seq)) return;
    patchRows(msg.timeline);
    loadedSeq = seq;
    box.dataset.loadedSeq = String(seq);
  });

  /* The first data and the technicians' rows are both in (the board's snapshot brings the rows). */
  function markReady() {
    if (section.dataset.ready || data.start == null || !groups.length) return;
    section.dataset.ready = "1";
    if (window.performance && performance.mark) performance.mark("timeline-ready");
  }

  /* Read the days in view (at most a week) again. Called after events (debounced), after a
   * drop, and when the view leaves the days already read. */
  function load(force) {
    var w = timeline.getWindow();
    var span = D.span(w.start, w.end), first = span.first, days = span.days;
    if (!force && data.start === first && data.days >= days && loadedSeq >= B.state.lastSeq) return loading || Promise.resolve();
    if (loading) { // the read under way answers a call for the same days; anything else reads again after it
      if (force || loadingSpan.first !== first || loadingSpan.days < days) again = true;
      return loading;
    }
    var seq = B.state.lastSeq;
    loadingSpan = span;
    loading = (D.take(span) || D.read(span)).then(function (res) {
      // The days reflect every event up to the answer's last_seq: read beside the board's
      // snapshot, they are current for it when both name the same seq (no second read).
      data.start = first; data.days = days; loadedSeq = res.last_seq != null ? res.last_seq : seq;
      draw(res);
    }).catch(function (err) {
      say(T.timeline_error + ": " + err.message, "error");
    }).then(function () {
      loading = null;
      var more = again;
      again = false;
      if (more) load(true);
      else if (B.state.loaded && B.state.lastSeq > loadedSeq) soon(); // events came in meanwhile
    });
    return loading;
  }
  var pending = null;
  function soon() {
    if (pending) return;
    pending = setTimeout(function () { pending = null; load(false); }, 250);
  }
  B.onRender(function () {
    syncRows();
    markReady();
    if (B.state.loaded && B.state.lastSeq > loadedSeq) soon();
  });
  // The days are read at once, beside the board's snapshot rather than after it: the first draw
  // comes sooner, and the snapshot's render reads them again if events came in between.
  load(true);
  timeline.on("rangechanged", function () {
    // vis-timeline lifts its loading screen (which takes every click and drag) at the first
    // redraw after its first range change; with the data already drawn no other redraw may come.
    if (!timeline.initialDrawDone) timeline.redraw();
    soon();
  });
  // The first time vis-timeline has drawn the first data on screen and taken its loading screen
  // away (bench/timeline.py times navigation → this).
  timeline.on("changed", function () {
    if (!section.dataset.ready || section.dataset.drawn || !timeline.initialDrawDone) return;
    section.dataset.drawn = "1";
    if (window.performance && performance.mark) performance.mark("timeline-drawn");
    moreRowsSoon(); // the rows below the first page
  });

  // --- clicks: a block opens the order, a row's name shows the technician's day on the map ---
  timeline.on("click", function (props) {
    if (props.what === "group-label" && props.group != null) {
      var id = Number(props.group);
      var points = data.stops.filter(function (s) { return s.technician_id === id; })
        .sort(function (a, b) { return a.seq - b.seq; })
        .map(function (s) { var o = B.state.orders[s.order_id]; return o && o.lat != null ? [o.lat, o.lon] : null; })
        .filter(Boolean);
      B.showRoute(id, points);
      Array.prototype.forEach.call(box.querySelectorAll(".tl-row.chosen"), function (n) { n.classList.remove("chosen"); });
      var label = box.querySelector('.tl-row[data-tech-id="' + id + '"]');
      if (label) label.classList.add("chosen");
      return;
    }
    var item = props.item != null ? items.get(props.item) : null;
    if (item && item.orderId != null) B.openOrder(item.orderId);
  });

  // --- zoom ----------------------------------------------------------------------------------
  Array.prototype.forEach.call(section.querySelectorAll(".timeline-zoom button"), function (b) {
    b.addEventListener("click", function () {
      var t = Date.now();
      if (b.dataset.now) { timeline.moveTo(new Date(t)); return; }
      var hours = Number(b.dataset.hours);
      var before = hours <= 24 ? Math.min(2, hours / 4) * HOUR : 2 * HOUR;
      timeline.setWindow(new Date(t - before), new Date(t - before + hours * HOUR));
      Array.prototype.forEach.call(section.querySelectorAll(".timeline-zoom button"), function (o) { o.classList.toggle("active", o === b); });
    });
  });

  // --- drops ---------------------------------------------------------------------------------
  /* The stop a drop at `time` in `techId`'s row goes before: the first later one in that row
   * on the same day (each day of the horizon is a route of its own). */
  function stopAfter(techId, time, orderId) {
    var best = null, on = localDay(time);
    data.stops.forEach(function (s) {
      if (s.technician_id !== techId || s.order_id === orderId) return;
      var start = new Date(s.start);
      if (localDay(start) !== on) return;
      if (start >= time && (!best || start < new Date(best.start))) best = s;
    });
    return best ? best.order_id : null;
  }
  function place(orderId, techId, time) {
    var o = B.state.orders[orderId];
    var version = o ? o.version : (data.byOrder[orderId] || {}).version;
    if (version == null || !techId) return;
    var same = o && o.technician_id === techId;
    var on = localDay(new Date(time)), later = on !== localDay(new Date());
    var body = { technician_id: techId, before_order_id: stopAfter(techId, new Date(time), orderId), version: version,
      day: on };
    say("");
    return api("POST", "/api/orders/" + orderId + "/placement", body).then(function (res) {
      B.upsert(res.order);
      B.render();
      var at = null, position = 0;
      res.route.forEach(function (s, i) { if (s.order_id === orderId) { at = s.eta; position = i + 1; } });
      var tech = B.state.techs[techId];
      say(fill(same ? T.resequenced : T.placed, { number: res.order.number, position: position,
        name: tech ? tech.name : "#" + techId, eta: C.fmtTime(at, settings.timezone, later) }), "info"); // a later day: with its date
      soon(); // the drop's event redraws the rows; read them only if it did not come

    }).catch(function (err) {
      if (err.status === 409) {
        say(T.conflict + (err.message ? " (" + err.message + ")" : ""), "conflict");
        return B.refreshOrder(orderId).then(function () { B.render(); return load(true); });
      }
      say((err.status === 422 ? T.refused : T.error) + ": " + err.message, err.status === 422 ? "refused" : "error");
    });
  }
  /* An unassigned order from the queue: its row carries the order id (board.js makes it draggable). */
  var queue = document.getElementById("queue-list");
  if (queue) queue.addEventListener("dragstart", function (e) {
    var li = e.target && e.target.closest ? e.target.closest("li[data-order-id]") : null;
    if (!li || !li.draggable) return;
    var o = B.state.orders[Number(li.dataset.orderId)];
    // vis-timeline reads "text" as JSON and wants `content`; target "order" keeps it from adding an item itself.
    e.dataTransfer.setData("text", JSON.stringify({ content: o ? o.number : li.dataset.orderId, target: "order",
      orderId: Number(li.dataset.orderId) }));
    e.dataTransfer.effectAllowed = "move";
  });
  timeline.on("drop", function (props) {
    var dt = props.event && props.event.dataTransfer;
    var payload = null;
    try { payload = JSON.parse(dt.getData("text")); } catch (e) { payload = null; }
    if (!payload || payload.target !== "order" || props.group == null) return;
    place(payload.orderId, Number(props.group), props.time);
  });

  // --- pin / unpin: the selected block's "don't move" -------------------------------------------
  var pinBar = document.getElementById("timeline-pin");
  function showPinBar() {
    var ids = timeline.getSelection();
    var item = ids.length ? items.get(ids[0]) : null;
    var s = item && item.orderId != null ? data.byOrder[item.orderId] : null;
    C.clear(pinBar);
    pinBar.hidden = !s || !settings.can_act;
    if (pinBar.hidden) return;
    pinBar.appendChild(el("span", { class: "tl-selected" }, s.number));
    var b = el("button", { type: "button", id: "timeline-pin-button", "data-order-id": String(s.order_id) }, s.pinned ? T.unpin : T.pin);
    b.addEventListener("click", function () { pin(s.order_id, !s.pinned); });
    pinBar.appendChild(b);
  }
  function pin(orderId, pinned) {
    var o = B.state.orders[orderId];
    if (!o) return;
    api("POST", "/api/orders/" + orderId + "/pin", { pinned: pinned, version: o.version }).then(function (order) {
      B.upsert(order); B.render();
      soon(); // as after a drop: the event carries the row
    }).catch(function (err) {
      say((err.status === 409 ? T.conflict : T.error) + (err.message ? " (" + err.message + ")" : ""), "error");
      return B.refreshOrder(orderId).then(function () { return load(true); });
    }).then(showPinBar);
  }
  if (pinBar) timeline.on("select", showPinBar);
  window.dispatchTimeline.place = place;

  // --- a re-optimisation's preview: the ticked moves as ghost blocks in their new rows ---------
  /* board.js passes the ticked moves ({order_id, from, to, eta, until}); each shows as an outlined
   * block at its planned time in the new technician's row, the block it leaves is faded, and the
   * rows involved are marked. An empty list clears it. Kept across redraws until cleared. */
  var previewMoves = [];
  var marked = {};
  function drawPreview() {
    items.remove(items.getIds({ filter: function (i) { return !!i.ghost; } }));
    items.get({ filter: function (i) { return i.leaving; } }).forEach(function (i) {
      items.update({ id: i.id, leaving: false, className: i.className.replace(/ tl-leaving/g, "") });
    });
    var rows = {};
    previewMoves.forEach(function (m) {
      rows[m.to] = true;
      if (m.from != null) rows[m.from] = true;
      var o = B.state.orders[m.order_id];
      var number = o ? o.number : (data.byOrder[m.order_id] || {}).number || "";
      if (m.eta && m.until) {
        items.add({ id: "g" + m.order_id, ghost: true, group: m.to, start: m.eta, end: m.until, type: "range",
          content: el("span", { class: "tl-label", "data-order-id": String(m.order_id) }, "→ " + shortNumber(number)),
          className: "tl-ghost", editable: false, selectable: false, size: [labelPx(number) + 14, BLOCK_PX],
          title: (T.plan_ghost + " " + number + " · " + fmt(m.eta)).replace(/[<>&]/g, "") });
      }
      var cur = items.get("o" + m.order_id);
      if (cur) items.update({ id: cur.id, leaving: true, className: cur.className + " tl-leaving" });
    });
    Object.keys(marked).concat(Object.keys(rows)).forEach(function (id) {
      if (!groups.get(Number(id))) return;
      groups.update({ id: Number(id), className: rows[id] ? "tl-preview-row" : "" });
    });
    marked = rows;
    box.dataset.preview = String(previewMoves.length);
  }
  window.dispatchTimeline.preview = function (moves) { previewMoves = moves || []; drawPreview(); };
})();
