/* WGS-84 positions (what the server stores) into the datum of the map's tiles, for display.
 *
 * Chinese map services draw in GCJ-02 (AMap, Tencent) or BD-09 (Baidu); a WGS-84 point drawn
 * as-is on their tiles lands 300-600 m off. The forward formulas are closed-form, so they are
 * ported here (the same constants as prcoords, the server's library; tests/unit/test_map_crs.py
 * compares the two). The way back is iterative and done on the server: a pick on the map is sent
 * with its datum (`coord_datum`) and prcoords converts it to WGS-84 before it is stored.
 * Defines one global, `mapCrs` (also a CommonJS module, for the unit test under node).
 */
(function (root) {
  "use strict";
  var PI = Math.PI, A = 6378245.0, EE = 0.00669342162296594323;

  function outOfChina(lat, lon) { return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271; }
  function tLat(x, y) {
    var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
    r += (20 * Math.sin(y * PI) + 40 * Math.sin(y / 3 * PI)) * 2 / 3;
    r += (160 * Math.sin(y / 12 * PI) + 320 * Math.sin(y * PI / 30)) * 2 / 3;
    return r;
  }
  function tLon(x, y) {
    var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
    r += (20 * Math.sin(x * PI) + 40 * Math.sin(x / 3 * PI)) * 2 / 3;
    r += (150 * Math.sin(x / 12 * PI) + 300 * Math.sin(x / 30 * PI)) * 2 / 3;
    return r;
  }
  function wgsToGcj(lat, lon) {
    if (outOfChina(lat, lon)) return [lat, lon];
    var dLat = tLat(lon - 105, lat - 35), dLon = tLon(lon - 105, lat - 35);
    var radLat = lat / 180 * PI, magic = Math.sin(radLat);
    magic = 1 - EE * magic * magic;
    var sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180) / ((A * (1 - EE)) / (magic * sqrtMagic) * PI);
    dLon = (dLon * 180) / (A / sqrtMagic * Math.cos(radLat) * PI);
    return [lat + dLat, lon + dLon];
  }
  function gcjToBd(lat, lon) {
    var x = lon, y = lat;
    var z = Math.sqrt(x * x + y * y) + 0.00002 * Math.sin(y * PI * 3000 / 180);
    var theta = Math.atan2(y, x) + 0.000003 * Math.cos(x * PI * 3000 / 180);
    return [z * Math.sin(theta) + 0.006, z * Math.cos(theta) + 0.0065];
  }
  /* A function [lat, lon] (WGS-84) -> [lat, lon] in `crs` ("wgs84", "gcj02" or "bd09"). */
  function toDisplay(crs) {
    if (crs === "gcj02") return function (lat, lon) { return wgsToGcj(lat, lon); };
    if (crs === "bd09") return function (lat, lon) { var g = wgsToGcj(lat, lon); return gcjToBd(g[0], g[1]); };
    return function (lat, lon) { return [lat, lon]; };
  }
  var api = { wgsToGcj: wgsToGcj, gcjToBd: gcjToBd, toDisplay: toDisplay };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.mapCrs = api;
})(this);
