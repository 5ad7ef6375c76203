// The logs page refreshes its tables by itself, keeping the filters in the address.
"use strict";
(function () {
  const tables = document.getElementById("logs-tables");
  const auto = document.getElementById("logs-auto");
  const seconds = Number(tables.dataset.refreshSeconds) || 5;

  async function refresh() {
    if (!auto.checked || document.hidden) return;
    const url = new URL(window.location.href);
    url.searchParams.set("partial", "1");
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) tables.innerHTML = await response.text();
    } catch (error) {
      // The next tick tries again.
    }
  }

  setInterval(refresh, seconds * 1000);
})();
