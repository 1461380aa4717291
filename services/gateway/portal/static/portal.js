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

// The outlet's on-site forms (pages_outlet_visit): without these the forms still work (position
// typed in, no signature).
// Check-in: the phone's position, when the person allows it, fills the latitude and longitude.
// Check-out: the customer signs on a canvas; the drawing goes with the form as a PNG data URL.
(function () {
  "use strict";

  function locate(box) {
    var status = box.querySelector("[data-geo-status]");
    var again = box.querySelector("[data-geo-locate]");
    var lat = box.querySelector("input[name=lat]");
    var lon = box.querySelector("input[name=lon]");
    if (!navigator.geolocation || !lat || !lon) {
      if (status) status.textContent = "此浏览器不能提供定位，请手动输入经纬度。";
      return;
    }
    if (status) status.textContent = "正在获取手机定位…";
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        lat.value = pos.coords.latitude.toFixed(6);
        lon.value = pos.coords.longitude.toFixed(6);
        box.classList.add("located");
        if (status) status.textContent = "已填入手机定位（精度约 " + Math.round(pos.coords.accuracy || 0) + " 米），可直接签到。";
        if (again) again.hidden = false;
      },
      function (err) {
        var why = err && err.code === 1 ? "未允许使用位置" : "暂时无法定位";
        if (status) status.textContent = why + "，请手动输入经纬度。";
        if (again) again.hidden = false;
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  }

  function signaturePad(form) {
    var canvas = form.querySelector("[data-signature-pad]");
    var input = form.querySelector("[data-signature-input]");
    var status = form.querySelector("[data-signature-status]");
    var clear = form.querySelector("[data-signature-clear]");
    if (!canvas || !input || !canvas.getContext) return;
    var ctx = canvas.getContext("2d");
    var drawing = false;
    var drawn = false;
    var last = null;

    function blank() {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.strokeStyle = "#0d1b2a";
      ctx.lineWidth = 3;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      drawn = false;
      input.value = "";
      form.classList.remove("signed");
      if (status) status.textContent = "请客户用手指或鼠标在框内签名。";
    }

    function point(e) {
      var rect = canvas.getBoundingClientRect();
      return {
        x: ((e.clientX - rect.left) * canvas.width) / rect.width,
        y: ((e.clientY - rect.top) * canvas.height) / rect.height,
      };
    }

    canvas.addEventListener("pointerdown", function (e) {
      e.preventDefault();
      drawing = true;
      last = point(e);
      if (canvas.setPointerCapture) canvas.setPointerCapture(e.pointerId);
      ctx.beginPath();
      ctx.arc(last.x, last.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fill();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drawing) return;
      e.preventDefault();
      var p = point(e);
      ctx.beginPath();
      ctx.moveTo(last.x, last.y);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
      last = p;
      if (!drawn) {
        drawn = true;
        form.classList.add("signed");
        if (status) status.textContent = "已签名。";
      }
    });
    function end() {
      drawing = false;
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", end);
    if (clear) clear.addEventListener("click", blank);
    form.addEventListener("submit", function () {
      input.value = drawn ? canvas.toDataURL("image/png") : "";
    });
    blank();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-geolocate]").forEach(function (box) {
      var again = box.querySelector("[data-geo-locate]");
      if (again) again.addEventListener("click", function () { locate(box); });
      var lat = box.querySelector("input[name=lat]");
      if (lat && !lat.value) locate(box);
    });
    document.querySelectorAll("[data-signature-form]").forEach(signaturePad);
  });
})();
