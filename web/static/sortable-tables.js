// Sortable tables: a click on a column's heading sorts `table[data-sortable]` by that column,
// again the other way. A cell's `data-sort` is its number (a percentage as a share, so 9.5 %
// sorts before 10.0 %; empty: no figure, always last); other cells sort by their text in the
// page's language (Chinese names by pinyin). Headings marked `data-nosort` stay as they are.
// Our own few lines: sort keys come from the page (data-sort), so no library has to guess numbers.
(function () {
  var collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true, sensitivity: "base" });

  function key(cell) {
    if (!cell) return { empty: true };
    if (cell.hasAttribute("data-sort")) {
      var raw = cell.getAttribute("data-sort");
      return raw === "" ? { empty: true } : { num: Number(raw) };
    }
    var text = cell.textContent.trim();
    return text === "" ? { empty: true } : { text: text };
  }

  function compare(a, b) {
    if (a.empty || b.empty) return a.empty && b.empty ? 0 : a.empty ? 1 : -1;
    if (a.num !== undefined && b.num !== undefined) return a.num - b.num;
    return collator.compare(a.text !== undefined ? a.text : String(a.num), b.text !== undefined ? b.text : String(b.num));
  }

  function sortable(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, column) {
      if (th.hasAttribute("data-nosort")) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { if (h.hasAttribute("aria-sort")) h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.map.call(body.rows, function (row, i) { return { row: row, key: key(row.cells[column]), i: i }; });
        rows.sort(function (a, b) {
          if (a.key.empty || b.key.empty) return compare(a.key, b.key) || a.i - b.i;  // no figure: last either way
          return (ascending ? compare(a.key, b.key) : compare(b.key, a.key)) || a.i - b.i;
        });
        rows.forEach(function (r) { body.appendChild(r.row); });
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table[data-sortable]"), sortable);
})();
