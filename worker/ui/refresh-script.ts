/**
 * Progressive enhancement: every 15 s ask for what changed on the board since
 * the version this page shows (`/status/live?since=<version>`, live-delta.ts)
 * and swap only the regions marked data-live that came back. Nothing new is a
 * 304 without a body; a version the server no longer knows brings the whole
 * board, applied the same way. Forms (the booking form, an open <details>)
 * are outside those regions, and a region holding the focused element is left
 * alone (and the version kept, so it comes again next time), so nobody loses
 * their place or their typing. Without JavaScript the page is complete;
 * ?refresh=60 reloads it instead.
 *
 * While a row still says "reading its calendar" (its ledger was waking when
 * the board was drawn) the next poll comes after 2 s instead.
 *
 * What moves by the clock alone is not sent again: after every poll the page
 * places each week's now-line from the summary's data-now and rewrites the
 * "… ago" texts (<time data-ago>) against the summary's time, with the same
 * words as worker/ui/time.ts `ago`.
 */
export const REFRESH_SCRIPT = `
(function(){
  var every = 15000, busy = false, board = document.getElementById("board");
  var version = board && board.dataset.version || null;
  function ago(ms, now){
    var s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 45) return "just now";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    if (s < 86400) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }
  function clock(){
    var t = document.querySelector("#summary time[data-now]");
    if (!t) return;
    var left = t.getAttribute("data-now"), now = Date.parse(t.getAttribute("datetime"));
    document.querySelectorAll(".tl .now").forEach(function(n){ n.style.left = left; });
    if (isNaN(now)) return;
    document.querySelectorAll("time[data-ago]").forEach(function(e){
      var at = Date.parse(e.getAttribute("datetime"));
      if (!isNaN(at)) { var txt = ago(at, now); if (e.textContent !== txt) e.textContent = txt; }
    });
  }
  function tick(){
    if (busy || document.hidden) return;
    busy = true;
    var q = location.search ? location.search + "&" : "?";
    var url = "/status/live" + (version ? q + "since=" + encodeURIComponent(version) : location.search);
    var next = null;
    fetch(url, {credentials: "same-origin", cache: "no-store", headers: {accept: "text/html"}})
      .then(function(r){
        if (r.status === 304) return null;
        if (!r.ok) throw new Error(r.status);
        next = r.headers.get("x-labhog-version");
        document.documentElement.dataset.delta = r.headers.get("x-labhog-delta") || "";
        return r.text();
      })
      .then(function(html){
        if (html === null) { document.documentElement.dataset.delta = "0"; clock(); document.documentElement.dataset.refreshed = String(Date.now()); return; }
        var doc = new DOMParser().parseFromString(html, "text/html"), changed = 0, held = 0;
        doc.querySelectorAll("[data-live]").forEach(function(fresh){
          var cur = document.getElementById(fresh.id);
          if (!cur || cur.innerHTML === fresh.innerHTML) return;
          if (cur.contains(document.activeElement) && document.activeElement !== document.body) { held++; return; }
          cur.innerHTML = fresh.innerHTML; changed++;
        });
        // A region left alone for the focus must come again: keep asking from the old version.
        if (!held && next) version = next;
        clock();
        document.documentElement.dataset.refreshed = String(Date.now());
        var a = document.getElementById("announce");
        if (a && changed > 1) a.textContent = "Status updated";
      })
      .catch(function(){})
      .then(function(){
        busy = false;
        // Rows whose ledger is still reading its calendar fill in within seconds: look again soon, not in 15 s.
        if (document.querySelector(".holding.syncing")) setTimeout(tick, 2000);
      });
  }
  setInterval(tick, every);
  document.addEventListener("visibilitychange", function(){ if (!document.hidden) tick(); });
  window.labhogRefresh = tick;
})();
`;
