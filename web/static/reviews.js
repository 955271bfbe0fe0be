// The reviewer's small map: the order's address, the technician's check-in (with its
// accuracy) and, for managers, where each photo was taken. Data comes from the page's
// <script type="application/json" id="review-data"> block; nothing inline.
(function () {
  "use strict";
  var box = document.getElementById("review-map");
  var source = document.getElementById("review-data");
  if (!box || !source || typeof L === "undefined") return;
  var data = JSON.parse(source.textContent);
  var map = L.map(box, { zoomControl: true, attributionControl: !!data.tile_url });
  if (data.tile_url) L.tileLayer(data.tile_url, { maxZoom: 19, attribution: data.tile_attribution || "" }).addTo(map);
  var points = [];

  function mark(lat, lon, colour, label, kind) {
    var m = L.circleMarker([lat, lon], { radius: 8, color: "#fff", weight: 2, fillColor: colour, fillOpacity: 1,
      className: "review-marker marker-" + kind });
    m.bindTooltip(label).addTo(map);
    points.push([lat, lon]);
  }

  if (data.address) mark(data.address[0], data.address[1], "#1e73d8", data.strings.address, "address");
  if (data.checkin) {
    if (data.checkin[2]) {
      L.circle([data.checkin[0], data.checkin[1]], { radius: data.checkin[2], color: "#1f8a4c", weight: 1,
        fillOpacity: 0.1, interactive: false }).addTo(map);
    }
    mark(data.checkin[0], data.checkin[1], "#1f8a4c", data.strings.checkin, "checkin");
  }
  (data.photos || []).forEach(function (p) {
    mark(p.lat, p.lon, "#c0392b", data.strings.photo + " (#" + p.id + ")", "photo");
  });
  if (points.length > 1) map.fitBounds(L.latLngBounds(points).pad(0.25), { maxZoom: 18 });
  else if (points.length === 1) map.setView(points[0], 15);
  else map.setView([34.26, 108.94], 11);
  box.setAttribute("data-markers", String(points.length));
})();
