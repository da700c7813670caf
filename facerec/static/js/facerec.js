// What the page scripts share: base.html loads it on every page before the page's own
// script, and it defines window.facerec. No inline script anywhere (the CSP forbids them).
window.facerec = (function () {
  "use strict";

  // The session's CSRF token (base.html puts it in <meta name="csrf-token">), which every
  // POST made by a script carries in X-CSRFToken.
  function csrfToken() {
    return document.querySelector('meta[name="csrf-token"]').content;
  }

  // The page's elements by id: ["a", "b"] gives {a, b}; {key: "element-id"} names them.
  function elements(ids) {
    const pairs = Array.isArray(ids) ? ids.map((id) => [id, id]) : Object.entries(ids);
    return Object.fromEntries(pairs.map(([key, id]) => [key, document.getElementById(id)]));
  }

  // A stream picture whose connection drops (server restart, network blip, camera
  // reconfigured) loads again by itself after a pause; the extra parameter defeats caches.
  function reconnect(img, delayMs = 2000) {
    img.addEventListener("error", () => {
      setTimeout(() => {
        const url = new URL(img.src);
        url.searchParams.set("t", Date.now());
        img.src = url.toString();
      }, delayMs);
    });
  }

  // A face's distance in the words of every page (gallery.distance_text, the `distance`
  // template filter): "0.41 (match below 0.60)" or "0.73 (no match: above 0.60)".
  function distanceText(distance, tolerance) {
    const verdict = distance <= tolerance
      ? "match below " + tolerance.toFixed(2)
      : "no match: above " + tolerance.toFixed(2);
    return distance.toFixed(2) + " (" + verdict + ")";
  }

  // On phones a table's rows are cards (app.css): each cell shows its column's name, copied
  // here from the header into data-label (a header that is only for screen readers gives
  // none). Rows a page adds later (the history's refresh) are labelled as they come.
  function labelCells(table) {
    const names = [...table.querySelectorAll("thead th")].map((th) =>
      th.querySelector(".visually-hidden") ? "" : th.textContent.replace(/[▲▼]/g, "").trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => {
        if (names[i] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", names[i]);
      });
    }
  }

  function labelTables() {
    for (const table of document.querySelectorAll("main table")) {
      labelCells(table);
      const body = table.querySelector("tbody");
      if (body) new MutationObserver(() => labelCells(table)).observe(body, { childList: true });
    }
  }
  // Forms marked data-progress upload through XMLHttpRequest so that an upload taking more
  // than a second shows how far it is ("Uploading… 40 %"), then that the photos are being
  // checked; the answer then replaces the page as a normal submit would. Without a file
  // chosen (or without the API) the form submits the ordinary way.
  function uploadWithProgress(form) {
    form.addEventListener("submit", (event) => {
      const files = [...form.querySelectorAll("input[type=file]")].some((i) => i.files.length);
      if (!files || !window.FormData) return;
      event.preventDefault();
      const box = form.querySelector(".upload-progress");
      const bar = box.querySelector("progress");
      const words = box.querySelector(".upload-progress-text");
      const button = form.querySelector("[type=submit]");
      const show = setTimeout(() => { box.hidden = false; }, 1000);
      const say = (text, percent) => {
        words.textContent = text;
        if (percent === null) bar.removeAttribute("value"); else bar.value = percent;
      };
      say("Uploading…", 0);
      if (button) button.disabled = true;
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) {
          const percent = Math.round((100 * e.loaded) / e.total);
          say("Uploading… " + percent + " %", percent);
        }
      });
      xhr.upload.addEventListener("load", () => {
        say("Uploaded. Checking the faces… (the first check after a restart takes a few seconds)", null);
      });
      xhr.addEventListener("load", () => {
        clearTimeout(show);
        const url = xhr.responseURL || form.action;
        document.open();
        document.write(xhr.responseText);
        document.close();
        history.replaceState(null, "", url);
      });
      xhr.addEventListener("error", () => {
        clearTimeout(show);
        box.hidden = false;
        say("The upload failed: nothing was saved. Check the connection and try again.", 0);
        if (button) button.disabled = false;
      });
      xhr.send(new FormData(form));
    });
  }

  // Buttons marked data-copy="id" copy that element's text, and say so.
  function copyButton(button) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      const text = source.textContent.trim();
      let copied = false;
      try {
        await navigator.clipboard.writeText(text);
        copied = true;
      } catch (err) {
        // Plain http on another host has no clipboard API: select it for Ctrl+C instead.
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        copied = document.execCommand && document.execCommand("copy");
      }
      button.textContent = copied ? "Copied" : "Selected: press Ctrl+C";
    });
  }

  function setUp() {
    labelTables();
    document.querySelectorAll("form[data-progress]").forEach(uploadWithProgress);
    document.querySelectorAll("button[data-copy]").forEach(copyButton);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }

  return { csrfToken, elements, reconnect, distanceText, labelCells };
})();
