// The conformance report page (spec §16, VIEW-012): filters over the requirement rows, and
// failures opened from the table, by "expand every failure", or for printing.
"use strict";
(function () {
  function $(id) { return document.getElementById(id); }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.req"));
  var failures = Array.prototype.slice.call(document.querySelectorAll("details.failure"));

  function filter() {
    var onlyDiffer = $("only-differ").checked;
    var status = $("status-filter").value;
    var shown = 0;
    rows.forEach(function (row) {
      var visible = (!onlyDiffer || row.getAttribute("data-differs") === "1") &&
        (!status || row.getAttribute("data-statuses").split(" ").indexOf(status) >= 0);
      row.hidden = !visible;
      if (visible) shown++;
    });
    document.querySelectorAll("table.reqs").forEach(function (table) {
      table.hidden = !table.querySelector("tr.req:not([hidden])");
    });
    $("shown").textContent = shown + " of " + rows.length + " requirement rows shown";
  }
  $("only-differ").addEventListener("change", filter);
  $("status-filter").addEventListener("change", filter);

  function openFailure(id) {
    var target = document.getElementById(id);
    if (target && target.tagName === "DETAILS") {
      target.open = true;
      target.scrollIntoView({ block: "start" });
      target.querySelector("summary").focus();
    }
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.to-failure");
    if (!link) return;
    event.preventDefault();
    var id = link.getAttribute("href").slice(1);
    history.replaceState(null, "", "#" + id);
    openFailure(id);
  });
  if (location.hash) openFailure(location.hash.slice(1));

  var expanded = false;
  $("expand-all").addEventListener("click", function () {
    expanded = !expanded;
    failures.forEach(function (item) { item.open = expanded; });
    $("expand-all").textContent = expanded ? "Collapse every failure" : "Expand every failure";
  });
  window.addEventListener("beforeprint", function () {
    failures.forEach(function (item) { item.open = true; });
  });
  filter();
})();
