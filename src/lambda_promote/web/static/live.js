// Live updates without a build step: an element with data-live="/fragments/…" is refreshed
// from that URL every two seconds (what htmx's hx-trigger="every 2s" does). The page works
// without it; this only saves the reader a reload. A fragment that reports a finished
// deployment stops its own polling.
"use strict";
(function () {
  function poll(el) {
    var url = el.getAttribute("data-live");
    var timer = setInterval(function () {
      fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          if (html !== el.innerHTML) { el.innerHTML = html; }
          var progress = el.querySelector("[data-state]");
          var state = progress && progress.getAttribute("data-state");
          if (["succeeded", "failed", "rolled_back", "rollback_failed"].indexOf(state) >= 0) {
            clearInterval(timer);
          }
        })
        .catch(function () { /* the server restarts: try again next tick */ });
    }, 2000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(poll);
  });
})();
