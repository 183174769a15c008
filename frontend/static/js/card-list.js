// The card list: a "select every card on this page" box. Progressive enhancement only: without it, staff tick
// the cards one by one or choose "every card matching the filter" as the bulk target.
(function () {
  "use strict";
  var all = document.querySelector(".js-select-all");
  if (!all) { return; }
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[type="checkbox"][name="ids"]'));
  if (!boxes.length) { return; }
  all.hidden = false;
  function sync() {
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    all.checked = ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }
  all.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = all.checked; });
  });
  boxes.forEach(function (box) { box.addEventListener("change", sync); });
  sync();
}());
