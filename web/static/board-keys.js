/* The board's keyboard: `/` search, `j`/`k` next and previous order in the queue, Enter opens
 * it (the queue's own handler), Esc closes the help, the order panel or the re-optimisation
 * panel, `a` assigns the open order to the top suggestion, `?` shows the help. Nothing happens
 * while the dispatcher types in a field, or with Ctrl/Alt/Meta held (the browser's own keys).
 */
(function () {
  "use strict";

  var B = window.dispatchBoard;
  if (!B) return;
  var help = document.getElementById("keys-help");
  var search = document.getElementById("board-search");
  var queue = document.getElementById("queue-list");

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || target.isContentEditable) return true;
    if (tag !== "input") return false;
    return ["checkbox", "radio", "button", "submit", "reset"].indexOf((target.type || "").toLowerCase()) < 0;
  }
  var opener = null;
  function showHelp(show) {
    if (!help) return;
    if (show) { opener = document.activeElement; help.hidden = false; document.getElementById("keys-help-close").focus(); }
    else { help.hidden = true; if (opener && opener.focus) opener.focus(); opener = null; }
  }
  function rows() { return Array.prototype.slice.call(queue.querySelectorAll("li[data-order-id]")); }
  /* j/k: the next or previous order after the focused row (or the open one), focused and scrolled to. */
  function step(delta) {
    var list = rows();
    if (!list.length) return;
    var current = document.activeElement && document.activeElement.closest ? document.activeElement.closest("li[data-order-id]") : null;
    var at = current ? list.indexOf(current) : -1;
    if (at < 0 && B.state.selected != null) at = list.findIndex(function (li) { return Number(li.dataset.orderId) === B.state.selected; });
    var next = at < 0 ? (delta > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, at + delta));
    list[next].focus();
    list[next].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.altKey || e.metaKey || e.defaultPrevented) return;
    if (e.key === "Escape") {
      // Esc works from a field too: it leaves the field, then closes what is open.
      if (help && !help.hidden) { showHelp(false); e.preventDefault(); return; }
      if (typing(e.target)) { if (e.target === search) { e.target.blur(); e.preventDefault(); } return; }
      if (B.closeOrder() || B.closePlan()) e.preventDefault();
      return;
    }
    if (typing(e.target)) return;
    if (help && !help.hidden && e.key !== "?") return; // the help is modal: only ? and Esc
    switch (e.key) {
      case "/": e.preventDefault(); search.focus(); search.select(); break;
      case "j": e.preventDefault(); step(1); break;
      case "k": e.preventDefault(); step(-1); break;
      case "a": if (B.assignTopSuggestion()) e.preventDefault(); break;
      case "?": e.preventDefault(); showHelp(help.hidden); break;
      default: return;
    }
  });
  if (help) {
    document.getElementById("keys-help-close").addEventListener("click", function () { showHelp(false); });
    help.addEventListener("click", function (e) { if (e.target === help) showHelp(false); });
  }
  var hint = document.getElementById("keys-hint");
  if (hint) hint.addEventListener("click", function () { showHelp(true); });
})();
