/* What the board (board.js) and the phone (tech.js) share: building DOM nodes, JSON calls
 * with the CSRF header, and times shown in the service area's zone. Loaded before either
 * script (a plain file, no inline code: the CSP allows scripts from this origin only); it
 * defines one global, `dispatchCommon`.
 */
(function () {
  "use strict";

  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var LANG = document.documentElement.lang || "en";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === "class") node.className = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  /* "14:05" (or "12/01 14:05" withDate) in `timeZone` (the app's APP_TIMEZONE), "—" for none. */
  var formats = {}; // one Intl formatter per zone and shape: toLocaleString builds one per call (the timeline makes thousands)
  function fmtTime(iso, timeZone, withDate) {
    if (!iso) return "—";
    var key = (timeZone || "") + "|" + (withDate ? 1 : 0);
    try {
      if (!formats[key]) {
        var opts = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: timeZone || undefined };
        if (withDate) { opts.month = "2-digit"; opts.day = "2-digit"; }
        formats[key] = new Intl.DateTimeFormat(LANG, opts);
      }
      return formats[key].format(new Date(iso));
    } catch (e) { return iso; }
  }
  /* A day ("2026-12-09") without its year as the user's language writes it: "Dec 9", "12月9日". */
  function fmtDay(isoDay) {
    if (!isoDay) return "—";
    try { return new Date(isoDay + "T12:00:00Z").toLocaleDateString(LANG, { month: "short", day: "numeric", timeZone: "UTC" }); } catch (e) { return isoDay; }
  }
  /* An error that never reached the server: `network` set (the phone queues the action). */
  function networkError(e) { var err = new Error(e && e.message || "network"); err.network = true; return err; }
  /* A JSON call with the session's cookie; resolves to the parsed body, rejects with an Error
   * carrying `status` and `data` (the server's JSON error) or `network` (no answer; a 503
   * "offline" from the phone's service worker counts as none). */
  function api(method, url, body, headers) {
    var opts = { method: method, credentials: "same-origin", headers: Object.assign({ "Accept": "application/json" }, headers || {}) };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRFToken"] = CSRF;
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).catch(function (e) { throw networkError(e); }).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!r.ok) {
          var err = new Error((data && data.message) || r.statusText);
          err.status = r.status; err.data = data; err.network = r.status === 503 && !!data && data.message === "offline";
          throw err;
        }
        return data;
      });
    });
  }

  window.dispatchCommon = { csrf: CSRF, lang: LANG, el: el, clear: clear, fmtTime: fmtTime, fmtDay: fmtDay, api: api, networkError: networkError };
})();
