// The technician form's home base: a click on the map (or dragging the pin) fills the
// latitude and longitude fields; typing in them moves the pin. Tiles come from MAP_TILE_URL;
// with none configured the map is blank but clicking still works. Settings ride in the page's
// <script type="application/json" id="home-map-data"> block; nothing inline (CSP).
(function () {
  "use strict";
  var box = document.getElementById("home-map");
  var source = document.getElementById("home-map-data");
  var latInput = document.querySelector("input[name=home_lat]");
  var lonInput = document.querySelector("input[name=home_lon]");
  if (!box || !source || !latInput || !lonInput || typeof L === "undefined") return;
  var data = JSON.parse(source.textContent);

  var map = L.map(box, { zoomControl: true, attributionControl: !!data.tile_url });
  if (data.tile_url) L.tileLayer(data.tile_url, { maxZoom: 19, attribution: data.tile_attribution || "" }).addTo(map);
  var pin = null;

  function typed() {
    var lat = parseFloat(latInput.value), lon = parseFloat(lonInput.value);
    if (isNaN(lat) || isNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180) return null;
    return [lat, lon];
  }

  function round(v) {
    return Math.round(v * 1e6) / 1e6;
  }

  function place(latlng) {
    if (pin) {
      pin.setLatLng(latlng);
    } else {
      pin = L.marker(latlng, { draggable: true, keyboard: true, title: data.strings.home, alt: data.strings.home });
      pin.on("dragend", function () { fill(pin.getLatLng()); });
      pin.addTo(map);
    }
    box.setAttribute("data-pin", round(latlng.lat) + "," + round(latlng.lng));
  }

  function fill(latlng) {
    latInput.value = round(latlng.lat);
    lonInput.value = round(latlng.lng);
    latInput.dispatchEvent(new Event("change", { bubbles: true }));
    place(latlng);
  }

  var start = typed();
  if (start) {
    map.setView(start, 14);
    place(L.latLng(start[0], start[1]));
  } else {
    map.setView(data.centre, 11);
  }

  map.on("click", function (event) { fill(event.latlng); });
  [latInput, lonInput].forEach(function (input) {
    input.addEventListener("input", function () {
      var point = typed();
      if (!point) return;
      place(L.latLng(point[0], point[1]));
      map.panTo(point);
    });
  });
  box.setAttribute("data-ready", "1");
})();
