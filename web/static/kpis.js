// The manager's KPI page: the 12-month trend chart and the print button (no inline script).
(function () {
  // The admin's risk-watch thresholds: percentages on the form, shares (0–1) in the API; the
  // server checks every value and names the fields it refuses, shown beside each input.
  function riskForm(form) {
    if (!form) return;
    var message = document.getElementById("risk-form-message");
    var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = {};
      Array.prototype.forEach.call(form.querySelectorAll("input[name]"), function (input) {
        var v = input.value.trim() === "" ? null : Number(input.value);
        if (v !== null && input.hasAttribute("data-percent")) v = Math.round(v * 100) / 10000;
        body[input.name] = v;
      });
      Array.prototype.forEach.call(form.querySelectorAll("[data-error-for]"), function (n) { n.textContent = ""; });
      if (message) message.textContent = "";
      fetch(form.dataset.api, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(body)
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (res) {
          if (r.ok) { window.location.reload(); return; }
          var fields = (res.detail && res.detail.json) || {};
          Object.keys(fields).forEach(function (name) {
            var slot = form.querySelector('[data-error-for="' + name + '"]');
            var text = [].concat(fields[name]).join(" ");
            if (slot) slot.textContent = text; else if (message) message.textContent += name + ": " + text + " ";
          });
          if (message && !Object.keys(fields).length) message.textContent = res.message || r.statusText;
        });
      }).catch(function (err) { if (message) message.textContent = String(err); });
    });
  }
  var print = document.getElementById("print");
  if (print) print.addEventListener("click", function () { window.print(); });
  riskForm(document.getElementById("risk-form"));
  var data = JSON.parse(document.getElementById("trend-data").textContent);
  var canvas = document.getElementById("trend");
  if (!canvas || typeof Chart === "undefined") return;
  var keys = ["completion_24h_rate", "satisfaction_rate", "compliance_rate", "authenticity_rate"];
  var colours = ["#0b6bcb", "#2e7d32", "#b26a00", "#7b1fa2"];
  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.trend.map(function (m) { return m.month; }),
      datasets: keys.map(function (k, i) {
        return {
          label: data.labels[k], borderColor: colours[i], backgroundColor: colours[i], spanGaps: true,
          data: data.trend.map(function (m) { return m[k] == null ? null : Math.round(m[k] * 1000) / 10; })
        };
      })
    },
    options: { animation: false, scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + " %"; } } } } }
  });
})();
