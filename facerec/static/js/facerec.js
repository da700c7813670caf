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

  return { csrfToken, elements, reconnect, distanceText };
})();
