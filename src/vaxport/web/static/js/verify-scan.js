// Live QR scanning for the verify page: progressive enhancement of a form that works
// without it (paste the text, or add a photo). Uses the browser's own BarcodeDetector
// where it exists (no third-party code); elsewhere the photo field opens the camera.
(function () {
  "use strict";
  var box = document.getElementById("scan");
  var start = document.getElementById("scan-start");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  var form = document.getElementById("verify-form");
  if (!box || !start || !video || !status || !form) {
    return;
  }
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  box.hidden = false;
  var detector = new window.BarcodeDetector({ formats: ["qr_code"] });

  function stop(stream) {
    stream.getTracks().forEach(function (track) { track.stop(); });
    video.hidden = true;
  }

  start.addEventListener("click", function () {
    start.disabled = true;
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        return video.play().then(function () {
          var look = function () {
            detector.detect(video).then(function (codes) {
              if (codes.length > 0 && codes[0].rawValue) {
                stop(stream);
                form.elements.payload.value = codes[0].rawValue;
                form.submit();
                return;
              }
              window.requestAnimationFrame(look);
            }, function () { window.requestAnimationFrame(look); });
          };
          look();
        });
      })
      .catch(function () {
        start.disabled = false;
        status.textContent = start.getAttribute("data-failed");
      });
  });
})();
