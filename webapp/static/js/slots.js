/* UnionFlow: a form's duty slots follow the station chosen in it.  When a station
 * select changes, the server draws the form again (what the "列出所选驿站的时段" button
 * does without JavaScript, which this hides) and the slot list is taken from its answer;
 * nothing else on the page changes and nothing is submitted.  The server still checks
 * on submit that the slot belongs to the station. */
(function () {
  "use strict";

  function refreshSlots(form, slots, button) {
    var body = new FormData(form);
    slots.forEach(function (select) { body.delete(select.name); });  // the old station's
    body.set(button.name, button.value);
    return fetch(form.getAttribute("action") || window.location.href,
                 {method: "POST", body: body, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        slots.forEach(function (select) {
          var fresh = page.getElementById(select.id);
          if (!fresh) return;
          var options = Array.prototype.map.call(fresh.options, function (option) {
            var copy = document.createElement("option");
            copy.value = option.value;
            copy.textContent = option.textContent;
            return copy;
          });
          select.replaceChildren.apply(select, options);
          select.value = "";
          select.dispatchEvent(new Event("change", {bubbles: true}));
        });
      });
  }

  document.querySelectorAll("form").forEach(function (form) {
    var slots = Array.prototype.slice.call(form.querySelectorAll("select[data-uf-slots]"));
    var button = form.querySelector("[data-uf-slot-refresh]");
    if (!slots.length || !button || !window.fetch || !window.DOMParser) return;
    button.hidden = true;
    form.querySelectorAll("select[data-uf-station]").forEach(function (station) {
      station.addEventListener("change", function () {
        form.setAttribute("aria-busy", "true");
        refreshSlots(form, slots, button)
          .catch(function () { button.hidden = false; button.click(); })  // the page way
          .then(function () { form.removeAttribute("aria-busy"); });
      });
    });
  });
})();
