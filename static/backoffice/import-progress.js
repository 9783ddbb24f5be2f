// The import page's progress: poll it until the import finishes, then reload for the summary.
// A static file, not an inline script: the Content-Security-Policy allows scripts from the portal only.
(function () {
  var box = document.getElementById("import-progress");
  if (!box || box.dataset.finished === "1") { return; }
  var url = box.dataset.progressUrl;
  function text(id, value) { var el = document.getElementById(id); if (el) { el.textContent = value; } }
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var bar = document.getElementById("import-bar");
        if (data.rows_total) { bar.max = data.rows_total; }
        bar.value = data.rows_done;
        text("import-status", data.status_label);
        text("import-stage", data.finished ? "" : data.message);
        text("import-rows-done", data.rows_done.toLocaleString());
        text("import-rows-total", data.rows_total ? data.rows_total.toLocaleString() : "?");
        text("import-rate", data.rows_per_second === null ? "-" : Math.round(data.rows_per_second).toLocaleString());
        if (data.finished) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
