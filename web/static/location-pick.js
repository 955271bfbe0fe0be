/* The address of an order and where it is: the hotline form and the order page's correction.
 *
 * "Find the address" asks the geocoder through GET /api/geocode and lists its candidates
 * (WGS-84); choosing one sets the position. Without a geocoder (or when it finds nothing) the
 * dispatcher clicks the map or drags the pin. The form's hidden lat/lon carry the position in
 * the datum named by its hidden coord_datum: a candidate's WGS-84, or a pick in the tiles'
 * datum (MAP_TILE_CRS), which the server converts to WGS-84 before storing it.
 * Settings ride in <script type="application/json" id="picker-settings">; nothing inline (CSP).
 */
(function () {
  "use strict";
  var box = document.querySelector("[data-location-picker]");
  if (!box) return;
  var C = window.dispatchCommon;
  var data = JSON.parse(document.getElementById("picker-settings").textContent);
  var T = data.strings;
  var form = box.closest("form");
  var latI = form.querySelector("input[name=lat]");
  var lonI = form.querySelector("input[name=lon]");
  var datumI = form.querySelector("input[name=coord_datum]");
  var addressI = form.querySelector("input[name=address]");
  var status = document.getElementById("pick-status");
  var list = document.getElementById("address-candidates");
  var searchBtn = document.getElementById("address-search");
  var toDisplay = window.mapCrs.toDisplay(data.tile_crs);
  var map = null, pin = null;

  function round(v) { return Math.round(v * 1e6) / 1e6; }
  function say(text) { status.textContent = text || ""; }

  if (typeof L !== "undefined") {
    map = L.map(document.getElementById("pick-map"), { zoomControl: true, attributionControl: !!data.tile_url });
    if (data.tile_url) {
      L.tileLayer(data.tile_url, { maxZoom: 19, subdomains: data.tile_subdomains, attribution: data.tile_attribution || "" }).addTo(map);
    }
    map.setView(data.centre, 11);
    map.on("click", function (e) { picked(e.latlng); });
  }
  /* The pin at a point in the map's own datum. */
  function placePin(latlng, zoom) {
    if (!map) return;
    if (pin) pin.setLatLng(latlng);
    else {
      pin = L.marker(latlng, { draggable: true, keyboard: true, title: T.pin, alt: T.pin,
        icon: L.divIcon({ className: "pick-pin", iconSize: null, html: "" }) });
      pin.on("dragend", function () { picked(pin.getLatLng()); });
      pin.addTo(map);
    }
    if (zoom) map.setView(latlng, Math.max(map.getZoom(), zoom));
    box.dataset.pin = round(latlng.lat) + "," + round(latlng.lng);
  }
  /* A click or a drag on the map: stored in the tiles' datum, converted by the server. */
  function picked(latlng) {
    latI.value = round(latlng.lat);
    lonI.value = round(latlng.lng);
    datumI.value = data.tile_crs;
    placePin(latlng);
    say(T.picked);
    changed();
  }
  /* The form's other parts (the appointment slots) follow the position through a change event. */
  function changed() {
    latI.dispatchEvent(new Event("change", { bubbles: true }));
  }
  /* A WGS-84 position (a geocoder's candidate, the customer's last address). */
  function setWgs(lat, lon, message) {
    latI.value = lat;
    lonI.value = lon;
    datumI.value = "wgs84";
    var shown = toDisplay(lat, lon);
    placePin(L.latLng(shown[0], shown[1]), 16);
    say(message);
    changed();
  }
  // A position the form already holds (a re-shown form, the order being corrected).
  if (latI.value && lonI.value && map) {
    var lat = parseFloat(latI.value), lon = parseFloat(lonI.value);
    if (!isNaN(lat) && !isNaN(lon)) {
      var p = (datumI.value || "wgs84") === "wgs84" ? toDisplay(lat, lon) : [lat, lon];
      placePin(L.latLng(p[0], p[1]), 15);
    }
  }
  // Typing a new address forgets the old position only when the dispatcher then searches again.
  function search() {
    var q = addressI.value.trim();
    if (!q) { addressI.focus(); return; }
    C.clear(list);
    list.hidden = true;
    say(T.searching);
    searchBtn.disabled = true;
    C.api("GET", "/api/geocode?q=" + encodeURIComponent(q)).then(function (res) {
      if (res.status === "not_found") { say(T.not_found); return; }
      if (res.status !== "ok") { say(T.unavailable); return; }
      if (res.items.length === 1) { choose(res.items[0]); return; }
      say(T.choose);
      res.items.forEach(function (c) {
        var li = C.el("li");
        var b = C.el("button", { type: "button", class: "candidate" }, c.address);
        b.addEventListener("click", function () { choose(c); });
        li.appendChild(b);
        list.appendChild(li);
      });
      list.hidden = false;
    }).catch(function () { say(T.unavailable); }).then(function () { searchBtn.disabled = false; });
  }
  function choose(c) {
    addressI.value = c.address;
    C.clear(list);
    list.hidden = true;
    setWgs(c.lat, c.lon, T.found);
  }
  if (searchBtn) {
    searchBtn.addEventListener("click", search);
    addressI.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); search(); } // Enter searches here, it does not submit
    });
  }
  box.dataset.ready = "1";
  window.locationPicker = { setWgs: setWgs, map: map, knownPosition: function () { return !!latI.value; } };
})();
