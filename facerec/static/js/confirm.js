// Forms marked data-confirm="question" ask before they are sent (revoking a token, deleting
// a sample): one click must not destroy something that cannot be undone. No inline script
// (the CSP forbids them); without scripts the form posts as before.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);
})();
