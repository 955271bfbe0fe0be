/* The technician's app service worker (served at /tech/sw.js, scope /tech).
 *
 * Static shell files (JS, CSS, the Socket.IO client, icons): from the cache at once — no
 * round trip on a slow line. The server names the cache after a hash of those files'
 * contents (web/pages/tech.py), so a deploy changes this script, the browser installs it,
 * and the new files replace the old ones on the next start.
 * The /tech page (it carries the user's settings and CSRF token) and the last
 * GET /api/tech/today answer are personal: network first, the kept copy when the network
 * fails. They live in their own cache, which holds ONE user's copies: the server names the
 * user on each (X-Tech-User, web/auth.py), a copy for another user empties the cache first,
 * and an answer saying nobody is signed in (a redirect to the login page, 401, 403) empties
 * it too. Logging out clears it as well (Clear-Site-Data, and tech.js for browsers without it),
 * so a shared phone never shows one technician's customers to the next.
 * Everything else (every write, Socket.IO, photos) passes straight through: actions taken
 * offline are queued by tech.js in IndexedDB, not here.
 */
"use strict";

var CACHE = "tech-shell-v1"; // replaced by "tech-shell-<content hash>" when served
var PERSONAL = "tech-personal"; // also named in tech.js (cleared on logout)
var OWNER_KEY = "/tech/__owner__"; // which user the personal copies belong to
var SHELL = ["/static/common.js", "/static/tech.js", "/static/tech.css", "/static/app.css", "/static/vendor/socket.io.min.js",
  "/tech/manifest.webmanifest", "/static/tech-icon.svg"];
var PERSONAL_PATHS = { "/tech": true, "/api/tech/today": true };
var CACHED_PATHS = {};
SHELL.forEach(function (p) { CACHED_PATHS[p] = true; });
Object.keys(PERSONAL_PATHS).forEach(function (p) { CACHED_PATHS[p] = true; });
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
      }).concat([
        // The page that registered this worker, for a start without a connection (its user's copy).
        fetch("/tech", { credentials: "same-origin" }).then(function (r) {
          if (r.ok && !r.redirected) return keepPersonal("/tech", r);
        }).catch(function () {})
      ]));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k !== CACHE && k !== PERSONAL; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

// Personal copies are written one at a time, so two answers for a new user cannot empty the
// cache under each other.
var personalWrites = Promise.resolve();

function keepPersonal(key, response) {
  var owner = response.headers.get("X-Tech-User");
  personalWrites = personalWrites.then(function () {
    if (!owner) return caches.delete(PERSONAL); // not a signed-in user's answer: keep no one's
    return caches.open(PERSONAL).then(function (cache) {
      return cache.match(OWNER_KEY).then(function (hit) { return hit ? hit.text() : null; }).then(function (previous) {
        if (previous === owner) return cache;
        // Another user on this phone: the previous one's copies go before this one's are kept.
        return caches.delete(PERSONAL).then(function () { return caches.open(PERSONAL); }).then(function (fresh) {
          return fresh.put(OWNER_KEY, new Response(owner)).then(function () { return fresh; });
        });
      }).then(function (c) { return c.put(key, response); });
    });
  }).catch(function () {});
  return personalWrites;
}

function forgetPersonal() {
  personalWrites = personalWrites.then(function () { return caches.delete(PERSONAL); }).catch(function () {});
  return personalWrites;
}

// The server's way of saying nobody (or somebody without the app's role) is signed in here:
// a redirect to the login page (a navigation sees it as an opaque redirect), 401 or 403.
function signedOut(response) {
  return response.type === "opaqueredirect" || response.redirected || response.status === 401 || response.status === 403;
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || !CACHED_PATHS[url.pathname]) return;
  var key = url.pathname; // by path (static URLs carry no query worth keeping)
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
  var personal = PERSONAL_PATHS[key];
  var store = personal ? PERSONAL : CACHE;
  event.respondWith(
    fetch(request).then(function (response) {
      if (personal) {
        if (response.ok && !response.redirected) event.waitUntil(keepPersonal(key, response.clone()));
        else if (signedOut(response)) event.waitUntil(forgetPersonal());
      } else if (response.ok && !response.redirected) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(key, copy); });
      }
      return response;
    }).catch(function () {
      return caches.open(store).then(function (cache) {
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
