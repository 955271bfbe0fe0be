// The manager's KPI page: its pictures (ECharts, kpi-charts.js), the risk thresholds' form and the
// print button (no inline script).
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

  // The pictures (ECharts from npm, web/static/vendor; the Chinese locale in zh). Canvas renderer:
  // it styles its elements through the CSSOM, which the CSP allows (no style attributes, no <style>).
  // A click on a bar opens the drill-down of exactly the orders behind it.
  function charts(data) {
    if (!data || typeof echarts === "undefined") return;
    var keys = ["completion_24h_rate", "satisfaction_rate", "compliance_rate", "authenticity_rate"];
    var colours = ["#0b6bcb", "#2e7d32", "#b26a00", "#7b1fa2"];
    var pct = new Intl.NumberFormat(data.lang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
    var axisPct = new Intl.NumberFormat(data.lang, { style: "percent", maximumFractionDigits: 0 });
    var count = new Intl.NumberFormat(data.lang);
    var dayName = new Intl.DateTimeFormat(data.lang, { month: "short", day: "numeric", timeZone: "UTC" });
    var monthName = new Intl.DateTimeFormat(data.lang, { year: "numeric", month: "short", timeZone: "UTC" });
    var esc = echarts.format.encodeHTML;
    var made = [];

    function drill(params) {
      var q = ["month=" + encodeURIComponent(data.month)];
      Object.keys(params).forEach(function (k) { q.push(k + "=" + encodeURIComponent(params[k])); });
      return data.drill + "?" + q.join("&");
    }
    function go(url) { window.location.assign(url); }
    function percent(v) { return v == null ? "—" : pct.format(v); }
    // The tooltip's lines as text, escaped (names are people's input); no inline styles (CSP).
    function tooltip(params) {
      params = [].concat(params);
      var lines = [esc(params[0].name)];
      params.forEach(function (p) {
        var v = Array.isArray(p.value) ? p.value[1] : p.value;
        var shown = p.seriesId === "orders" || p.seriesId === "count" ? count.format(v || 0) : percent(v);
        if (v != null) lines.push(esc(p.seriesName) + ": " + shown);
      });
      return lines.join("<br>");
    }
    function base(name) {
      return {
        animation: false,
        aria: { enabled: true },
        color: colours,
        textStyle: { fontFamily: "inherit" },
        grid: { left: 8, right: 16, top: 44, bottom: 60, containLabel: true },
        tooltip: { trigger: "axis", confine: true, formatter: tooltip },
        toolbox: { right: 4, top: 0, feature: { saveAsImage: { name: name + "-" + data.month, pixelRatio: 2 } } },
        legend: { bottom: 0, left: "center", itemGap: 12, itemWidth: 16, itemHeight: 10 }  // wraps on a narrow card
      };
    }
    function chart(id, option, height) {
      var el = document.getElementById(id);
      if (!el) return null;
      if (height) el.style.height = height + "px";  // CSSOM, not a style attribute: the CSP allows it
      var c = echarts.init(el, null, { renderer: "canvas", locale: data.locale });
      c.setOption(option);
      made.push(c);
      return c;
    }
    function empty(id, text) {
      var el = document.getElementById(id);
      if (!el) return;
      el.classList.add("empty");
      el.textContent = text;
    }
    var rateAxis = { type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return axisPct.format(v); } } };

    // Outlets side by side: the four rates per outlet; a bar opens that outlet's failing orders of that figure.
    if (data.outlets.length) {
      var outlets = chart("chart-outlets", Object.assign(base("kpi-outlets"), {
        xAxis: { type: "category", data: data.outlets.map(function (o) { return o.name; }), axisLabel: { interval: 0, hideOverlap: true } },
        yAxis: rateAxis,
        series: keys.map(function (k) {
          return { id: k, name: data.figures[k], type: "bar", cursor: "pointer", data: data.outlets.map(function (o) { return o[k]; }) };
        })
      }));
      outlets.on("click", function (p) {
        if (p.componentType !== "series") return;
        go(drill({ kpi: data.kpi_of[p.seriesId], outlet_id: data.outlets[p.dataIndex].key, outcome: "failed" }));
      });
    } else empty("chart-outlets", data.words.none);

    // Technicians ranked by 24-hour completion, best on top; a bar opens the technician's failing orders.
    if (data.ranking.length) {
      var ranked = data.ranking.slice().reverse();  // a category axis runs bottom-up
      var ranking = chart("chart-ranking", Object.assign(base("kpi-technicians"), {
        legend: { show: false },
        grid: { left: 8, right: 56, top: 44, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true, formatter: tooltip },
        xAxis: rateAxis,
        yAxis: { type: "category", data: ranked.map(function (t) { return t.name; }), axisLabel: { interval: 0 } },
        series: [{
          id: "completion_24h_rate", name: data.figures.completion_24h_rate, type: "bar", cursor: "pointer",
          data: ranked.map(function (t) { return t.completion_24h_rate; }),
          label: { show: true, position: "right", formatter: function (p) { return percent(p.value); } }
        }]
      }), Math.max(240, ranked.length * 24 + 60));
      ranking.on("click", function (p) {
        if (p.componentType !== "series") return;
        go(drill({ kpi: "completion_24h", technician_id: ranked[p.dataIndex].key, outcome: "failed" }));
      });
    } else empty("chart-ranking", data.words.none);

    // The trend over the months that have orders; a point opens that month's page.
    if (data.trend.length) {
      var trend = chart("chart-trend", Object.assign(base("kpi-trend"), {
        xAxis: { type: "category", data: data.trend.map(function (m) { return monthName.format(new Date(m.month + "-01T00:00:00Z")); }) },
        yAxis: rateAxis,
        series: keys.map(function (k) {
          return { id: k, name: data.figures[k], type: "line", symbolSize: 8, cursor: "pointer", data: data.trend.map(function (m) { return m[k]; }) };
        })
      }));
      trend.on("click", function (p) { go(data.page + "?month=" + encodeURIComponent(data.trend[p.dataIndex].month)); });
    } else empty("chart-trend", data.words.none);

    // The pictures that read every order of the month come after the page is shown.
    fetch(data.pictures, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.statusText); return r.json(); })
      .then(function (res) {
        var days = res.daily;
        if (days.some(function (d) { return d.orders; })) {
          var o = base("kpi-daily");
          o.yAxis = [rateAxis, { type: "value", minInterval: 1, splitLine: { show: false } }];
          o.xAxis = { type: "category", data: days.map(function (d) { return dayName.format(new Date(d.day + "T00:00:00Z")); }) };
          o.series = keys.map(function (k) {
            return { id: k, name: data.figures[k], type: "line", connectNulls: false, data: days.map(function (d) { return d[k]; }) };
          }).concat([{
            id: "orders", name: data.words.orders, type: "bar", yAxisIndex: 1, silent: true, barMaxWidth: 14,
            itemStyle: { color: "#c9d3de" }, z: 1, data: days.map(function (d) { return d.orders; })
          }]);
          chart("chart-daily", o).getDom().dataset.ready = "1";
        } else empty("chart-daily", data.words.none);

        // Failing orders by reason, one colour per figure; a bar opens the orders with that reason.
        var reasons = res.reasons, texts = [];
        reasons.forEach(function (g) { if (texts.indexOf(g.text) < 0) texts.push(g.text); });
        var total = function (t) { return reasons.filter(function (g) { return g.text === t; }).reduce(function (n, g) { return n + g.orders; }, 0); };
        texts.sort(function (a, b) { return total(a) - total(b); });
        if (texts.length) {
          var kpiOf = {};
          Object.keys(data.kpi_of).forEach(function (k) { kpiOf[data.kpi_of[k]] = k; });
          var r = base("kpi-reasons");
          r.tooltip = { trigger: "item", confine: true, formatter: function (p) { return esc(p.name) + "<br>" + esc(p.seriesName) + ": " + count.format(p.value); } };
          r.xAxis = { type: "value", minInterval: 1 };
          r.yAxis = { type: "category", data: texts, axisLabel: { interval: 0, width: 220, overflow: "truncate" } };
          r.series = keys.map(function (k) {
            var kpi = data.kpi_of[k];
            return {
              id: "count-" + kpi, name: data.figures[k], type: "bar", stack: "reasons", cursor: "pointer",
              data: texts.map(function (t) {
                var g = reasons.filter(function (x) { return x.kpi === kpi && x.text === t; })[0];
                return g ? { value: g.orders, reason: g.reason } : null;
              })
            };
          });
          var rc = chart("chart-reasons", r, Math.max(320, texts.length * 28 + 100));
          rc.on("click", function (p) {
            if (p.componentType !== "series" || !p.data) return;
            go(drill({ kpi: p.seriesId.slice(6), reason: p.data.reason, outcome: "failed" }));
          });
          rc.getDom().dataset.ready = "1";
        } else empty("chart-reasons", data.words.no_failures);
      })
      .catch(function () { empty("chart-daily", data.words.failed_to_load); empty("chart-reasons", data.words.failed_to_load); });

    window.addEventListener("resize", function () { made.forEach(function (c) { c.resize(); }); });
  }
  var print = document.getElementById("print");
  if (print) print.addEventListener("click", function () { window.print(); });
  riskForm(document.getElementById("risk-form"));
  charts(JSON.parse((document.getElementById("chart-data") || {}).textContent || "null"));
})();
