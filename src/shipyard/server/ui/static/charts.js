/* Shipyard dashboard charts: every <div data-chart="ID"> becomes a uPlot chart of the JSON in
   <script type="application/json" id="ID">: {"x": [...], "time": true|false, "y": "unit",
   "series": [{"label": "...", "values": [...]}]}. The same numbers are in a table beside the
   chart (templates/_chart.html), so nothing depends on this script or on colour: series differ by
   colour and by dash pattern, and the legend names them. */
(function () {
  "use strict";
  var COLOURS = ["#0b5cad", "#b42318", "#1a7f37", "#9a6700", "#6f42c1", "#0f7c8c", "#57606a"];
  var DASHES = [[], [6, 3], [2, 2], [10, 3, 2, 3], [1, 3], [12, 6], [4, 4]];

  /* One point (or one x value) gives uPlot no range to spread: it would pick years. Give it
     a minute either side for time axes, one step otherwise. */
  function xScale(spec) {
    var scale = { time: !!spec.time };
    if (spec.x.length && spec.x[0] === spec.x[spec.x.length - 1]) {
      var pad = spec.time ? 60 : 1;
      scale.range = function () { return [spec.x[0] - pad, spec.x[0] + pad]; };
    }
    return scale;
  }

  function build(el) {
    if (el.dataset.mounted === "1") return;
    var source = document.getElementById(el.dataset.chart);
    if (!source || typeof uPlot === "undefined") return;
    var spec = JSON.parse(source.textContent);
    var series = [{ label: spec.time ? "time" : (spec.xlabel || "step") }];
    var data = [spec.x];
    spec.series.forEach(function (s, i) {
      series.push({
        label: s.label,
        stroke: COLOURS[i % COLOURS.length],
        dash: DASHES[i % DASHES.length],
        width: 1.5,
        spanGaps: true,
        points: { show: spec.x.length < 60 }
      });
      data.push(s.values);
    });
    var width = Math.max(320, Math.min(el.clientWidth || 720, 1100));
    var options = {
      width: width,
      height: spec.height || 240,
      scales: { x: xScale(spec) },
      axes: [{}, { label: spec.y || "" }],
      series: series,
      legend: { live: true }
    };
    el.dataset.mounted = "1";
    el.setAttribute("role", "img");
    el.setAttribute("aria-label", (spec.title || "chart") + ": the numbers are in the table below");
    new uPlot(options, data, el);
  }

  function mount(root) {
    (root || document).querySelectorAll("div[data-chart]").forEach(build);
  }

  window.ShipyardCharts = { mount: mount };
  document.addEventListener("DOMContentLoaded", function () { mount(document); });
})();
