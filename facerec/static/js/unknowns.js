// The unknowns page: tick visitors (or single faces) and act on all of them at once, with the
// keyboard for the common path: j/k move between visitors, x ticks, a chooses who they are
// (Enter assigns), e types a new name, m merges, s splits ticked faces off, d dismisses,
// Esc unticks everything. Without scripts the same form posts as it is.
(function () {
  "use strict";
  const form = document.getElementById("bulk-form");
  if (!form) return;
  const groups = Array.from(document.querySelectorAll(".unknown-group"));
  const count = document.getElementById("bulk-count");
  const person = document.getElementById("bulk-person");
  const name = document.getElementById("bulk-name");
  const buttons = {
    assign: document.getElementById("bulk-assign"),
    enroll: document.getElementById("bulk-enroll"),
    merge: document.getElementById("bulk-merge"),
    split: document.getElementById("bulk-split"),
    dismiss: document.getElementById("bulk-dismiss"),
  };
  let current = -1;

  function ticked(selector) {
    return Array.from(document.querySelectorAll(selector + ":checked"));
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  function update() {
    const visitors = ticked(".pick-group").length;
    const faces = ticked('input[name="sighting_id"][form="bulk-form"]').length;
    const parts = [];
    if (visitors) parts.push(plural(visitors, "visitor"));
    if (faces) parts.push(plural(faces, "face"));
    count.textContent = parts.length
      ? parts.join(" and ") + " ticked."
      : "Tick visitors (or single faces) to act on several at once.";
    const any = visitors + faces > 0;
    if (buttons.assign) buttons.assign.disabled = !any;
    buttons.enroll.disabled = !any;
    buttons.dismiss.disabled = !any;
    buttons.merge.disabled = visitors < 2 || faces > 0;
    buttons.split.disabled = visitors > 0 || faces === 0;
    groups.forEach((group) => {
      const box = group.querySelector(".pick-group");
      group.classList.toggle("picked", Boolean(box && box.checked));
    });
  }

  function focusGroup(index) {
    if (!groups.length) return;
    current = Math.max(0, Math.min(groups.length - 1, index));
    groups[current].focus();
    groups[current].scrollIntoView({ block: "nearest" });
  }

  function typing(target) {
    return target.closest("input, select, textarea, [contenteditable]") !== null;
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches('input[form="bulk-form"]')) update();
  });

  groups.forEach((group, index) => {
    group.addEventListener("focusin", () => { current = index; });
  });

  if (person) {
    // Enter on the person picker assigns the ticked visitors to the person chosen.
    person.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && person.value) {
        event.preventDefault();
        buttons.assign.click();
      }
    });
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      ticked('input[form="bulk-form"]').forEach((box) => { box.checked = false; });
      update();
      return;
    }
    if (typing(event.target)) return;
    const actions = {
      j: () => focusGroup(current + 1),
      k: () => focusGroup(current - 1),
      x: () => {
        if (current < 0) focusGroup(0);
        const box = groups[current] && groups[current].querySelector(".pick-group");
        if (box) { box.checked = !box.checked; update(); }
      },
      a: () => person && person.focus(),
      e: () => name.focus(),
      m: () => buttons.merge.disabled || buttons.merge.click(),
      s: () => buttons.split.disabled || buttons.split.click(),
      d: () => buttons.dismiss.disabled || buttons.dismiss.click(),
    };
    const act = actions[event.key];
    if (act) {
      event.preventDefault();
      act();
    }
  });

  // Dismissing hides visitors from this page: ask first (the history keeps them).
  buttons.dismiss.addEventListener("click", (event) => {
    if (!window.confirm("Dismiss the visitors ticked? Their sightings stay in the history.")) {
      event.preventDefault();
    }
  });
  update();
})();

// After a question on one visitor (a look-alike), the page opens where it is asked.
(function () {
  "use strict";
  const here = document.querySelector("[data-scroll-here]");
  if (here) here.scrollIntoView({ block: "center" });
})();
