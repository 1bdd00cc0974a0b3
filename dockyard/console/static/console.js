// Dockyard console: live regions and confirmations; nothing else needs JavaScript.
// Every element with [data-live] and an id is refreshed from a fresh copy of the page every
// couple of seconds (while the tab is visible and no one is typing in it).
"use strict";
(function () {
  const PERIOD_MS = 2000;
  let busy = false;

  function focusedInside(element) {
    const active = document.activeElement;
    return active && active !== document.body && element.contains(active) && active.matches("input, select, textarea");
  }

  async function refresh() {
    const regions = document.querySelectorAll("[data-live][id]");
    if (busy || regions.length === 0 || document.visibilityState !== "visible") return;
    busy = true;
    try {
      const response = await fetch(window.location.href, { headers: { "X-Console-Live": "1" }, credentials: "same-origin", redirect: "follow" });
      if (response.redirected && new URL(response.url).pathname.endsWith("/signin")) {
        window.location.reload(); // the session ended: show the sign-in page
        return;
      }
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      regions.forEach(function (region) {
        const next = fresh.getElementById(region.id);
        if (!next || focusedInside(region) || next.innerHTML === region.innerHTML) return;
        const follow = region.hasAttribute("data-follow") && atBottom(region);
        region.innerHTML = next.innerHTML;
        if (follow) scrollDown(region);
      });
      document.documentElement.dataset.liveAt = String(Date.now());
    } catch (error) {
      // the server is away for a moment: try again next period
    } finally {
      busy = false;
    }
  }

  function scrollable(region) { return region.querySelector("pre") || region; }
  function atBottom(region) {
    const box = scrollable(region);
    return box.scrollHeight - box.scrollTop - box.clientHeight < 24;
  }
  function scrollDown(region) { const box = scrollable(region); box.scrollTop = box.scrollHeight; }

  document.addEventListener("submit", function (event) {
    const message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-follow]").forEach(scrollDown);
  });
  window.setInterval(refresh, PERIOD_MS);
})();
