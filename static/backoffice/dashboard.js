/* The dashboard's charts: each <canvas data-chart="key"> is drawn from the JSON configuration in
   <script type="application/json" id="chart-config-key">, written by the server (json_script).
   No inline script: the page works under a Content-Security-Policy without 'unsafe-inline'. */
(function () {
  "use strict";

  function draw(canvas) {
    var source = document.getElementById("chart-config-" + canvas.dataset.chart);
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var config = JSON.parse(source.textContent);
    new window.Chart(canvas, config);
    canvas.dataset.drawn = "1";
  }

  function start() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
