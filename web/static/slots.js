/* The appointment slots on an intake form: asks /api/slots (POST) for the times the plan can
 * keep at the form's place, for its appliance (skill) and issue, and offers them as radio
 * buttons named "slot", in time order, each marked recommended/good/possible by what it costs
 * the plan. Every word comes translated from the fieldset's data attributes; text goes through
 * textContent. Without a place (no location yet) the fieldset says how to get one. */
(function () {
  "use strict";
  var box = document.getElementById("slots");
  if (!box || !window.fetch) return;
  var form = box.form || box.closest("form");
  var list = document.getElementById("slot-list");
  var status = document.getElementById("slot-status");
  var d = box.dataset;
  var days = JSON.parse(d.days || "{}");
  var last = "";

  function val(name) {
    var el = form.elements[name];
    return el && el.value ? String(el.value).trim() : "";
  }

  function words(slot) {
    // The server sends local times with their offset: 2030-03-07T09:00:00+08:00.
    var day = slot.start.slice(0, 10);
    return d.format.replace("%(day)s", days[day] || day)
      .replace("%(start)s", slot.start.slice(11, 16)).replace("%(end)s", slot.end.slice(11, 16));
  }

  function option(value, text, badge, checked) {
    var label = document.createElement("label");
    var input = document.createElement("input");
    input.type = "radio";
    input.name = "slot";
    input.value = value;
    input.checked = !!checked;
    var span = document.createElement("span");
    span.textContent = text;
    label.appendChild(input);
    label.appendChild(span);
    if (badge) {
      var b = document.createElement("em");
      b.className = "slot-label " + badge;
      b.textContent = d[badge];
      span.appendChild(document.createTextNode(" "));
      span.appendChild(b);
    }
    return label;
  }

  function render(body) {
    var chosen = (form.querySelector("input[name=slot]:checked") || {}).value || "";
    var items = (body.items || []).slice().sort(function (a, b) { return a.start < b.start ? -1 : 1; });
    list.textContent = "";
    status.textContent = items.length ? "" : d.none;
    if (!items.length) return;
    list.appendChild(option("", d.anytime, null, !chosen));
    items.forEach(function (s) {
      list.appendChild(option(s.start, words(s), s.label, s.start === chosen));
    });
  }

  function load() {
    var lat = val("lat"), lon = val("lon"), skill = val("required_skill") || val("product_category");
    if (!lat || !lon || !skill) {
      list.textContent = "";
      status.textContent = d.hint;
      last = "";
      return;
    }
    var body = { lat: Number(lat), lon: Number(lon), skill: skill, category: val("issue_category") || "repair" };
    var key = JSON.stringify(body);
    if (key === last) return;
    last = key;
    status.textContent = d.loading;
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    if (form.elements.csrf_token) headers["X-CSRFToken"] = form.elements.csrf_token.value;
    fetch(d.url, { method: "POST", headers: headers, credentials: "same-origin", body: key })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r); })
      .then(function (b) { if (key === last) render(b); })
      .catch(function () { if (key === last) { list.textContent = ""; status.textContent = d.failed; } });
  }

  form.addEventListener("change", function (e) {
    if (e.target && e.target.name !== "slot") load();
  });
  load();
})();
