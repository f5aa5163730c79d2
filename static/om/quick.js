/*
 * outreach-map: the lock of My area, quick (views/quick_area.py).
 *
 * The page is the server's answer to a PIN and holds the team's data, so it goes back to the
 * PIN form (a plain load of its own address, which asks for the PIN again) when:
 *   - "Lock now" (#om-lock) is tapped;
 *   - nobody has used it for data-idle-ms milliseconds (the app's lock_idle_minutes);
 *   - it comes back after that long hidden (a phone that slept), or from the back-forward cache.
 * While hidden (screen off, another app) it is covered with black, so the app switcher's picture
 * shows nothing. Its entry in the history becomes a plain address: a reload asks for the PIN and
 * never sends the PIN again.
 */
(function () {
  "use strict";
  var idle = Number(document.currentScript.dataset.idleMs) || 300000;
  var last = Date.now();
  var timer = null;
  var cover = document.createElement("div");
  cover.id = "om-cover";
  cover.setAttribute("aria-hidden", "true");
  cover.style.cssText = "position:fixed;inset:0;background:#000;z-index:100000;display:none";
  document.body.appendChild(cover);

  function lock() {
    document.body.textContent = "";
    location.replace(location.pathname + location.search);
  }

  function used() {
    last = Date.now();
    clearTimeout(timer);
    timer = setTimeout(lock, idle);
  }

  ["pointerdown", "keydown", "scroll", "touchstart"].forEach(function (name) {
    addEventListener(name, used, { passive: true });
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      cover.style.display = "block";
    } else if (Date.now() - last > idle) {
      lock();
    } else {
      cover.style.display = "none";
    }
  });
  addEventListener("pageshow", function (event) {
    if (event.persisted) lock();
  });
  document.getElementById("om-lock").addEventListener("click", lock);
  history.replaceState(null, "", location.pathname + location.search);
  used();
})();
