// The import batch page while a large file is validated or applied: polls the batch's JSON progress and updates
// the bar; when the work is done, reloads the page to show the result. Progressive enhancement only: without
// JavaScript the page says to reload it.
(function () {
  "use strict";
  var section = document.querySelector(".import-progress[data-progress-url]");
  if (!section) { return; }
  var url = section.getAttribute("data-progress-url");
  var bar = section.querySelector("progress");
  var text = section.querySelector(".import-progress__text");
  var hint = section.querySelector(".import-progress__reload");
  var english = document.documentElement.lang === "en";
  if (hint) {
    hint.textContent = english
      ? "This page updates by itself and shows the result when the work is done."
      : "このページは自動で更新し、終わると結果を表示します。";
  }
  var failures = 0;
  function poll() {
    var request = new XMLHttpRequest();
    request.open("GET", url);
    request.setRequestHeader("Accept", "application/json");
    request.onload = function () {
      if (request.status !== 200) { return retry(); }
      var data;
      try { data = JSON.parse(request.responseText); } catch (e) { return retry(); }
      failures = 0;
      if (bar) {
        bar.max = Math.max(1, data.rows_total);
        bar.value = data.rows_done;
      }
      if (text) {
        text.textContent = english
          ? data.rows_done + " / " + data.rows_total + " rows"
          : data.rows_done + " / " + data.rows_total + " 行";
      }
      if (!data.running) {
        window.location.reload();
        return;
      }
      window.setTimeout(poll, 2000);
    };
    request.onerror = retry;
    request.send();
  }
  function retry() {
    failures += 1;
    if (failures < 10) { window.setTimeout(poll, 5000); }
  }
  window.setTimeout(poll, 1000);
})();
