// The counter checklist: show only the documents of the chosen identity check (A or B) and the proxy's fields
// when a proxy collects. Progressive enhancement only: without it every field shows, and the server decides
// which ones count (the other kind's documents are ignored).
(function () {
  "use strict";
  var form = document.querySelector("form [data-counter-kind]");
  if (!form) { return; }
  form = form.closest("form");
  var kinds = form.querySelectorAll('input[name="identity_kind"]');
  var proxy = form.querySelector('input[name="proxy"]');
  function update() {
    var chosen = "";
    kinds.forEach(function (input) { if (input.checked) { chosen = input.value; } });
    form.querySelectorAll("[data-counter-kind]").forEach(function (block) {
      block.hidden = chosen !== "" && block.getAttribute("data-counter-kind") !== chosen;
    });
    form.querySelectorAll("[data-counter-proxy]").forEach(function (block) {
      block.hidden = !(proxy && proxy.checked);
    });
  }
  kinds.forEach(function (input) { input.addEventListener("change", update); });
  if (proxy) { proxy.addEventListener("change", update); }
  update();
}());
