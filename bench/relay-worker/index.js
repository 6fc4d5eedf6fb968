/**
 * The least a Worker can do to make labhog's CalDAV write: forward one PUT
 * (If-None-Match: *) and answer with its status. bench/worker.ts times it
 * beside the same PUT from Node and beside a booking, to tell the runtime's
 * share of a booking's latency from labhog's own. Bench only, never deployed.
 */
export default {
  async fetch(req) {
    const url = new URL(req.url);
    // How bench/wrangler-dev.ts finds a Worker's own address and knows it is up.
    if (url.pathname === "/openapi.json") return Response.json({ openapi: "relay" });
    const to = url.searchParams.get("to");
    if (url.pathname !== "/put" || req.method !== "POST" || !to) return new Response("POST /put?to=<url>", { status: 400 });
    // Its own Server-Timing, as labhog's bookings carry one (worker/api/server-timing.ts): what lies outside the handler compares.
    const began = Date.now();
    const r = await fetch(to, {
      method: "PUT",
      headers: { authorization: req.headers.get("x-authorization") ?? "", "content-type": "text/calendar", "if-none-match": "*" },
      body: await req.text(),
    });
    await r.arrayBuffer();
    return new Response(null, { status: r.status, headers: { "server-timing": `total;dur=${Date.now() - began}` } });
  },
};
