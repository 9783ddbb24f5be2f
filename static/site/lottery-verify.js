/* The lottery checked in the browser with WebCrypto (SubtleCrypto), following the published
   procedure (docs/lottery-verification.md): the frozen eligible list against eligible_hash, the
   revealed seed against seed_hash, every member ranked by HMAC-SHA256(seed, member ID), and the
   result compared with the winners this page publishes. Nothing is sent anywhere. */
(function () {
  "use strict";
  var english = document.documentElement.lang === "en";
  var encoder = new TextEncoder();

  function t(ja, en) { return english ? en : ja; }
  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function fromHex(text) {
    var bytes = new Uint8Array(text.length / 2);
    for (var i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.substr(i * 2, 2), 16);
    return bytes;
  }
  function sha256(bytes) { return crypto.subtle.digest("SHA-256", bytes).then(hex); }
  /* The same mask as the portal's (lottery.services.member_id_mask): M00****23. */
  function mask(id) {
    var keep = Math.floor(id.length / 3);
    if (keep === 0) return "*".repeat(id.length);
    var head = Math.min(3, keep), tail = Math.min(2, keep);
    return id.slice(0, head) + "*".repeat(id.length - head - tail) + id.slice(id.length - tail);
  }
  /* Code-point order, as Python's sorted() orders str (JavaScript's default sort is by UTF-16 units). */
  function byCodePoint(a, b) {
    var x = Array.from(a), y = Array.from(b);
    for (var i = 0; i < Math.min(x.length, y.length); i++) {
      var d = x[i].codePointAt(0) - y[i].codePointAt(0);
      if (d) return d;
    }
    return x.length - y.length;
  }

  function rankAll(seedBytes, ids) {
    return crypto.subtle.importKey("raw", seedBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]).then(function (key) {
      return Promise.all(ids.map(function (id) {
        return crypto.subtle.sign("HMAC", key, encoder.encode(id)).then(function (mac) { return { digest: hex(mac), id: id }; });
      }));
    }).then(function (ranked) {
      ranked.sort(function (a, b) { return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : byCodePoint(a.id, b.id); });
      return ranked;
    });
  }

  /* Each published row must be the member at its rank; the non-replacement rows exactly ranks 1..N. */
  function compareWinners(data, ranked) {
    var problems = [];
    var expected = Math.min(data.winners_count, ranked.length);
    var original = data.winners.filter(function (w) { return w.outcome !== "replacement"; })
      .map(function (w) { return w.rank; }).sort(function (a, b) { return a - b; });
    if (original.length !== expected || original.some(function (rank, i) { return rank !== i + 1; })) {
      problems.push(t("当選者の順位が抽選結果（上位" + expected + "名）と一致しません",
        "the winners' ranks are not the top " + expected + " of the draw"));
    }
    data.winners.forEach(function (w) {
      var at = ranked[w.rank - 1];
      if (!at || at.digest !== w.digest || mask(at.id) !== w.member) {
        problems.push(t(w.rank + "位の当選者（" + w.member + "）が再計算の結果と異なります",
          "the winner at rank " + w.rank + " (" + w.member + ") differs from the recomputed draw"));
      }
    });
    var last = ranked[expected - 1];
    if ((last ? last.digest : null) !== (data.cutoff_digest || null)) {
      problems.push(t("当選ライン（cutoff digest）が一致しません", "the cut-off digest differs"));
    }
    return problems;
  }

  function run(section, data) {
    var steps = section.querySelector("#verify-steps");
    var result = section.querySelector("#verify-result");
    var own = section.querySelector("#verify-own");
    var memberId = (section.querySelector("#verify-member").value || "").trim();
    var ok = true;
    steps.innerHTML = ""; result.textContent = t("確認しています…", "Checking…"); result.className = "verify-result"; own.textContent = "";
    function step(passed, ja, en) {
      var li = document.createElement("li");
      li.textContent = (passed ? "✔ " : "✘ ") + t(ja, en);
      li.className = passed ? "ok" : "bad";
      steps.appendChild(li);
      if (!passed) ok = false;
    }
    if (!window.crypto || !crypto.subtle) {
      result.textContent = t("このブラウザーでは確認できません（WebCrypto 非対応、または https でない接続）。", "This browser cannot check the draw (no WebCrypto, or not over https).");
      result.className = "verify-result bad";
      return Promise.resolve();
    }
    return fetch(data.eligible_url, { credentials: "omit", cache: "no-store" }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.arrayBuffer();
    }).then(function (body) {
      var ids = new TextDecoder("utf-8").decode(body).split("\n").filter(Boolean);
      step(ids.length === data.eligible_count, "対象者リストを取得しました（" + ids.length + "名、公開値 " + data.eligible_count + "名）",
        "Downloaded the eligible list (" + ids.length + " members; published: " + data.eligible_count + ")");
      var canonical = encoder.encode(ids.slice().sort(byCodePoint).map(function (id) { return id + "\n"; }).join(""));
      var seedBytes = fromHex(data.seed);
      return Promise.all([sha256(canonical), sha256(seedBytes)]).then(function (hashes) {
        step(hashes[0] === data.eligible_hash, "対象者リストのハッシュが公開された eligible_hash と一致", "The list's hash matches the published eligible_hash");
        step(hashes[1] === data.seed_hash, "公開されたシードのハッシュが抽選前に公開された seed_hash と一致", "The revealed seed's hash matches the seed_hash published before the draw");
        return rankAll(seedBytes, ids);
      });
    }).then(function (ranked) {
      var problems = compareWinners(data, ranked);
      step(problems.length === 0, "全" + ranked.length + "名を HMAC-SHA256 で順位付けし、公開された当選者と照合",
        "Ranked all " + ranked.length + " members by HMAC-SHA256 and compared them with the published winners");
      problems.forEach(function (p) { step(false, p, p); });
      if (ok) {
        result.textContent = t("一致しました：公開された当選者は、公開された手順どおりの抽選結果です。", "They match: the published winners are the result of the published procedure.");
        result.className = "verify-result ok";
      } else {
        result.textContent = t("一致しません：公開された当選者リストは、再計算した抽選結果と異なります。", "They do not match: the published winners differ from the recomputed draw.");
        result.className = "verify-result bad";
      }
      section.dataset.verified = ok ? "match" : "mismatch";
      if (memberId) {
        var position = ranked.findIndex(function (r) { return r.id === memberId; });
        var cut = Math.min(data.winners_count, ranked.length);
        own.textContent = position < 0
          ? t("会員ID " + memberId + " は対象者リストにありません。", "Member ID " + memberId + " is not in the eligible list.")
          : t("会員ID " + memberId + " は全" + ranked.length + "名中 " + (position + 1) + "位です（当選は" + cut + "位まで）。",
              "Member ID " + memberId + " ranks " + (position + 1) + " of " + ranked.length + " (the first " + cut + " win).");
      }
    }).catch(function (error) {
      result.textContent = t("確認できませんでした：", "The check could not run: ") + error.message;
      result.className = "verify-result bad";
      section.dataset.verified = "error";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.getElementById("verify");
    var form = document.getElementById("verify-form");
    if (!section || !form) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = JSON.parse(section.dataset.lottery || "null");  /* what the page publishes, read at each check */
      if (!data) return;
      var button = form.querySelector("button");
      button.disabled = true;
      run(section, data).then(function () { button.disabled = false; });
    });
  });
})();
