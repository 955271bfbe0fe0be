/* The timeline's days in the service area's zone (APP_TIMEZONE), and its first read of them,
 * asked for as soon as the page starts (from its <head>, before the stylesheets): before the
 * board's scripts and the timeline's libraries load (vis-timeline alone takes a while to parse),
 * so the days are in when timeline.js is.
 * timeline.js takes that answer when the window it opens on asks for the same days. */
(function () {
  "use strict";

  // Loaded from the page's <head>: its own data attributes say where and in which zone.
  var script = document.currentScript;
  var url = script && script.dataset.api; // GET /api/timeline
  var timezone = script && script.dataset.timezone;
  var C = window.dispatchCommon;
  if (!url || !timezone || !C) return;
  var settings = { timezone: timezone };
  var HOUR = 3600000, DAY = 24 * HOUR;

  function zoneOffsetMinutes(timeZone, at) {
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-US", { timeZone: timeZone, hourCycle: "h23", year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
        .formatToParts(at).forEach(function (p) { parts[p.type] = p.value; });
      var local = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
      return Math.round((local - Math.floor(at.getTime() / 1000) * 1000) / 60000);
    } catch (e) { return -new Date().getTimezoneOffset(); }
  }
  var OFFSET = zoneOffsetMinutes(settings.timezone, new Date());
  function localDay(date) { // "2026-12-07" in the service area's zone
    return new Date(date.getTime() + OFFSET * 60000).toISOString().slice(0, 10);
  }
  function dayStart(isoDay) { return new Date(Date.parse(isoDay + "T00:00:00Z") - OFFSET * 60000); }
  /* The days a window from `start` to `end` covers, as GET /api/timeline takes them (at most a week). */
  function span(start, end) {
    var first = localDay(start);
    return { first: first, days: Math.min(7, Math.max(1, Math.ceil((end - dayStart(first)) / DAY))) };
  }
  function read(s) { return C.api("GET", url + "?date=" + s.first + "&days=" + s.days); }

  var now = Date.now();
  var opening = { start: new Date(now - 2 * HOUR), end: new Date(now + 10 * HOUR) };
  var early = { span: span(opening.start, opening.end) };
  early.answer = read(early.span);
  early.answer.catch(function () {}); // reported by timeline.js when it takes the answer

  window.dispatchTimelineDays = {
    HOUR: HOUR, DAY: DAY, OFFSET: OFFSET, localDay: localDay, dayStart: dayStart, span: span, read: read,
    opening: opening,
    /* The early read's answer once, when `s` asks for the same days; null otherwise. */
    take: function (s) {
      var e = early;
      early = null;
      return e && e.span.first === s.first && e.span.days === s.days ? e.answer : null;
    },
  };
})();
