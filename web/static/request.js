// The public request form: fill the hidden coordinates from the browser's location, so the
// server need not geocode the typed address.
(function () {
  var script = document.currentScript;
  var button = document.getElementById("use-location");
  var status = document.getElementById("location-status");
  var form = document.getElementById("request-form");
  if (!button || !form) return;
  if (!("geolocation" in navigator)) { button.hidden = true; return; }
  button.addEventListener("click", function () {
    status.textContent = script.dataset.locating;
    navigator.geolocation.getCurrentPosition(function (pos) {
      form.elements.lat.value = pos.coords.latitude.toFixed(6);
      form.elements.lon.value = pos.coords.longitude.toFixed(6);
      status.textContent = script.dataset.located;
      form.dispatchEvent(new Event("change"));  // the appointment slots (slots.js) follow the place
    }, function () {
      status.textContent = script.dataset.failed;
    }, { enableHighAccuracy: true, timeout: 10000 });
  });
})();
