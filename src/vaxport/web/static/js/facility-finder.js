// "Use my location" for the centre finder: progressive enhancement of a form that works
// without it. The position is rounded to two decimals (about a kilometre) before it
// leaves the browser: enough to sort centres by distance, and it makes pages shareable
// by caches instead of unique per visitor.
(function () {
  "use strict";
  var button = document.getElementById("use-location");
  var form = document.getElementById("finder");
  var status = document.getElementById("location-status");
  if (!button || !form || !status || !("geolocation" in navigator)) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    status.textContent = button.getAttribute("data-locating");
    navigator.geolocation.getCurrentPosition(
      function (position) {
        form.elements.lat.value = position.coords.latitude.toFixed(2);
        form.elements.lon.value = position.coords.longitude.toFixed(2);
        form.submit();
      },
      function () {
        button.disabled = false;
        status.textContent = button.getAttribute("data-failed");
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 600000 }
    );
  });
})();
