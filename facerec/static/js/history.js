// History page: new and ended sightings appear without a reload. The script polls the
// sightings API with the page's filters and, when the newest rows changed, fetches the
// table body rendered by the server (one template for rows, with their actions).
(function () {
  "use strict";
  const table = document.getElementById("history");
  const body = document.getElementById("history-rows");
  const empty = document.getElementById("history-empty");
  if (!table || table.dataset.live !== "true") return; // older pages stay as they are
  const EVERY_MS = 3000;

  function shownSignature() {
    return Array.from(body.querySelectorAll("tr[data-sighting-id]"))
      .map((tr) => [tr.dataset.sightingId, tr.dataset.userId, tr.dataset.state].join(":"))
      .join(",");
  }

  function apiSignature(list) {
    return list
      .map((s) => [s.id, s.user_id === null ? "" : s.user_id, s.ended_at === null ? "open" : "ended"].join(":"))
      .join(",");
  }

  async function refresh() {
    if (document.hidden) return;
    if (body.contains(document.activeElement)) return; // someone is choosing "This is..."
    try {
      const res = await fetch(table.dataset.apiUrl, { headers: { Accept: "application/json" } });
      if (!res.ok) return;
      const data = await res.json();
      if (apiSignature(data.sightings) === shownSignature()) return;
      const rows = await fetch(table.dataset.rowsUrl, { headers: { Accept: "text/html" } });
      if (!rows.ok) return;
      body.innerHTML = await rows.text(); // rendered (and escaped) by the server
      const any = body.querySelector("tr[data-sighting-id]") !== null;
      table.hidden = !any;
      if (empty) empty.hidden = any;
    } catch (err) {
      // Offline for a moment: the next poll tries again.
    }
  }

  setInterval(refresh, EVERY_MS);
  document.addEventListener("visibilitychange", refresh);
})();
