// The portal's small enhancements; every page works without them.
// Countdowns (<span class="countdown" data-due="ISO">) tick every 30 s, measured on the server's
// clock (<body data-now>), so a phone whose clock is off still shows the right time left.
(function () {
  "use strict";

  function parts(minutes) {
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    var out = [];
    if (days) out.push(days + " 天");
    if (hours) out.push(hours + " 小时");
    out.push(mins + " 分");
    return out.slice(0, 2).join(" ");
  }

  function offset() {
    var serverNow = Date.parse(document.body.getAttribute("data-now") || "");
    return isNaN(serverNow) ? 0 : serverNow - Date.now();
  }

  var skew = 0;

  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) return;
      var seconds = Math.round((due - now) / 1000);
      var minutes = Math.floor(Math.abs(seconds) / 60);
      el.textContent = (seconds >= 0 ? "还剩 " : "已超时 ") + parts(minutes);
      el.classList.toggle("overdue", seconds < 0);
      el.classList.toggle("soon", seconds >= 0 && seconds < 7200);
      var card = el.closest(".job");
      if (card) {
        card.classList.toggle("is-overdue", seconds < 0);
        card.classList.toggle("is-soon", seconds >= 0 && seconds < 7200);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    skew = offset();
    setInterval(tick, 30000);
  });
})();
