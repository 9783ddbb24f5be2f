/* The special site's small progressive enhancements. Every page works without it. */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /* Forms that must be sent once (entry): a double click sends one request. */
  function guardForms(root) {
    root.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.sent) { event.preventDefault(); return; }
        form.dataset.sent = "1";
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      });
    });
  }

  /* 更新 (refresh): re-read the stamp card and the transactions without reloading the page. */
  function setupRefresh() {
    var button = document.getElementById("refresh");
    var holder = document.getElementById("stamp-card-holder");
    var status = document.getElementById("refresh-status");
    if (!button || !holder) return;
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = button.dataset.loading || "…";
      fetch(button.dataset.url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" }, cache: "no-store" })
        .then(function (response) {
          /* Signed out meanwhile: the server sent the sign-in page; go there properly. */
          if (response.redirected) { window.location.reload(); throw new Error("signed out"); }
          if (!response.ok) throw new Error(String(response.status));
          return response.text();
        })
        .then(function (html) {
          holder.innerHTML = html;
          guardForms(holder);
          /* One clock: the portal's. Say when the card was last scored, not the browser's time. */
          var scored = holder.querySelector("#scored-at");
          var when = scored ? scored.textContent.trim() : "";
          status.textContent = document.documentElement.lang === "en"
            ? "Updated. Last scored: " + when
            : "更新しました。最終集計：" + when;
        })
        .catch(function () {
          status.textContent = document.documentElement.lang === "en" ? "Could not refresh. Please try again." : "更新できませんでした。もう一度お試しください。";
        })
        .finally(function () { button.disabled = false; });
    });
  }

  /* Videos: count the time really played (timeupdate deltas while playing; a seek adds nothing),
     and at the share the server asks for (90%), tell the server, which checks the elapsed time too. */
  function setupVideo(card) {
    var video = card.querySelector("video");
    var status = card.querySelector(".video-status");
    var share = parseFloat(card.dataset.share) || 0.9;
    var played = 0, last = null, token = null, sent = false, starting = null;

    function say(text, kind) {
      status.textContent = text;
      status.classList.remove("done", "error");
      if (kind) status.classList.add(kind);
    }
    function post(url, body) {
      return fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body || {}),
      }).then(function (r) { return r.json().then(function (data) { return { status: r.status, data: data }; }); });
    }
    function start() {
      if (token || starting) return starting;
      starting = post(card.dataset.startUrl).then(function (r) {
        if (r.status === 200) token = r.data.token;
        return token;
      }).catch(function () { starting = null; });
      return starting;
    }
    function finish() {
      if (sent || !token) return;
      sent = true;
      post(card.dataset.watchedUrl, { token: token, played_seconds: played }).then(function (r) {
        if (r.status === 200 || r.status === 201) {
          card.dataset.watched = "true";
          say(r.data.message, "done");
        } else if (r.status === 409 && r.data.retry_after !== undefined) {
          sent = false;  /* the server thinks it is too soon: ask again a little later */
          setTimeout(finish, (r.data.retry_after + 0.5) * 1000);
        } else {
          say(r.data.message || (document.documentElement.lang === "en" ? "The view could not be recorded. Please try again." : "視聴を記録できませんでした。もう一度お試しください。"), "error");
        }
      }).catch(function () { sent = false; });
    }
    video.addEventListener("play", function () { last = video.currentTime; start(); });
    video.addEventListener("seeking", function () { last = null; });
    video.addEventListener("seeked", function () { last = video.paused ? null : video.currentTime; });
    video.addEventListener("pause", function () { last = null; });
    video.addEventListener("timeupdate", function () {
      if (video.paused || video.seeking) return;
      var now = video.currentTime;
      if (last !== null) {
        var delta = now - last;
        /* timeupdate fires every ~250 ms; a bigger jump is a seek, not playing. */
        if (delta > 0 && delta < 1.5 * Math.max(1, video.playbackRate)) played += delta;
      }
      last = now;
      var duration = video.duration || parseFloat(card.dataset.duration) || 0;
      if (duration && played >= share * duration) {
        if (token) finish(); else if (starting) starting.then(finish);
      }
    });
    video.addEventListener("ended", function () {
      var duration = video.duration || parseFloat(card.dataset.duration) || 0;
      if (duration && played >= share * duration && token) { finish(); return; }
      if (sent || card.dataset.watched === "true") return;
      /* Skipped ahead: say why it did not count and how to make it count. */
      var seconds = Math.round(played), needed = Math.ceil(share * duration);
      say(document.documentElement.lang === "en"
        ? "Not counted: only " + seconds + " of the " + needed + " seconds needed were played (skipping ahead does not count). Play the video again from the start to the end."
        : "カウントされませんでした：再生されたのは必要な" + needed + "秒のうち" + seconds + "秒です（早送り・スキップは数えません）。最初から最後まで再生し直してください。", "error");
      played = 0;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    guardForms(document);
    setupRefresh();
    document.querySelectorAll("[data-video]").forEach(setupVideo);
  });
})();
