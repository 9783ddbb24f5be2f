/* The campaign look: countdown, page-top button, course sections folded on phones. Every page works without it. */
(function () {
  "use strict";
  var english = document.documentElement.lang === "en";

  /* Counts down in the portal's clock: the page says what "now" is, the browser only adds the time since. */
  function setupCountdown() {
    var box = document.getElementById("countdown");
    if (!box || !box.dataset.endsAt || !box.dataset.now) return;
    var value = box.querySelector(".countdown-value");
    if (!value) return;
    var ends = Date.parse(box.dataset.endsAt), offset = Date.parse(box.dataset.now) - Date.now();
    function tick() {
      /* Whole minutes left, rounded up: at 12:00:00.001 the period has 16 days 12 hours to go, as it reads. */
      var left = Math.ceil(Math.max(0, ends - (Date.now() + offset)) / 60000);
      var days = Math.floor(left / 1440), hours = Math.floor((left % 1440) / 60), minutes = left % 60;
      value.textContent = english
        ? days + (days === 1 ? " day " : " days ") + hours + " h " + minutes + " min"
        : days + "日 " + hours + "時間 " + minutes + "分";
    }
    tick();
    setInterval(tick, 30000);
  }

  function setupPageTop() {
    var link = document.getElementById("page-top");
    if (!link) return;
    function update() { link.hidden = window.scrollY < 600; }
    update();
    window.addEventListener("scroll", update, { passive: true });
  }

  /* The sticky entry button shows once the hero's own entry button has scrolled out of view. */
  function setupStickyEntry() {
    var sticky = document.getElementById("sticky-entry");
    var cta = document.querySelector(".hero .cta");
    if (!sticky || !cta) return;
    function update() { sticky.hidden = cta.getBoundingClientRect().bottom > 0; }
    update();
    window.addEventListener("scroll", update, { passive: true });
  }

  /* On a phone the course sections start folded (the first stays open), so the page is not one long wall. */
  function foldCourses() {
    if (!window.matchMedia || !window.matchMedia("(max-width: 40rem)").matches) return;
    document.querySelectorAll("details[data-fold]").forEach(function (details, index) {
      if (index > 0 && !window.location.hash.includes(details.id)) details.open = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCountdown();
    setupPageTop();
    setupStickyEntry();
    foldCourses();
  });
})();
