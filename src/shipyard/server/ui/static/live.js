/* Live regions: every element with data-live and an id is refreshed from the page's own URL
   every N seconds (data-live="N"), without a reload, while the tab is visible. The server
   renders the whole page with the same permissions as a reload; only the live regions are
   swapped in. Polling stops while the tab is hidden and resumes, with one immediate refresh,
   when it is shown again. */
(function () {
  "use strict";
  var timer = null;
  var busy = false;

  function regions() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live][id]"));
  }

  function period() {
    var seconds = regions().map(function (el) { return Number(el.dataset.live) || 5; });
    return Math.max(1, Math.min.apply(null, seconds.length ? seconds : [5])) * 1000;
  }

  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(window.location.href, { headers: { "X-Shipyard-Live": "1" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.redirected) {  // signed out: stop, rather than be refused every N s
          stop();
          throw new Error("redirected to " + response.url);
        }
        if (!response.ok) throw new Error("status " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        regions().forEach(function (el) {
          var next = fresh.getElementById(el.id);
          if (next && next.innerHTML !== el.innerHTML) {
            el.innerHTML = next.innerHTML;
            if (window.ShipyardCharts) window.ShipyardCharts.mount(el);
          }
        });
        document.body.dataset.liveUpdated = String(Date.now());
      })
      .catch(function () { document.body.dataset.liveFailed = String(Date.now()); })
      .finally(function () { busy = false; });
  }

  function start() {
    if (timer !== null || !regions().length) return;
    timer = window.setInterval(refresh, period());
  }

  function stop() {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { stop(); } else { refresh(); start(); }
  });
  document.addEventListener("DOMContentLoaded", function () { if (!document.hidden) start(); });
  window.ShipyardLive = { refresh: refresh, running: function () { return timer !== null; } };
})();
