// Dockyard console: live regions and confirmations; nothing else needs JavaScript.
// Every element with [data-live] and an id is refreshed from a fresh copy of the page when the
// server says the page changed: one event stream per page view (/console/live, server-sent
// events). Only when the server refuses the stream (too many open) does the page poll, slowly.
"use strict";
(function () {
  const FALLBACK_PERIOD_MS = 10000;
  let busy = false;
  let again = false; // a change came in while a refresh was under way
  let stale = false; // a change came in while the tab was hidden

  function focusedInside(element) {
    const active = document.activeElement;
    return active && active !== document.body && element.contains(active) && active.matches("input, select, textarea");
  }

  async function refresh() {
    const regions = document.querySelectorAll("[data-live][id]");
    if (regions.length === 0) return;
    if (document.visibilityState !== "visible") { stale = true; return; }
    if (busy) { again = true; return; }
    busy = true;
    again = false;
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
      // the server is away for a moment: the stream's next event tries again
    } finally {
      busy = false;
      if (again) refresh();
    }
  }

  function listen() {
    if (document.querySelectorAll("[data-live][id]").length === 0 || !window.EventSource) return;
    const page = window.location.pathname + window.location.search;
    const stamp = document.documentElement.dataset.liveStamp || "";
    // The stamp the page was rendered at: a change made before the stream opens is announced.
    const source = new EventSource("/console/live?page=" + encodeURIComponent(page) + "&stamp=" + encodeURIComponent(stamp));
    let opened = false;
    source.addEventListener("open", function () {
      if (opened) refresh(); // back after a break: what changed meanwhile was not announced
      opened = true;
      document.documentElement.dataset.live = "stream";
    });
    source.addEventListener("changed", function () {
      const root = document.documentElement.dataset;
      root.changes = String(Number(root.changes || "0") + 1);
      refresh();
    });
    source.addEventListener("signedout", function () { source.close(); window.location.reload(); });
    source.addEventListener("error", function () {
      if (source.readyState !== EventSource.CLOSED) return; // the browser reconnects by itself
      document.documentElement.dataset.live = "poll"; // refused (too many pages open): poll
      window.setInterval(refresh, FALLBACK_PERIOD_MS);
    });
    window.addEventListener("pagehide", function () { source.close(); });
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
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && stale) { stale = false; refresh(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-follow]").forEach(scrollDown);
    listen();
  });
})();
