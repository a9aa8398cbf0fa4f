// The session page (spec §16, VIEW): the entry tree as the branch being shown, one row per
// entry, rendered only where it is in view (VIEW-009); a branch point switches between its
// branches (VIEW-002); the details of the selected entry; findings; usage per turn.
"use strict";
(function () {
  var D = JSON.parse(document.getElementById("page-data").textContent);
  var S = D.strings;
  var N = D.id.length;
  var ROW = 26; // px; every row has this height, so the list needs no measuring
  var OVERSCAN = 12;
  var KIND_NAMES = { m: "message", c: "compaction", l: "leaf pointer", x: "metadata" };
  var PART_NAMES = { u: "user", a: "assistant", o: "other", t: "thinking", i: "image",
    s: "compaction summary" };

  function $(id) { return document.getElementById(id); }
  function esc(text) {
    return String(text).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }
  function str(index) { return index < 0 ? "" : S[index]; }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function usd(micro) { return "$" + (micro / 1e6).toFixed(4); }

  $("noscript").hidden = true;

  // -- the tree: children in file order, roots, the active branch ------------------------
  // Decode the delta columns (session_page.session_view_data).
  var parentOf = new Int32Array(N), lineOf = new Float64Array(N), offsetOf = new Float64Array(N);
  var i;
  for (i = 0; i < N; i++) {
    parentOf[i] = D.parent[i] === 0 ? -1 : i - D.parent[i];
    lineOf[i] = (i ? lineOf[i - 1] : 0) + D.line[i];
    offsetOf[i] = (i ? offsetOf[i - 1] : 0) + D.offset[i];
  }
  D.parent = parentOf; D.line = lineOf; D.offset = offsetOf;
  var children = new Array(N);
  var roots = [];
  for (i = 0; i < N; i++) {
    var p = D.parent[i];
    if (p < 0) roots.push(i);
    else (children[p] || (children[p] = [])).push(i);
  }
  var active = new Uint8Array(N);
  for (i = 0; i < D.branch.length; i++) active[D.branch[i]] = 1;
  var side = new Uint8Array(N);
  for (i = 0; i < D.side.length; i++) side[D.side[i]] = 1;
  var findingsAt = {};
  D.findings.forEach(function (f, index) {
    if (f[6] >= 0) (findingsAt[f[6]] || (findingsAt[f[6]] = [])).push(index);
  });
  var usageAt = {};
  D.usage.forEach(function (u, index) {
    if (u[0] >= 0) (usageAt[u[0]] || (usageAt[u[0]] = [])).push(index);
  });

  function siblings(entry) {
    var p = D.parent[entry];
    return p < 0 ? roots : children[p];
  }

  // The branch below an entry: the child on the active branch, else the latest child that
  // is not a sub-agent's, else the latest child.
  function descend(entry) {
    var out = [];
    var guard = 0;
    var kids = children[entry];
    while (kids && kids.length && guard++ <= N) {
      var next = -1;
      for (var k = 0; k < kids.length; k++) if (active[kids[k]]) { next = kids[k]; break; }
      if (next < 0) {
        for (k = kids.length - 1; k >= 0; k--) if (!side[kids[k]]) { next = kids[k]; break; }
      }
      if (next < 0) next = kids[kids.length - 1];
      out.push(next);
      kids = children[next];
    }
    return out;
  }

  function ancestors(entry) {
    var out = [];
    var seen = new Set();
    var cursor = entry;
    while (cursor >= 0 && !seen.has(cursor)) {
      seen.add(cursor);
      out.push(cursor);
      cursor = D.parent[cursor];
    }
    return out.reverse();
  }

  // -- the branch shown ------------------------------------------------------------------
  var path = [];
  var depth = [];
  var rowOf = new Int32Array(N);
  var selected = 0;

  function setPath(entries) {
    path = entries;
    rowOf.fill(-1);
    depth = new Array(path.length);
    var level = 0;
    for (var r = 0; r < path.length; r++) {
      rowOf[path[r]] = r;
      if (siblings(path[r]).length > 1) level++;
      depth[r] = level;
    }
    $("tree-space").style.height = path.length * ROW + "px";
    var onActive = path.length === D.branch.length &&
      path.every(function (e, r) { return e === D.branch[r]; });
    $("tree-count").textContent = "(" + fmt(path.length) + " of " + fmt(N) + " on this branch)";
    $("path-status").textContent = onActive
      ? "Showing the active branch."
      : "Showing another branch (not the active one).";
    $("to-active").disabled = onActive;
    drawUsage();
  }

  function defaultPath() {
    if (D.branch.length) return D.branch.slice();
    if (!roots.length) return [];
    var root = roots[roots.length - 1];
    return [root].concat(descend(root));
  }

  function reveal(entry, focusDetail) {
    if (rowOf[entry] < 0) {
      var head = ancestors(entry);
      setPath(head.concat(descend(entry)));
    }
    select(rowOf[entry], true);
    if (focusDetail) $("detail").focus();
  }

  function switchBranch(row, delta) {
    var entry = path[row];
    var sibs = siblings(entry);
    if (sibs.length < 2) return false;
    var k = sibs.indexOf(entry);
    var next = sibs[(k + delta + sibs.length) % sibs.length];
    setPath(path.slice(0, row).concat([next], descend(next)));
    select(row, true);
    return true;
  }

  // -- rows --------------------------------------------------------------------------------
  var tree = $("tree");
  var space = $("tree-space");

  function rowHtml(r) {
    var e = path[r];
    var kind = D.kind[e];
    var sibs = siblings(e);
    var classes = "row";
    if (active[e]) classes += " on-active";
    if (r === selected) classes += " selected";
    if (findingsAt[e]) classes += " has-finding";
    var notes = [];
    if (e === D.leaf) notes.push('<span class="note leaf">◀ leaf</span>');
    if (children[e] && children[e].length > 1) {
      notes.push('<span class="note fork">⋔ ' + children[e].length + " branches</span>");
    }
    if (side[e]) notes.push('<span class="note">sub-agent</span>');
    if (findingsAt[e]) notes.push('<span class="note warn">⚠ ' + findingsAt[e].length + "</span>");
    var switcher = "";
    if (sibs.length > 1) {
      var k = sibs.indexOf(e) + 1;
      switcher = '<span class="switch"><button type="button" tabindex="-1" data-switch="-1" ' +
        'aria-label="previous branch">‹</button><span class="branch-of">branch ' + k + "/" +
        sibs.length + '</span><button type="button" tabindex="-1" data-switch="1" ' +
        'aria-label="next branch">›</button></span>';
    }
    return '<div class="' + classes + '" role="treeitem" id="row-' + r + '" data-row="' + r +
      '" aria-level="' + (depth[r] + 1) + '" aria-selected="' + (r === selected) +
      '" style="top:' + r * ROW + 'px">' +
      '<span class="mark" title="on the active branch">' + (active[e] ? "*" : " ") + "</span>" +
      '<span class="ln">L' + D.line[e] + "</span>" +
      '<span class="indent" style="width:' + Math.min(depth[r], 40) * 10 + 'px"></span>' +
      switcher + '<span class="kind kind-' + kind + '">' + (kind === "c" ? "✂ " : "") +
      "</span>" + '<span class="label">' + esc(str(D.label[e])) + "</span>" + notes.join("") +
      "</div>";
  }

  var drawn = "";
  function render() {
    var first = Math.max(0, Math.floor(tree.scrollTop / ROW) - OVERSCAN);
    var last = Math.min(path.length, first + Math.ceil(tree.clientHeight / ROW) + 2 * OVERSCAN);
    var html = [];
    for (var r = first; r < last; r++) html.push(rowHtml(r));
    var text = html.join("");
    if (text !== drawn) { space.innerHTML = text; drawn = text; }
    if (selected >= first && selected < last) {
      tree.setAttribute("aria-activedescendant", "row-" + selected);
    } else {
      tree.removeAttribute("aria-activedescendant");
    }
  }
  var pending = false;
  tree.addEventListener("scroll", function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; render(); });
  });

  function select(row, scroll) {
    if (!path.length) { render(); showDetail(-1); return; }
    selected = Math.max(0, Math.min(path.length - 1, row));
    if (scroll) {
      var top = selected * ROW;
      if (top < tree.scrollTop) tree.scrollTop = top;
      else if (top + ROW > tree.scrollTop + tree.clientHeight) {
        tree.scrollTop = top + ROW - tree.clientHeight;
      }
    }
    render();
    showDetail(path[selected]);
  }

  space.addEventListener("click", function (event) {
    var target = event.target;
    var rowElement = target.closest(".row");
    if (!rowElement) return;
    var row = Number(rowElement.getAttribute("data-row"));
    var button = target.closest("button[data-switch]");
    if (button) switchBranch(row, Number(button.getAttribute("data-switch")));
    else select(row, false);
    tree.focus();
  });

  function branchPoint(from, step) {
    for (var r = from + step; r >= 0 && r < path.length; r += step) {
      if (siblings(path[r]).length > 1) return r;
    }
    return from;
  }

  tree.addEventListener("keydown", function (event) {
    var page = Math.max(1, Math.floor(tree.clientHeight / ROW) - 1);
    var handled = true;
    switch (event.key) {
      case "ArrowDown": select(selected + 1, true); break;
      case "ArrowUp": select(selected - 1, true); break;
      case "PageDown": select(selected + page, true); break;
      case "PageUp": select(selected - page, true); break;
      case "Home": select(0, true); break;
      case "End": select(path.length - 1, true); break;
      case "ArrowRight": switchBranch(selected, 1); break;
      case "ArrowLeft": switchBranch(selected, -1); break;
      case "]": select(branchPoint(selected, 1), true); break;
      case "[": select(branchPoint(selected, -1), true); break;
      case "a": showActive(); break;
      case "Enter": $("detail").focus(); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });

  function showActive() {
    setPath(defaultPath());
    select(D.leaf >= 0 && rowOf[D.leaf] >= 0 ? rowOf[D.leaf] : 0, true);
  }
  $("to-active").addEventListener("click", function () { showActive(); tree.focus(); });

  // -- details of one entry ----------------------------------------------------------------
  function entryLink(entry, text) {
    return '<button type="button" class="link" data-reveal="' + entry + '">' + esc(text) +
      "</button>";
  }

  function resultOf(entry, callId) {
    var parts = D.parts[entry] || [];
    for (var k = 0; k < parts.length; k++) {
      if (parts[k][0] === "r" && parts[k][2] === callId) return parts[k];
    }
    return null;
  }

  function partHtml(part) {
    var kind = part[0];
    if (kind === "c") {
      var out = '<div class="part call"><h4>tool call <code>' + esc(str(part[1])) +
        "</code> <span class=\"muted\">[" + esc(str(part[3])) + "]</span></h4><pre>" +
        esc(str(part[2])) + "</pre>";
      var target = part[4];
      var result = target >= 0 ? resultOf(target, part[3]) : null;
      if (result) {
        out += '<div class="part result' + (result[4] ? " error" : "") + '"><h5>result' +
          (result[4] ? " (error)" : "") + " · " + entryLink(target, "line " + D.line[target]) +
          "</h5><pre>" + esc(str(result[3])) + "</pre></div>";
      } else {
        out += '<p class="warn-text">⚠ no result for this call in the file</p>';
      }
      return out + "</div>";
    }
    if (kind === "r") {
      var call = part[5];
      return '<div class="part result' + (part[4] ? " error" : "") + '"><h4>tool result <code>' +
        esc(str(part[1])) + "</code> <span class=\"muted\">[" + esc(str(part[2])) + "]</span>" +
        (part[4] ? " (error)" : "") + "</h4>" +
        (call >= 0 ? "<p>answers the call at " + entryLink(call, "line " + D.line[call]) + "</p>"
          : '<p class="warn-text">⚠ no call for this result in the file</p>') +
        "<pre>" + esc(str(part[3])) + "</pre></div>";
    }
    if (kind === "t") {
      return '<details class="part thinking"><summary>thinking</summary><pre>' +
        esc(str(part[1])) + "</pre></details>";
    }
    return '<div class="part part-' + kind + '"><h4>' + (PART_NAMES[kind] || kind) +
      "</h4><pre>" + esc(str(part[1])) + "</pre></div>";
  }

  function findingHtml(index, withEntry) {
    var f = D.findings[index];
    var text = '<span class="sev sev-' + f[0] + '">' + f[0] + "</span> " + esc(f[1]) + " " +
      "<code>" + esc(f[2]) + "</code> at line " + f[3] + ", byte " + f[4] + ": " +
      esc(str(f[5]));
    if (withEntry) {
      text += f[6] >= 0 ? " · " + entryLink(f[6], "go to the entry")
        : ' · <span class="muted">no entry (the line was skipped)</span>';
    }
    return '<li class="finding' + (f[7] ? " recovery" : "") + '" data-finding="' + index +
      '">' + (f[7] ? '<span class="tag">⚠ recovery</span> ' : "") + text + "</li>";
  }

  function showDetail(entry) {
    var box = $("detail");
    if (entry < 0) { box.innerHTML = "<p>The file has no entries.</p>"; return; }
    var rows = [
      ["id", "<code>" + esc(D.id[entry]) + "</code>"],
      ["kind", KIND_NAMES[D.kind[entry]]],
      ["line", D.line[entry] + " (byte " + fmt(D.offset[entry]) + ")"],
      ["parent", D.parent[entry] >= 0 ? entryLink(D.parent[entry], D.id[D.parent[entry]])
        : "none (a root)"],
      ["time", esc(str(D.time[entry])) || "—"],
      ["active branch", active[entry] ? "yes" + (entry === D.leaf ? ", the leaf" : "")
        : "no"],
    ];
    if (side[entry]) rows.push(["sub-agent", "yes"]);
    var kids = children[entry] || [];
    if (kids.length > 1) {
      rows.push(["branches", kids.map(function (kid, k) {
        return entryLink(kid, "branch " + (k + 1) + (active[kid] ? " (active)" : ""));
      }).join(" ")]);
    }
    var html = '<h3><span class="kind-name">' + KIND_NAMES[D.kind[entry]] + ":</span> " +
      esc(str(D.label[entry])) + '</h3><dl class="facts">' + rows.map(function (row) {
        return "<dt>" + row[0] + "</dt><dd>" + row[1] + "</dd>";
      }).join("") + "</dl>";
    if (findingsAt[entry]) {
      html += '<ul class="finding-list">' + findingsAt[entry].map(function (index) {
        return findingHtml(index, false);
      }).join("") + "</ul>";
    }
    var cut = D.compactions[String(entry)];
    if (cut) {
      html += '<div class="part compaction"><h4>✂ compaction</h4><p>';
      if (cut[4] >= 0) html += "Replaces the history with " + cut[4] + " message(s). ";
      else if (cut[0] >= 0) {
        html += "Keeps from " + entryLink(cut[0], "line " + D.line[cut[0]]) + ". ";
      } else html += "Keeps nothing from before it. ";
      html += "Cut from the context: <strong>" + cut[1] + " entr" + (cut[1] === 1 ? "y" : "ies") +
        "</strong>";
      if (cut[1] > 0) {
        html += " (" + entryLink(cut[2], "first: line " + D.line[cut[2]]) + ", " +
          entryLink(cut[3], "last: line " + D.line[cut[3]]) + ")";
      }
      html += "; " + (cut[4] >= 0 ? "the history below" : "the summary below") +
        " stands in their place.</p></div>";
    }
    html += (D.parts[entry] || []).map(partHtml).join("");
    if (usageAt[entry]) {
      html += '<table class="usage-table"><caption>usage</caption><tr><th>model</th>' +
        "<th>input</th><th>output</th><th>cache read</th><th>cache write</th><th>cost</th></tr>" +
        usageAt[entry].map(function (index) {
          var u = D.usage[index];
          return "<tr><td>" + esc(str(u[6])) + "</td><td>" + fmt(u[1]) + "</td><td>" +
            fmt(u[2]) + "</td><td>" + fmt(u[3]) + "</td><td>" + fmt(u[4]) + "</td><td>" +
            (u[5] < 0 ? "unpriced" : usd(u[5])) + "</td></tr>";
        }).join("") + "</table>";
    }
    box.innerHTML = html;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("button[data-reveal]");
    if (link) reveal(Number(link.getAttribute("data-reveal")), false);
  });

  // -- the header and the findings ---------------------------------------------------------
  (function header() {
    var m = D.meta;
    $("title").textContent = m.title || m.session_id || m.name;
    var facts = [["file", m.path], ["format", m.format], ["session", m.session_id],
      ["model", m.model], ["cwd", m.cwd], ["started", m.started],
      ["size", fmt(m.size) + " bytes, " + fmt(m.lines) + " lines, " + fmt(m.entries) +
        " entries"], ["recovery", m.recovery], ["errors", String(m.errors)]];
    $("meta").innerHTML = facts.filter(function (f) { return f[1]; }).map(function (f) {
      return "<div><dt>" + f[0] + '</dt><dd data-fact="' + f[0] + '">' + esc(f[1]) +
        "</dd></div>";
    }).join("");
  })();

  (function findings() {
    var LIMIT = 1000;
    var box = $("findings");
    if (!D.findings.length) { box.innerHTML = "<p>No findings: the file reads clean.</p>"; return; }
    var shown = [];
    for (var k = 0; k < D.findings.length && k < LIMIT; k++) shown.push(findingHtml(k, true));
    box.innerHTML = '<ul class="finding-list">' + shown.join("") + "</ul>" +
      (D.findings.length > LIMIT ? "<p>" + fmt(D.findings.length - LIMIT) +
        " more: run <code>sessionspec check</code> for all of them.</p>" : "");
  })();

  // -- usage and cost per turn, over the branch shown ---------------------------------------
  var BARS = 120;
  function drawUsage() {
    var turns = []; // [first row, tokens, cost micro, unpriced]
    var current = null;
    for (var r = 0; r < path.length; r++) {
      var e = path[r];
      var parts = D.parts[e] || [];
      var userTurn = false;
      for (var k = 0; k < parts.length; k++) if (parts[k][0] === "u") { userTurn = true; break; }
      if (userTurn || current === null) {
        current = [r, 0, 0, 0];
        turns.push(current);
      }
      var records = usageAt[e] || [];
      for (k = 0; k < records.length; k++) {
        var u = D.usage[records[k]];
        current[1] += u[1] + u[2] + u[3] + u[4];
        if (u[5] < 0) current[3]++; else current[2] += u[5];
      }
    }
    var box = $("usage");
    var totalTokens = 0, totalCost = 0, unpriced = 0;
    turns.forEach(function (t) { totalTokens += t[1]; totalCost += t[2]; unpriced += t[3]; });
    if (!totalTokens && !unpriced) { box.innerHTML = "<p>No usage recorded on this branch.</p>"; return; }
    var per = Math.max(1, Math.ceil(turns.length / BARS));
    var buckets = [];
    for (var b = 0; b * per < turns.length; b++) {
      var slice = turns.slice(b * per, (b + 1) * per);
      var bucket = [slice[0][0], 0, 0, b * per + 1, Math.min(turns.length, (b + 1) * per)];
      slice.forEach(function (t) { bucket[1] += t[1]; bucket[2] += t[2]; });
      buckets.push(bucket);
    }
    function chart(title, index, label) {
      var max = 1;
      buckets.forEach(function (x) { max = Math.max(max, x[index]); });
      var width = 600, height = 90, barWidth = width / buckets.length;
      var bars = buckets.map(function (x, n) {
        var h = Math.round((x[index] / max) * (height - 4));
        var turnsText = x[3] === x[4] ? "turn " + x[3] : "turns " + x[3] + "–" + x[4];
        return '<rect class="bar" data-row="' + x[0] + '" x="' + (n * barWidth).toFixed(2) +
          '" y="' + (height - h) + '" width="' + Math.max(1, barWidth - 1).toFixed(2) +
          '" height="' + h + '"><title>' + turnsText + ": " + label(x[index]) + "</title></rect>";
      }).join("");
      return '<figure class="chart"><figcaption>' + title + " (highest: " + label(max) +
        ')</figcaption><svg viewBox="0 0 ' + width + " " + height + '" role="img" aria-label="' +
        title + '" preserveAspectRatio="none">' + bars + "</svg></figure>";
    }
    var rows = buckets.slice(0, 200).map(function (x) {
      return "<tr><td>" + (x[3] === x[4] ? x[3] : x[3] + "–" + x[4]) + "</td><td>" + fmt(x[1]) +
        "</td><td>" + usd(x[2]) + "</td></tr>";
    }).join("");
    box.innerHTML = '<p class="usage-total">' + fmt(turns.length) + " turn(s), " +
      fmt(totalTokens) + " tokens, " + usd(totalCost) +
      (unpriced ? " (+" + unpriced + " unpriced request(s))" : "") + " · pricing " +
      esc(D.meta.pricing) + "</p>" + chart("tokens per turn", 1, fmt) +
      chart("cost per turn", 2, usd) +
      '<details><summary>as a table</summary><table class="usage-table"><tr><th>turn</th>' +
      "<th>tokens</th><th>cost</th></tr>" + rows + "</table></details>";
  }
  $("usage").addEventListener("click", function (event) {
    var bar = event.target.closest("rect[data-row]");
    if (bar) { select(Number(bar.getAttribute("data-row")), true); tree.focus(); }
  });

  // -- print: the branch shown as a plain list (the screen list holds only the rows in view)
  window.addEventListener("beforeprint", function () {
    var LIMIT = 5000;
    var lines = [];
    for (var r = 0; r < path.length && r < LIMIT; r++) {
      var e = path[r];
      lines.push("<li>" + (active[e] ? "* " : "  ") + "L" + D.line[e] + " " +
        esc(str(D.label[e])) + (e === D.leaf ? " ◀ leaf" : "") + "</li>");
    }
    $("print-tree").innerHTML = "<h2>The branch shown</h2><ol>" + lines.join("") + "</ol>" +
      (path.length > LIMIT ? "<p>… " + fmt(path.length - LIMIT) + " more entries.</p>" : "");
  });

  // For the browser tests and for scripting the page from the console.
  window.sessionView = {
    pathIds: function () { return path.map(function (e) { return D.id[e]; }); },
    selectedId: function () { return D.id[path[selected]]; },
    indexOf: function (id) { return D.id.indexOf(id); },
    reveal: reveal,
  };
  setPath(defaultPath());
  select(D.leaf >= 0 && rowOf[D.leaf] >= 0 ? rowOf[D.leaf] : 0, true);
})();
