/* The definition editor: line numbers with the problem lines marked, a check of the text
 * as it is typed (debounced) that lists the problems or draws the diagram, and a click on
 * a problem that selects its line.  Without this file the "check" button does the same
 * on the server; publishing is always checked again there. */
(function () {
  "use strict";
  var form = document.getElementById("definition-editor");
  if (!form) return;
  var source = form.querySelector("textarea[name=source]");
  var gutter = form.querySelector(".uf-gutter");
  var status = document.getElementById("check-status");
  var list = document.getElementById("problems");
  var diagram = document.getElementById("diagram");
  var note = document.getElementById("diagram-note");
  var cursor = document.getElementById("cursor-line");
  var csrf = form.querySelector("input[name=csrf_token]");
  var msg = function (name, n) {
    return (form.getAttribute("data-msg-" + name) || "").replace("{n}", n);
  };
  var badLines = {};
  var timer = null, sequence = 0;

  function lineCount() { return source.value.split("\n").length; }

  function drawGutter() {
    var n = lineCount(), parts = [];
    for (var i = 1; i <= n; i++) {
      parts.push('<div class="uf-gutter-line' + (badLines[i] ? " uf-bad" : "") +
                 '" data-line="' + i + '">' + i + "</div>");
    }
    // Absolutely placed inside: the numbers never make the row taller than the textarea.
    gutter.innerHTML = '<div class="uf-gutter-lines">' + parts.join("") + "</div>";
    gutter.scrollTop = source.scrollTop;
  }

  function readProblemsFromPage() {
    badLines = {};
    list.querySelectorAll(".uf-problem[data-line]").forEach(function (item) {
      var line = parseInt(item.getAttribute("data-line"), 10);
      if (line) badLines[line] = true;
    });
  }

  function problemItem(p) {
    var li = document.createElement("li");
    li.className = "uf-problem mb-2";
    li.setAttribute("data-line", p.line || "");
    var where;
    if (p.line) {
      where = document.createElement("a");
      where.href = "#source";
      where.className = "uf-goto fw-semibold";
      where.setAttribute("data-line", p.line);
      where.textContent = msg("line", p.line);
    } else {
      where = document.createElement("span");
      where.className = "fw-semibold";
      where.textContent = msg("whole");
    }
    li.appendChild(where);
    li.appendChild(document.createTextNode("："));
    var text = document.createElement("span");
    text.className = "uf-problem-message";
    text.textContent = p.message;
    li.appendChild(text);
    if (p.excerpt) {
      var pre = document.createElement("pre"), code = document.createElement("code");
      pre.className = "uf-excerpt small mb-0 mt-1 p-1 bg-light border rounded";
      code.textContent = p.excerpt;
      pre.appendChild(code);
      li.appendChild(pre);
    }
    return li;
  }

  function show(result) {
    list.innerHTML = "";
    badLines = {};
    result.problems.forEach(function (p) {
      list.appendChild(problemItem(p));
      if (p.line) badLines[p.line] = true;
    });
    var ok = result.ok;
    status.textContent = ok ? msg("ok") : msg("problems", result.problems.length);
    status.className = ok ? "text-success" : "text-danger";
    source.classList.toggle("is-invalid", !ok);
    if (ok) source.removeAttribute("aria-invalid");
    else source.setAttribute("aria-invalid", "true");
    if (ok && result.svg) {
      diagram.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(result.svg);
      diagram.classList.remove("d-none");
    }
    // A diagram of the last good text stays, dimmed and said to be the last good one;
    // without one, the note says where the diagram will be.  One note, never both.
    var old = !ok && !!diagram.getAttribute("src");
    diagram.classList.toggle("opacity-50", old);
    note.textContent = msg(old ? "stale" : "empty");
    diagram.alt = msg(old ? "alt-stale" : "alt");  // what a screen reader hears agrees
    note.classList.toggle("d-none", ok && !!diagram.getAttribute("src"));
    drawGutter();
  }

  function check() {
    var mine = ++sequence;
    var body = new FormData();
    body.append("source", source.value);
    body.append("key", form.getAttribute("data-key"));
    body.append("new", form.getAttribute("data-new"));
    status.textContent = msg("checking");
    fetch(form.getAttribute("data-check-url"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"X-CSRFToken": csrf ? csrf.value : "", "Accept": "application/json"}
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    }).then(function (result) {
      if (mine === sequence) show(result);  // an older answer never overwrites a newer one
    }).catch(function () {
      if (mine === sequence) { status.textContent = msg("failed"); status.className = "text-danger"; }
    });
  }

  function goTo(line) {
    var lines = source.value.split("\n"), start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    var end = start + (lines[line - 1] || "").length;
    source.focus();
    source.setSelectionRange(start, end);
    var height = parseFloat(getComputedStyle(source).lineHeight) || 24;
    source.scrollTop = Math.max(0, (line - 3) * height);
    showCursor();
  }

  function showCursor() {
    var line = source.value.slice(0, source.selectionStart).split("\n").length;
    cursor.textContent = msg("cursor", line);
  }

  gutter.classList.remove("d-none");
  readProblemsFromPage();
  drawGutter();
  source.addEventListener("scroll", function () { gutter.scrollTop = source.scrollTop; });
  source.addEventListener("input", function () {
    drawGutter();
    showCursor();
    clearTimeout(timer);
    timer = setTimeout(check, 600);
  });
  ["keyup", "click", "focus"].forEach(function (name) { source.addEventListener(name, showCursor); });
  list.addEventListener("click", function (event) {
    var link = event.target.closest(".uf-goto");
    if (!link) return;
    event.preventDefault();
    goTo(parseInt(link.getAttribute("data-line"), 10));
  });
  if (!list.children.length && !diagram.getAttribute("src")) check();
})();
