/**
 * Progressive enhancement: every 15 s fetch the board fragment and swap only
 * the regions marked data-live whose HTML changed. Forms (the booking form,
 * an open <details>) are outside those regions, and a region holding the
 * focused element is left alone, so nobody loses their place or their typing.
 * Without JavaScript the page is complete; ?refresh=60 reloads it instead.
 *
 * The browser keeps the last fragment and revalidates it (If-None-Match), so a
 * poll that finds nothing new is a 304 without a body; the same ETag as last
 * time also skips parsing and comparing the board here.
 */
export const REFRESH_SCRIPT = `
(function(){
  var every = 15000, busy = false, seen = null, tag = null;
  function tick(){
    if (busy || document.hidden) return;
    busy = true;
    fetch("/status/live" + location.search, {credentials: "same-origin", cache: "no-cache", headers: {accept: "text/html"}})
      .then(function(r){
        if (!r.ok) throw new Error(r.status);
        tag = r.headers.get("etag");
        if (tag && tag === seen) return null;
        return r.text();
      })
      .then(function(html){
        if (html === null) { document.documentElement.dataset.refreshed = String(Date.now()); return; }
        var doc = new DOMParser().parseFromString(html, "text/html"), changed = 0, held = 0;
        doc.querySelectorAll("[data-live]").forEach(function(fresh){
          var cur = document.getElementById(fresh.id);
          if (!cur || cur.innerHTML === fresh.innerHTML) return;
          if (cur.contains(document.activeElement) && document.activeElement !== document.body) { held++; return; }
          cur.innerHTML = fresh.innerHTML; changed++;
        });
        // A region left alone for the focus is compared again next time, even if nothing changed.
        seen = held ? null : tag;
        document.documentElement.dataset.refreshed = String(Date.now());
        var a = document.getElementById("announce");
        if (a && changed > 1) a.textContent = "Status updated";
      })
      .catch(function(){})
      .then(function(){ busy = false; });
  }
  setInterval(tick, every);
  document.addEventListener("visibilitychange", function(){ if (!document.hidden) tick(); });
  window.labhogRefresh = tick;
})();
`;
