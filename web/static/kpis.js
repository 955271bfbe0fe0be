// The manager's KPI page: the 12-month trend chart and the print button (no inline script).
(function () {
  var print = document.getElementById("print");
  if (print) print.addEventListener("click", function () { window.print(); });
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
