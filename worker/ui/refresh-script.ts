/**
 * Progressive enhancement: every 15 s fetch the board fragment and swap only
 * the regions marked data-live whose HTML changed. Forms (the booking form,
 * an open <details>) are outside those regions, and a region holding the
 * focused element is left alone, so nobody loses their place or their typing.
 * Without JavaScript the page is complete; ?refresh=60 reloads it instead.
 */
export const REFRESH_SCRIPT = `
(function(){
  var every = 15000, busy = false;
  function tick(){
    if (busy || document.hidden) return;
    busy = true;
    fetch("/status/live" + location.search, {credentials: "same-origin", headers: {accept: "text/html"}})
      .then(function(r){ if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function(html){
        var doc = new DOMParser().parseFromString(html, "text/html"), changed = 0;
        doc.querySelectorAll("[data-live]").forEach(function(fresh){
          var cur = document.getElementById(fresh.id);
          if (!cur || cur.innerHTML === fresh.innerHTML) return;
          if (cur.contains(document.activeElement) && document.activeElement !== document.body) return;
          cur.innerHTML = fresh.innerHTML; changed++;
        });
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
