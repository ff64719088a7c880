/* UnionFlow forms: show a field only when its condition holds, and ask before
 * irreversible actions.  The server decides again on submit; this only saves people
 * from filling in fields that do not apply. */
(function () {
  "use strict";

  // A small reader for the definition's condition language: names like form.x,
  // strings, numbers, true/false/null, lists, == != < <= > >= in, not in, and, or, not.
  function tokenize(src) {
    var re = /\s*(?:(\d+(?:\.\d+)?)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(==|!=|<=|>=|<|>|\(|\)|\[|\]|,)|([A-Za-z_][\w.]*))/y;
    var out = [], m;
    re.lastIndex = 0;
    while (re.lastIndex < src.length) {
      if (/^\s*$/.test(src.slice(re.lastIndex))) break;
      m = re.exec(src);
      if (!m) throw new Error("cannot read");
      if (m[1]) out.push({t: "num", v: parseFloat(m[1])});
      else if (m[2]) out.push({t: "str", v: m[2].slice(1, -1)});
      else if (m[3]) out.push({t: "op", v: m[3]});
      else out.push({t: "name", v: m[4]});
    }
    return out;
  }

  function parse(src) {
    var toks = tokenize(src), i = 0;
    function peek(v) { return toks[i] && toks[i].v === v; }
    function next() { return toks[i++]; }
    function orExpr() {
      var l = andExpr();
      while (peek("or")) { next(); var r = andExpr(); l = (function (a, b) { return function (e) { return a(e) || b(e); }; })(l, r); }
      return l;
    }
    function andExpr() {
      var l = notExpr();
      while (peek("and")) { next(); var r = notExpr(); l = (function (a, b) { return function (e) { return a(e) && b(e); }; })(l, r); }
      return l;
    }
    function notExpr() {
      if (peek("not")) { next(); var x = notExpr(); return function (e) { return !x(e); }; }
      return compare();
    }
    function compare() {
      var l = atom();
      var ops = ["==", "!=", "<", "<=", ">", ">=", "in"];
      if (peek("not") && toks[i + 1] && toks[i + 1].v === "in") { next(); next(); var r0 = atom(); return function (e) { var c = r0(e); return !(Array.isArray(c) && c.indexOf(l(e)) >= 0); }; }
      if (toks[i] && ops.indexOf(toks[i].v) >= 0) {
        var op = next().v, r = atom();
        return function (e) {
          var a = l(e), b = r(e);
          switch (op) {
            case "==": return a == b;  // eslint-disable-line eqeqeq
            case "!=": return a != b;  // eslint-disable-line eqeqeq
            case "in": return Array.isArray(b) ? b.some(function (x) { return x == a || (Array.isArray(a) && a.indexOf(String(x)) >= 0); }) : false;
            case "<": return a !== null && b !== null && a < b;
            case "<=": return a !== null && b !== null && a <= b;
            case ">": return a !== null && b !== null && a > b;
            default: return a !== null && b !== null && a >= b;
          }
        };
      }
      return l;
    }
    function atom() {
      var t = next();
      if (!t) throw new Error("end");
      if (t.v === "(") { var x = orExpr(); next(); return x; }
      if (t.v === "[") {
        var items = [];
        while (!peek("]")) { items.push(atom()); if (peek(",")) next(); if (i >= toks.length) throw new Error("list"); }
        next();
        return function (e) { return items.map(function (f) { return f(e); }); };
      }
      if (t.t === "num" || t.t === "str") return function () { return t.v; };
      if (t.v === "true") return function () { return true; };
      if (t.v === "false") return function () { return false; };
      if (t.v === "null" || t.v === "None") return function () { return null; };
      if (t.t === "name") return function (e) { return e(t.v); };
      throw new Error("unexpected " + t.v);
    }
    var f = orExpr();
    if (i < toks.length) throw new Error("trailing");
    return f;
  }

  function valueOf(form, name) {
    var field = name.replace(/^form\./, "");
    var inputs = form.querySelectorAll("[name='" + field + "']");
    if (!inputs.length) return null;
    var first = inputs[0];
    if (first.type === "checkbox" && inputs.length > 1) {
      return Array.prototype.filter.call(inputs, function (x) { return x.checked; }).map(function (x) { return x.value; });
    }
    if (first.type === "checkbox") return first.checked;
    if (first.type === "radio") {
      var picked = Array.prototype.find.call(inputs, function (x) { return x.checked; });
      return picked ? picked.value : null;
    }
    var v = first.value;
    if (v === "") return null;
    return (first.type === "number" && !isNaN(parseFloat(v))) ? parseFloat(v) : v;
  }

  function refresh(form) {
    form.querySelectorAll("[data-show-if]").forEach(function (box) {
      if (!box._cond) {
        try { box._cond = parse(box.getAttribute("data-show-if")); } catch (e) { box._cond = function () { return true; }; }
      }
      var show;
      try { show = !!box._cond(function (n) { return valueOf(form, n); }); } catch (e) { show = true; }
      box.hidden = !show;
    });
  }

  document.querySelectorAll("form").forEach(function (form) {
    if (form.querySelector("[data-show-if]")) {
      form.addEventListener("input", function () { refresh(form); });
      form.addEventListener("change", function () { refresh(form); });
      refresh(form);
    }
  });

  // A form sent back with mistakes: bring its summary into view and to the screen
  // reader (on a phone the first wrong field is often below the fold).
  var summary = document.querySelector("[data-uf-error-summary]");
  if (summary) summary.focus();

  // A diagram wider than the phone is shown at its own size in a box that scrolls
  // sideways: open it with the current step in the middle, not at its left edge.
  document.querySelectorAll(".uf-diagram-scroll[data-focus]").forEach(function (box) {
    var img = box.querySelector("img");
    function centre() {
      var at = parseFloat(box.getAttribute("data-focus"));
      if (!isNaN(at) && box.scrollWidth > box.clientWidth) {
        box.scrollLeft = Math.max(0, at * box.scrollWidth - box.clientWidth / 2);
      }
    }
    if (img && !img.complete) img.addEventListener("load", centre); else centre();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
  });
})();
