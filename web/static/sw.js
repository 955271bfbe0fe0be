/* The technician app's service worker (served at /tech/sw.js, scope /tech).
 *
 * Static shell files (JS, CSS, the Socket.IO client, icons): from the cache at once — no
 * round trip on a slow line. The server names the cache after a hash of those files'
 * contents (web/pages/tech.py), so a deploy changes this script, the browser installs it,
 * and the new files replace the old ones on the next start.
 * The /tech page (it carries the user's settings and CSRF token) and the last
 * GET /api/tech/today answer: network first, the cached copy when the network fails.
 * Everything else (every write, Socket.IO, photos) passes straight through: actions taken
 * offline are queued by tech.js in IndexedDB, not here.
 */
"use strict";

var CACHE = "tech-shell-v1"; // replaced by "tech-shell-<content hash>" when served
var SHELL = ["/tech", "/static/common.js", "/static/tech.js", "/static/tech.css", "/static/app.css", "/static/vendor/socket.io.min.js",
  "/tech/manifest.webmanifest", "/static/tech-icon.svg"];
var CACHED_PATHS = {};
SHELL.forEach(function (p) { CACHED_PATHS[p] = true; });
CACHED_PATHS["/api/tech/today"] = true;
var STATIC_FIRST = {};
SHELL.forEach(function (p) { if (p.indexOf("/static/") === 0) STATIC_FIRST[p] = true; });

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      // One by one: a missing optional file must not fail the whole install.
      return Promise.all(SHELL.map(function (url) {
        return fetch(url, { credentials: "same-origin" }).then(function (r) {
          if (r.ok) return cache.put(url, r);
        }).catch(function () {});
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || !CACHED_PATHS[url.pathname]) return;
  var key = url.pathname; // the shell by path (static URLs carry no query worth keeping)
  if (STATIC_FIRST[key]) {
    event.respondWith(
      caches.open(CACHE).then(function (cache) {
        return cache.match(key).then(function (hit) {
          return hit || fetch(request).then(function (response) {
            if (response.ok && !response.redirected) cache.put(key, response.clone());
            return response;
          });
        });
      })
    );
    return;
  }
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok && !response.redirected) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(key, copy); });
      }
      return response;
    }).catch(function () {
      return caches.open(CACHE).then(function (cache) {
        return cache.match(key).then(function (hit) {
          if (hit) {
            // Marked, so that the page knows this is the last known copy, not the server's word.
            return hit.blob().then(function (body) {
              var headers = new Headers(hit.headers);
              headers.set("X-Served-From", "cache");
              return new Response(body, { status: 200, headers: headers });
            });
          }
          return new Response(JSON.stringify({ message: "offline", status: 503 }),
            { status: 503, headers: { "Content-Type": "application/json" } });
        });
      });
    })
  );
});
