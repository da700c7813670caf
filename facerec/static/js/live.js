// Live page: Start/Stop buttons, and the "in view" list refreshed from the status API.
(function () {
  "use strict";
  const csrf = facerec.csrfToken();
  const panel = document.getElementById("in-view");
  const img = document.getElementById("stream");
  const tolerance = Number(panel.dataset.tolerance);
  const els = facerec.elements([
    "state", "activity", "fps", "rate", "error", "faces", "nobody", "source",
  ]);

  const startButton = document.getElementById("start");
  const stopButton = document.getElementById("stop");

  function render(status) {
    // Only the button that would change something is enabled.
    if (startButton) startButton.disabled = status.running;
    if (stopButton) stopButton.disabled = !status.running;
    els.state.textContent = status.state;
    els.state.dataset.state = status.state;
    // The words for each activity are the page's own (data-idle, data-watching...).
    els.activity.textContent = els.activity.dataset[status.activity] || status.activity;
    els.activity.dataset.activity = status.activity;
    els.fps.textContent = status.fps.toFixed(1) + " fps";
    els.rate.textContent = status.recognition_hz.toFixed(1) + " recognitions/s";
    els.error.hidden = !status.error;
    els.error.textContent = status.error || "";
    // Break opportunities after each / (as the `breakable` filter gives the first render).
    els.source.textContent = (status.source || "not configured").replace(/\/+/g, "$&\u200b");
    els.faces.replaceChildren();
    for (const face of status.faces) {
      const li = document.createElement("li");
      li.className = face.user_id === null ? "unknown" : "known";
      const name = document.createElement("span");
      name.textContent = face.name === null ? "Unknown person" : face.name;
      li.appendChild(name);
      if (face.distance !== null) {
        const d = document.createElement("span");
        d.className = "muted small";
        d.textContent = facerec.distanceText(face.distance, tolerance);
        li.appendChild(d);
      }
      els.faces.appendChild(li);
    }
    els.nobody.hidden = status.faces.length > 0;
  }

  async function refresh() {
    try {
      const res = await fetch(panel.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (res.ok) render(await res.json());
    } catch (err) {
      els.state.textContent = "offline";
    }
  }

  async function post(button) {
    button.disabled = true;
    try {
      const res = await fetch(button.dataset.url, {
        method: "POST",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      });
      if (res.ok) {
        render(await res.json());
        return;
      }
      const body = await res.json().catch(() => ({}));
      els.error.hidden = false;
      els.error.textContent = body.error || "The server refused: HTTP " + res.status;
    } catch (err) {
      els.error.hidden = false;
      els.error.textContent = "The server cannot be reached.";
    }
    button.disabled = false;
  }

  // Start/Stop are only on the page for signed-in operators (a public stream has none).
  for (const button of [startButton, stopButton]) {
    if (button) button.addEventListener("click", (e) => post(e.currentTarget));
  }

  facerec.reconnect(img);

  // The list follows the picture: polled several times a second (one small JSON each), and
  // never two requests at once on a slow connection.
  let busy = false;
  async function tick() {
    if (busy || document.hidden) return;
    busy = true;
    try { await refresh(); } finally { busy = false; }
  }
  tick();
  setInterval(tick, 250);
})();
