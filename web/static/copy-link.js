/* The tracking link's copy button: the clipboard where the browser allows it, otherwise the
 * link is selected so that the customer can copy it themselves. No inline script (CSP). */
(function () {
  "use strict";
  var button = document.getElementById("copy-link");
  var input = document.getElementById("tracking-url");
  var state = document.getElementById("copy-state");
  if (!button || !input) return;

  function say(text) {
    if (state) state.textContent = text;
  }

  function selectIt() {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
  }

  input.addEventListener("focus", selectIt);
  button.addEventListener("click", function () {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(
        function () { say(button.dataset.copied); },
        function () { selectIt(); say(button.dataset.failed); }
      );
      return;
    }
    selectIt();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    say(copied ? button.dataset.copied : button.dataset.failed);
  });
})();
