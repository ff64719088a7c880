/* UnionFlow: a unit field suggests units as one types.  Each input[data-unit-picker]
 * gets a <datalist> filled from a small JSON answer (up to 20 units of the viewer's part
 * of the tree whose name or code holds what was typed); picking one puts its code in the
 * field and shows its name below.  The field stays a plain text field: without this
 * script a typed code works the same, and the server checks the code on submit. */
(function () {
  "use strict";

  var script = document.currentScript;
  var endpoint = script && script.getAttribute("data-endpoint");
  if (!endpoint || !window.fetch || !window.URLSearchParams) return;
  var WAIT = 200;  // ms after the last key before asking

  function attach(input, n) {
    var list = document.createElement("datalist");
    list.id = "uf-unit-options-" + n;
    input.parentNode.insertBefore(list, input.nextSibling);
    input.setAttribute("list", list.id);
    // Where the picked unit's name shows: the one the server wrote for the value it
    // was sent, if any, else a line of its own (hidden while empty).
    var picked = input.parentNode.querySelector(".uf-unit-picked");
    if (!picked) {
      picked = document.createElement("div");
      picked.className = "form-text uf-unit-picked";
      picked.hidden = true;
      list.parentNode.insertBefore(picked, list.nextSibling);
    }
    picked.setAttribute("aria-live", "polite");
    var labels = {};  // code -> label, of every unit suggested so far
    var timer = null, asked = null, pending = null;

    function showPicked() {
      picked.textContent = labels[input.value.trim()] || "";
      picked.hidden = !picked.textContent;
    }

    function ask() {
      var text = input.value.trim();
      if (text === asked) return;
      asked = text;
      if (pending) pending.abort();
      if (!text) { list.replaceChildren(); return; }
      pending = window.AbortController ? new AbortController() : null;
      var query = new URLSearchParams({q: text, scope: input.getAttribute("data-unit-picker")});
      fetch(endpoint + "?" + query.toString(), {
        credentials: "same-origin", headers: {Accept: "application/json"},
        signal: pending ? pending.signal : undefined
      }).then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      }).then(function (answer) {
        list.replaceChildren.apply(list, answer.units.map(function (unit) {
          labels[unit.code] = unit.label;
          var option = document.createElement("option");
          option.value = unit.code;
          option.textContent = unit.label;
          return option;
        }));
        showPicked();
      }).catch(function () { /* typing on, or offline: the field still takes a code */ });
    }

    input.addEventListener("input", function () {
      showPicked();
      if (labels[input.value.trim()]) return;  // a suggestion was picked: nothing to ask
      clearTimeout(timer);
      timer = setTimeout(ask, WAIT);
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("input[data-unit-picker]"), attach);
})();
