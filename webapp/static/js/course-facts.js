/* UnionFlow: a registration form shows the facts of the course chosen in it (dates,
 * venue, who may join, review, places left), drawn by the server for every course the
 * select lists; this shows the one chosen when the choice changes.  Without JavaScript
 * the course a link chose is shown, and every course has its own page. */
(function () {
  "use strict";

  document.querySelectorAll("[data-course-facts]").forEach(function (box) {
    var select = document.getElementById(box.getAttribute("data-course-facts"));
    if (!select) return;
    function show() {
      box.querySelectorAll("[data-course]").forEach(function (card) {
        card.hidden = card.getAttribute("data-course") !== select.value;
      });
    }
    select.addEventListener("change", show);
    show();
  });
})();
