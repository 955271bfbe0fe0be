/* The policy lab's report pictures (web/templates/lab_run.html): a horizontal bar per policy and
 * the hindsight bound for the 24-hour rate and the km, each with its 95 % interval as a whisker
 * (cut at what the figure can be; simulation/lab.py `interval`). ECharts from npm
 * (web/static/vendor), its Chinese locale in zh, "save as image" in the corner. Canvas renderer:
 * it styles its elements through the CSSOM, which the CSP allows. The list under each picture
 * keeps the same figures as text. */
(function () {
  "use strict";
  var node = document.getElementById("lab-chart-data");
  if (!node || typeof echarts === "undefined") return;
  var data = JSON.parse(node.textContent);
  var pct = new Intl.NumberFormat(data.lang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  var num = new Intl.NumberFormat(data.lang, { maximumFractionDigits: 1 });
  var axisPct = new Intl.NumberFormat(data.lang, { style: "percent", maximumFractionDigits: 0 });
  var made = [];

  Object.keys(data.bars).forEach(function (figure) {
    var el = document.getElementById("chart-" + figure);
    if (!el) return;
    var rate = data.rates.indexOf(figure) >= 0;
    var fmt = function (v) { return v == null ? "—" : (rate ? pct.format(v) : num.format(v)); };
    // Top to bottom as listed: ECharts draws a category axis from the bottom, so reverse.
    var items = data.bars[figure].slice().reverse();
    var names = items.map(function (b) { return b.label; });
    el.style.height = (48 + 34 * items.length) + "px";  // CSSOM, not a style attribute
    var chart = echarts.init(el, null, { renderer: "canvas", locale: data.locale });
    chart.setOption({
      animation: false,
      aria: { enabled: true },
      textStyle: { fontFamily: "inherit" },
      grid: { left: 8, right: 56, top: 30, bottom: 8, containLabel: true },
      toolbox: { right: 0, top: 0, feature: { saveAsImage: { name: "lab-" + data.run + "-" + figure, pixelRatio: 2 } } },
      tooltip: {
        trigger: "item", confine: true,
        formatter: function (p) {
          var b = items[p.dataIndex];
          var text = echarts.format.encodeHTML(b.label) + ": " + fmt(b.mean);
          if (b.low != null) text += "<br>95 %: " + fmt(b.low) + " – " + fmt(b.high);
          return text;
        }
      },
      xAxis: rate ? { type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return axisPct.format(v); } } }
                  : { type: "value", min: 0, axisLabel: { formatter: function (v) { return num.format(v); } } },
      yAxis: { type: "category", data: names, axisTick: { show: false } },
      series: [
        {
          id: "mean", type: "bar", barWidth: 16,
          data: items.map(function (b) {
            return { value: b.mean, itemStyle: { color: b.name === "hindsight" ? "#8a8f98" : "#2f6fbd" } };
          }),
          label: { show: true, position: "right", formatter: function (p) { return fmt(p.value); } }
        },
        {
          id: "interval", type: "custom", silent: true, z: 3,
          encode: { x: [1, 2], y: 0 },  // the axis reaches the whiskers' ends
          data: items.map(function (b, i) { return [i, b.low, b.high]; }).filter(function (d) { return d[1] != null; }),
          renderItem: function (params, api) {
            var lo = api.coord([api.value(1), api.value(0)]), hi = api.coord([api.value(2), api.value(0)]);
            var h = 6, style = { stroke: "#12263f", lineWidth: 1.5 };
            return { type: "group", children: [
              { type: "line", shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style: style },
              { type: "line", shape: { x1: lo[0], y1: lo[1] - h, x2: lo[0], y2: lo[1] + h }, style: style },
              { type: "line", shape: { x1: hi[0], y1: hi[1] - h, x2: hi[0], y2: hi[1] + h }, style: style }
            ] };
          }
        }
      ]
    });
    made.push(chart);
  });
  window.addEventListener("resize", function () { made.forEach(function (c) { c.resize(); }); });
})();
