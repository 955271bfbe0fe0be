/* The board's map: orders clustered (leaflet.markercluster), technicians, the lines from each
 * technician to the orders they hold, and one technician's route.
 *
 * Markers are kept by id and updated in place (setLatLng, setIcon, the tooltip's text) when the
 * board redraws; a filter or a search adds markers to the cluster group or takes them out of it,
 * nothing is cleared and redrawn. Positions arrive in WGS-84 and are drawn in the tiles' datum
 * (MAP_TILE_CRS, through map-crs.js). Used by board.js: `window.createBoardMap(settings, onOrder)`.
 */
(function () {
  "use strict";

  window.createBoardMap = function (settings, onOrderClick) {
    if (typeof L === "undefined" || !document.getElementById("board-map")) return null;
    var toDisplay = window.mapCrs.toDisplay(settings.tile_crs);
    var map = L.map("board-map", { zoomControl: true, maxZoom: 19, attributionControl: !!settings.tile_url }).setView(settings.centre || [34.26, 108.94], 11);
    if (settings.tile_url) {
      L.tileLayer(settings.tile_url, { maxZoom: 19, subdomains: settings.tile_subdomains || "abc",
        attribution: settings.tile_attribution || "" }).addTo(map);
    }
    var lineLayer = L.layerGroup().addTo(map);
    var routeLayer = L.layerGroup().addTo(map);
    var cluster = L.markerClusterGroup
      ? L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40, spiderfyOnMaxZoom: true,
          disableClusteringAtZoom: 17, chunkedLoading: true })
      : L.featureGroup(); // without the plugin: the same markers, unclustered
    cluster.addTo(map);
    var techLayer = L.layerGroup().addTo(map);
    var orders = new Map(); // order id -> { marker, look, lat, lon, shown, line }
    var techs = new Map(); // technician id -> { marker, name, lat, lon }

    function ll(lat, lon) { var p = toDisplay(lat, lon); return L.latLng(p[0], p[1]); }
    function text(value) { var span = document.createElement("span"); span.textContent = value; return span; }

    /* Draw `list` (the orders that pass the filters) and `techList`; `view` judges each order:
     * { atRisk(o), selected, label(o), lineFrom(o) -> technician or null }. */
    function update(list, techList, view) {
      var keep = new Set();
      var toAdd = [], toRemove = [];
      list.forEach(function (o) {
        if (o.lat == null || o.lon == null) return;
        keep.add(o.id);
        var risk = view.atRisk(o);
        var look = "order-marker status-" + o.status + (risk ? " at-risk" : "") + (view.selected === o.id ? " selected" : "");
        var entry = orders.get(o.id);
        if (!entry) {
          var marker = L.marker(ll(o.lat, o.lon), { icon: L.divIcon({ className: look, iconSize: null, html: "" }),
            keyboard: false, riseOnHover: true });
          marker.bindTooltip(text(view.label(o)));
          marker.on("click", function () { onOrderClick(o.id); });
          entry = { marker: marker, look: look, lat: o.lat, lon: o.lon, shown: false, line: null, label: view.label(o) };
          orders.set(o.id, entry);
        } else {
          if (entry.lat !== o.lat || entry.lon !== o.lon) {
            entry.lat = o.lat; entry.lon = o.lon;
            entry.marker.setLatLng(ll(o.lat, o.lon));
          }
          if (entry.look !== look) { entry.look = look; entry.marker.setIcon(L.divIcon({ className: look, iconSize: null, html: "" })); }
          var label = view.label(o);
          if (entry.label !== label) { entry.label = label; entry.marker.setTooltipContent(text(label)); }
        }
        entry.marker.options.zIndexOffset = view.selected === o.id ? 1000 : 0;
        if (!entry.shown) { toAdd.push(entry.marker); entry.shown = true; }
        var t = view.lineFrom(o);
        if (t && t.lat != null) {
          var path = [ll(t.lat, t.lon), ll(o.lat, o.lon)];
          if (entry.line) entry.line.setLatLngs(path);
          else entry.line = L.polyline(path, { color: "#1e73d8", weight: 1.5, opacity: 0.55, dashArray: "4 4", interactive: false,
            className: "hold-line" }).addTo(lineLayer);
        } else if (entry.line) { lineLayer.removeLayer(entry.line); entry.line = null; }
      });
      orders.forEach(function (entry, id) {
        if (keep.has(id)) return;
        if (entry.shown) { toRemove.push(entry.marker); entry.shown = false; }
        if (entry.line) { lineLayer.removeLayer(entry.line); entry.line = null; }
        if (!view.exists(id)) orders.delete(id); // gone from the board: forget it
      });
      if (toRemove.length) cluster.removeLayers ? cluster.removeLayers(toRemove) : toRemove.forEach(function (m) { cluster.removeLayer(m); });
      if (toAdd.length) cluster.addLayers ? cluster.addLayers(toAdd) : toAdd.forEach(function (m) { cluster.addLayer(m); });

      var seen = new Set();
      techList.forEach(function (t) {
        if (t.lat == null) return;
        seen.add(t.id);
        var entry = techs.get(t.id);
        if (!entry) {
          var m = L.circleMarker(ll(t.lat, t.lon), { radius: 7, color: "#fff", weight: 2, fillColor: "#12263f", fillOpacity: 1,
            className: "tech-marker" });
          m.bindTooltip(text(t.name), { className: "tech-label" });
          m.on("click", function () { if (view.onTech) view.onTech(t.id); });
          m.addTo(techLayer);
          techs.set(t.id, { marker: m, name: t.name, lat: t.lat, lon: t.lon });
          return;
        }
        if (entry.lat !== t.lat || entry.lon !== t.lon) { entry.lat = t.lat; entry.lon = t.lon; entry.marker.setLatLng(ll(t.lat, t.lon)); }
        if (entry.name !== t.name) { entry.name = t.name; entry.marker.setTooltipContent(text(t.name)); }
        if (!techLayer.hasLayer(entry.marker)) techLayer.addLayer(entry.marker);
      });
      techs.forEach(function (entry, id) { if (!seen.has(id)) techLayer.removeLayer(entry.marker); });
    }

    /* Pan and zoom to an order (out of its cluster if need be). */
    function focusOrder(id) {
      var entry = orders.get(id);
      if (!entry || !entry.shown) return;
      if (map._animatingZoom) { map.once("zoomend", function () { focusOrder(id); }); return; }  // see fit()
      if (cluster.zoomToShowLayer) {
        cluster.zoomToShowLayer(entry.marker, function () {
          if (map.getZoom() < 15) map.setView(entry.marker.getLatLng(), 15);
          else map.panTo(entry.marker.getLatLng());
        });
      } else map.setView(entry.marker.getLatLng(), Math.max(map.getZoom(), 15));
    }

    /* One technician's day: from where they are (`start`, WGS-84) through `points` in visiting order. */
    function showRoute(start, points) {
      routeLayer.clearLayers();
      var path = (start ? [start] : []).concat(points || []).map(function (p) { return ll(p[0], p[1]); });
      if (!path.length) return;
      if (path.length > 1) L.polyline(path, { color: "#12263f", weight: 3, opacity: 0.8, className: "tech-route" }).addTo(routeLayer);
      path.forEach(function (p, i) {
        if (i === 0 && start) return;
        L.circleMarker(p, { radius: 11, color: "#12263f", weight: 2, fill: false, interactive: false, className: "route-stop" }).addTo(routeLayer);
      });
      map.fitBounds(L.latLngBounds(path).pad(0.2), { maxZoom: 15 });
    }

    /* Show all these WGS-84 points. */
    function fit(points) {
      if (!points.length) return false;
      // Not animated: the board opens on its city, and an order selected at once is not
      // overtaken by a zoom still under way (Leaflet drops a setView during a zoom animation).
      map.fitBounds(L.latLngBounds(points.map(function (p) { return ll(p[0], p[1]); })).pad(0.1), { maxZoom: 14, animate: false });
      return true;
    }

    return { map: map, update: update, focusOrder: focusOrder, showRoute: showRoute, fit: fit,
      markers: function () { return orders; }, cluster: cluster,
      // A WGS-84 position as the tiles draw it (MAP_TILE_CRS), for layers drawn beside the map's own.
      latLng: ll };
  };
})();
