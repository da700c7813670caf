// Live page with several cameras: each tile's state, frame rate and error from the cameras API.
(function () {
  "use strict";
  const grid = document.getElementById("camera-grid");

  function render(cameras) {
    for (const cam of cameras) {
      const tile = grid.querySelector('[data-camera="' + CSS.escape(cam.name) + '"]');
      if (!tile) continue;
      const state = tile.querySelector(".tile-state");
      state.textContent = cam.state;
      state.dataset.state = cam.state;
      tile.querySelector(".tile-fps").textContent = cam.fps.toFixed(1) + " fps";
      const activity = tile.querySelector(".tile-activity");
      activity.textContent = activity.dataset[cam.activity] || cam.activity;
      activity.dataset.activity = cam.activity;
      const error = tile.querySelector(".tile-error");
      error.hidden = !cam.error;
      error.textContent = cam.error || "";
    }
  }

  async function refresh() {
    try {
      const res = await fetch(grid.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (res.ok) render((await res.json()).cameras);
    } catch (err) {
      /* the next refresh tries again */
    }
  }

  for (const img of grid.querySelectorAll("img.tile-stream")) facerec.reconnect(img);

  refresh();
  setInterval(refresh, 2000);
})();
