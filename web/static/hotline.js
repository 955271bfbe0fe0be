/* The hotline form's caller lookup: the phone number finds the customer (GET /api/customers),
 * fills in their name and last address (and its position) where the dispatcher has typed
 * nothing yet, and lists their earlier orders. Strings come from #caller-settings. */
(function () {
  "use strict";
  var button = document.getElementById("caller-lookup");
  if (!button) return;
  var C = window.dispatchCommon;
  var settings = JSON.parse(document.getElementById("caller-settings").textContent);
  var T = settings.strings;
  var form = document.getElementById("hotline-form");
  var phone = form.querySelector("input[name=phone]");
  var name = form.querySelector("input[name=name]");
  var address = form.querySelector("input[name=address]");
  var box = document.getElementById("caller-box");
  var status = document.getElementById("caller-status");
  var table = document.getElementById("caller-history");
  var tbody = table.querySelector("tbody");
  var looked = "", asked = 0;

  function fmtDate(iso) {
    try {
      return new Date(iso).toLocaleString(C.lang, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
        minute: "2-digit", hourCycle: "h23", timeZone: settings.timezone });
    } catch (e) { return iso; }
  }
  function lookup() {
    var number = phone.value.trim();
    if (number.replace(/\D/g, "").length < 5 || number === looked) return;
    looked = number;
    box.hidden = false;
    status.textContent = T.looking;
    C.clear(tbody);
    table.hidden = true;
    var mine = ++asked; // only the latest lookup's answer is shown
    C.api("GET", "/api/customers?per_page=10&phone=" + encodeURIComponent(number)).then(function (c) {
      if (mine !== asked) return;
      C.clear(tbody);
      if (!name.value.trim()) name.value = c.name || "";
      if (!address.value.trim() && c.address) {
        address.value = c.address;
        if (c.lat != null && c.lon != null && window.locationPicker && !window.locationPicker.knownPosition()) {
          window.locationPicker.setWgs(c.lat, c.lon, document.getElementById("picker-settings") ?
            JSON.parse(document.getElementById("picker-settings").textContent).strings.known : "");
        }
      }
      status.textContent = T.known;
      c.orders.forEach(function (o) {
        var tr = C.el("tr");
        var td = C.el("td");
        td.appendChild(C.el("a", { href: "/orders/" + o.id, target: "_blank", rel: "noopener" }, o.number));
        tr.appendChild(td);
        tr.appendChild(C.el("td", null, fmtDate(o.created_at)));
        tr.appendChild(C.el("td", null, settings.status[o.status] || ""));
        tr.appendChild(C.el("td", null, o.address || ""));
        tbody.appendChild(tr);
      });
      table.hidden = !c.orders.length;
    }).catch(function (err) {
      if (mine !== asked) return;
      if (err.status === 404) status.textContent = T.new_caller;
      else if (err.status === 400) { status.textContent = T.bad_phone; looked = ""; }
      else { status.textContent = T.error; looked = ""; }
    });
  }
  button.addEventListener("click", function () { if (phone.value.trim() !== looked) lookup(); });
  phone.addEventListener("change", lookup);
})();
