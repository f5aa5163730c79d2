/*
 * outreach-map: the lock of My area, quick (views/quick_area.py).
 *
 * The page is the server's answer to a PIN and holds the team's data. It goes back to the PIN
 * form (a plain load of its own address, which asks for the PIN again) when:
 *   - "Lock now" (#om-lock) is tapped: the shift is locked on the server too (POST shift), so
 *     the app's pages on this device ask for the PIN as well;
 *   - nobody has used it for data-idle-ms milliseconds (the app's lock_idle_minutes);
 *   - it comes back after that long hidden (a phone that slept), or from the back-forward cache;
 *   - its shift is no longer open: every fifth of the idle time (30 s at most) it asks the
 *     server (GET shift, saying whether it was used meanwhile, which keeps the shift open as a
 *     tap in the app does); "Lock now" in the app, or the shift's end, shows here that way.
 * While hidden (screen off, another app) it is covered with black, so the app switcher's picture
 * shows nothing. Its entry in the history becomes a plain address: a reload asks for the PIN and
 * never sends the PIN again.
 */
(function () {
  "use strict";
  var idle = Number(document.currentScript.dataset.idleMs) || 300000;
  var shift = new URL("shift", location.href).pathname;
  var last = Date.now();
  var usedSinceAsked = false;
  var timer = null;
  var cover = document.createElement("div");
  cover.id = "om-cover";
  cover.setAttribute("aria-hidden", "true");
  cover.style.cssText = "position:fixed;inset:0;background:#000;z-index:100000;display:none";
  document.body.appendChild(cover);

  function lock(why) {
    if (why) {
      try {
        fetch(shift, {
          method: "POST",
          body: new URLSearchParams({ action: why }),
          credentials: "same-origin",
          keepalive: true,
        }).catch(function () {});
      } catch (error) {
        /* offline: the page still locks */
      }
    }
    document.body.textContent = "";
    location.replace(location.pathname + location.search);
  }

  function used() {
    last = Date.now();
    usedSinceAsked = true;
    clearTimeout(timer);
    timer = setTimeout(function () { lock("idle"); }, idle);
  }

  function ask() {
    var query = usedSinceAsked ? "?used=1" : "?used=0";
    usedSinceAsked = false;
    fetch(shift + query, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) {
        if (answer.status === 409) lock("");
      })
      .catch(function () {});
  }

  ["pointerdown", "keydown", "scroll", "touchstart"].forEach(function (name) {
    addEventListener(name, used, { passive: true });
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      cover.style.display = "block";
    } else if (Date.now() - last > idle) {
      lock("idle");
    } else {
      cover.style.display = "none";
      ask();
    }
  });
  addEventListener("pageshow", function (event) {
    if (event.persisted) lock("");
  });
  document.getElementById("om-lock").addEventListener("click", function () { lock("lock"); });
  history.replaceState(null, "", location.pathname + location.search);
  setInterval(ask, Math.min(30000, idle / 5));
  used();
  usedSinceAsked = false;
})();
