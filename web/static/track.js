/* The customer's tracking page, kept live over Socket.IO (no login: the link's token is
 * presented when joining). The server sends only this order's public fields: status, the
 * technician's family name and the ETA. When what the customer may do changes (reschedule,
 * cancel, the survey), the page reloads to show the right forms.
 * All text goes through textContent; labels come translated from #track-data. */
(function () {
  "use strict";
  var dataEl = document.getElementById("track-data");
  if (!dataEl || typeof io === "undefined") return;
  var data = JSON.parse(dataEl.textContent);
  var state = data.state;
  var FORMS = ["can_reschedule", "can_cancel", "survey_open"];

  function show(id, on) {
    var el = document.getElementById(id);
    if (el) el.hidden = !on;
  }

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text || "";
  }

  function apply(update) {
    if (!update) return;
    for (var i = 0; i < FORMS.length; i++) {
      if (update[FORMS[i]] !== state[FORMS[i]]) {
        window.location.reload();
        return;
      }
    }
    var badge = document.getElementById("track-status");
    if (badge) {
      badge.textContent = data.labels[update.status] || update.status;
      badge.className = "badge " + update.status;
    }
    if (data.stages) setText("track-stage", data.stages[update.status]);
    const part = document.getElementById("track-part");
    if (part && update.status !== "waiting_parts") part.hidden = true;
    setText("track-technician", update.technician);
    show("track-technician-label", !!update.technician);
    show("track-technician", !!update.technician);
    // The planned day and window ("tomorrow, 09:00–11:00"), worded with the page's own words.
    var visit = update.visit_day && data.visit_format
      ? data.visit_format.replace("%(day)s", data.days[update.visit_day] || update.visit_day)
          .replace("%(start)s", update.visit_from).replace("%(end)s", update.visit_to)
      : "";
    if (document.getElementById("track-visit")) {
      setText("track-visit", visit);
      show("track-visit-label", !!visit);
      show("track-visit", !!visit);
    }
    setText("track-eta", update.eta_local);
    show("track-eta-label", !!update.eta_local);
    show("track-eta", !!update.eta_local);
    document.body.dataset.trackStatus = update.status;
    document.body.dataset.trackEta = update.eta || "";
    document.body.dataset.trackLive = update.live ? "1" : "";  // the ETA follows the technician's position
    state = update;
  }

  var socket = io("/track", { auth: { token: data.token }, transports: ["websocket", "polling"] });
  socket.on("connect", function () {
    document.body.dataset.live = "1";
    show("track-live", true);
    // Catch up on anything committed between the page load and the join.
    socket.emit("refresh", data.token, apply);
  });
  socket.on("disconnect", function () {
    document.body.dataset.live = "0";
    show("track-live", false);
  });
  socket.on("connect_error", function () {
    document.body.dataset.live = "refused";
  });
  socket.on("tracking", apply);
})();
