// Enrollment wizard, samples step: snapshot, remove and camera start without reloading the
// page (the forms still work without scripts). Every POST carries the page's CSRF token.
(function () {
  "use strict";
  const root = document.getElementById("enroll-samples");
  if (!root) return;
  const csrf = facerec.csrfToken();
  const minimum = Number(root.dataset.minimum);
  const maximum = Number(root.dataset.maximum);
  const els = facerec.elements({
    count: "count",
    progress: "progress",
    thumbs: "thumbs",
    empty: "no-samples",
    review: "to-review",
    result: "snapshot-result",
    snapshotForm: "snapshot-form",
    snapshot: "snapshot",
    cameraOff: "camera-off",
    startForm: "start-camera",
    template: "thumb-template",
    auto: "auto-capture",
    autoStop: "auto-stop",
    autoStatus: "auto-status",
  });

  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      body: body,
      credentials: "same-origin",
    });
    let data = {};
    try {
      data = await res.json();
    } catch (err) {
      data = { error: "The server sent an unexpected answer (" + res.status + ")." };
    }
    return { ok: res.ok, status: res.status, data: data };
  }

  function say(message, good) {
    els.result.textContent = message;
    els.result.className = "check-result " + (good ? "good" : "bad");
  }

  function setCount(count) {
    els.count.textContent = String(count);
    els.progress.value = count;
    els.progress.textContent = count + " of " + maximum;
    els.empty.hidden = count > 0;
    const ready = count >= minimum;
    setReviewStep(ready);
    els.review.classList.toggle("disabled", !ready);
    if (ready) els.review.removeAttribute("aria-disabled");
    else els.review.setAttribute("aria-disabled", "true");
  }

  // The "3 · Review" step becomes a link once enough samples are taken, and plain text again
  // when one is removed.
  function setReviewStep(ready) {
    const step = document.querySelector(".steps li:nth-child(3)");
    if (!step) return;
    const link = step.querySelector("a");
    if (ready && !link) {
      const a = document.createElement("a");
      a.href = els.review.getAttribute("href");
      a.textContent = step.textContent.trim();
      step.replaceChildren(a);
    } else if (!ready && link) {
      step.textContent = link.textContent;
    }
  }

  function addThumb(sample) {
    const figure = els.template.content.firstElementChild.cloneNode(true);
    figure.dataset.sampleId = sample.id;
    const img = figure.querySelector("img");
    img.src = sample.thumbnail_url;
    img.alt = "Sample " + (els.thumbs.children.length + 1);
    const caption = figure.querySelector("figcaption");
    caption.textContent = sample.label;
    caption.title = sample.label;
    figure.querySelector("form").action = sample.remove_url;
    els.thumbs.appendChild(figure);
  }

  if (els.snapshotForm) {
    els.snapshotForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      els.snapshot.disabled = true;
      say("Checking the snapshot…", true);
      try {
        const { data } = await post(els.snapshotForm.action, new FormData(els.snapshotForm));
        if (data.sample) addThumb(data.sample);
        if (typeof data.count === "number") setCount(data.count);
        say(data.message || data.error || "The snapshot could not be checked.", !!data.accepted);
      } catch (err) {
        say("The server could not be reached. Check the connection and try again.", false);
      } finally {
        els.snapshot.disabled = false;
      }
    });
  }

  els.thumbs.addEventListener("submit", async function (event) {
    const form = event.target.closest("form.remove-sample");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const { ok, data } = await post(form.action, new FormData(form));
      if (ok) {
        form.closest("figure").remove();
        setCount(data.count);
        say(data.message, true);
      } else {
        say(data.error || "The sample could not be removed.", false);
        button.disabled = false;
      }
    } catch (err) {
      say("The server could not be reached. Check the connection and try again.", false);
      button.disabled = false;
    }
  });

  els.review.addEventListener("click", function (event) {
    if (els.review.classList.contains("disabled")) {
      event.preventDefault();
      const missing = minimum - Number(els.count.textContent);
      say(missing + " more sample" + (missing === 1 ? "" : "s") + " needed before the review.", false);
    }
  });

  // Auto-capture: ask the server to check the newest frame again and again; it keeps a
  // frame only when it is a good new sample (one usable face, a new pose, the same person,
  // spaced in time). Runs until the samples are complete or Stop is pressed.
  let autoOn = false;

  function setAuto(on, message) {
    autoOn = on;
    els.auto.hidden = on;
    els.autoStop.hidden = !on;
    els.snapshot.disabled = on;
    els.autoStatus.hidden = !message;
    els.autoStatus.textContent = message || "";
  }

  async function autoLoop() {
    let lastReason = "";
    while (autoOn) {
      const started = Date.now();
      let result;
      try {
        result = await post(els.auto.dataset.url, new FormData(els.snapshotForm));
      } catch (err) {
        setAuto(false, "Auto-capture stopped: the server could not be reached.");
        return;
      }
      const data = result.data;
      if (data.sample) addThumb(data.sample);
      if (typeof data.count === "number") setCount(data.count);
      if (!autoOn) return;
      if (data.accepted) {
        say(data.message, true);
        lastReason = "";
      } else if (data.message) {
        lastReason = data.message;
      }
      if (data.done || !result.ok && result.status !== 422) {
        const taken = typeof data.count === "number" ? data.count : 0;
        setAuto(false, data.done && taken >= maximum
          ? "Auto-capture done: " + taken + " of " + maximum + " samples taken."
          : "Auto-capture stopped: " + (data.message || data.error || "the server refused."));
        return;
      }
      els.autoStatus.textContent = "Auto-capture on: " + (data.count || 0) + " of " + maximum +
        " taken. " + (lastReason ? "Last frame: " + lastReason : "Looking for one clear face…");
      const wait = Math.max(0, 300 - (Date.now() - started));
      await new Promise(function (resolve) { setTimeout(resolve, wait); });
    }
  }

  if (els.auto) {
    els.auto.hidden = false;  // a script-only feature: hidden for pages without scripts
    els.auto.addEventListener("click", function () {
      setAuto(true, "Auto-capture on: looking for one clear face…");
      autoLoop();
    });
    els.autoStop.addEventListener("click", function () {
      const taken = Number(els.count.textContent);
      setAuto(false, "Auto-capture stopped: " + taken + " of " + maximum + " samples taken.");
    });
  }

  async function waitUntilRunning(statusUrl) {
    for (let i = 0; i < 40; i++) {
      const res = await fetch(statusUrl, { headers: { Accept: "application/json" } });
      if (res.ok) {
        const status = await res.json();
        if (status.running && status.state === "running") return true;
        if (status.state === "unavailable") {
          say("The camera could not be opened: " + (status.error || "unknown error") + ".", false);
          return false;
        }
      }
      await new Promise(function (resolve) { setTimeout(resolve, 250); });
    }
    return false;
  }

  if (els.startForm) {
    els.startForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      const button = els.startForm.querySelector("button");
      button.disabled = true;
      say("Starting the camera…", true);
      try {
        const { ok, data } = await post(els.startForm.dataset.apiUrl);
        if (!ok) {
          say(data.error || "The camera could not be started.", false);
        } else if (await waitUntilRunning(els.startForm.dataset.statusUrl)) {
          els.cameraOff.hidden = true;
          say("The camera is running. Take a snapshot when the face is in view.", true);
        }
      } catch (err) {
        say("The server could not be reached. Check the connection and try again.", false);
      } finally {
        button.disabled = false;
      }
    });
  }
})();
