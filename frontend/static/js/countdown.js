// The hold countdown on the booking form: the server renders the remaining minutes; this keeps them current.
// Progressive enhancement only: the page works without it (the server checks the hold on submit).
(function () {
  "use strict";
  var element = document.querySelector(".countdown[data-expires]");
  if (!element) { return; }
  var expires = Date.parse(element.getAttribute("data-expires"));
  if (isNaN(expires)) { return; }
  var english = document.documentElement.lang === "en";
  var announced = false;
  function render() {
    var seconds = Math.max(0, Math.round((expires - Date.now()) / 1000));
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    var clock = minutes + ":" + (rest < 10 ? "0" : "") + rest;
    if (seconds === 0) {
      element.textContent = english
        ? "The time to fill in the form has run out. Please choose a time again."
        : "入力時間が過ぎました。もう一度時間を選んでください。";
      element.setAttribute("role", "alert");
      return false;
    }
    element.textContent = english
      ? "This time is held for you for " + clock + " more. Please finish the form before then."
      : "この枠は、あと " + clock + " 確保しています。時間内に入力を終えてください。";
    if (seconds <= 60 && !announced) {
      announced = true;
      element.setAttribute("aria-live", "assertive");
    }
    return true;
  }
  if (render()) {
    var timer = window.setInterval(function () {
      if (!render()) { window.clearInterval(timer); }
    }, 1000);
  }
})();
