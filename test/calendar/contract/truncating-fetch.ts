/**
 * A test proxy, as a fetch wrapper, that makes a real CalDAV server look like
 * one that pages sync results (RFC 6578 §3.6): it forwards sync-collection
 * REPORTs to the real server and answers with at most `pageSize` of the real
 * <response>s, a 507 on the collection and a proxy token for the rest. Sending
 * that token back gets the next page of the same real answer. Neither Radicale
 * nor Xandikos truncates on its own, hence this stand-in.
 * No node: imports: it runs in workerd too.
 */
export interface TruncatingProxy {
  fetch: typeof fetch;
  /** sync-collection REPORTs answered with a 507 so far. */
  truncatedPages: number;
}

const RESPONSE = /<((?:[\w-]+:)?)response\b[^>]*>[\s\S]*?<\/\1response>/g;
const TOKEN = /<((?:[\w-]+:)?)sync-token>([^<]*)<\/\1sync-token>/;

export function truncatingProxy(inner: typeof fetch, pageSize: number): TruncatingProxy {
  const pages = new Map<string, { realToken: string; offset: number }>();
  let n = 0;
  const proxy: TruncatingProxy = {
    truncatedPages: 0,
    fetch: async (input, init) => {
      const body = typeof init?.body === "string" ? init.body : undefined;
      if (init?.method !== "REPORT" || !body || !/sync-collection/.test(body)) return inner(input, init);
      const asked = TOKEN.exec(body)?.[2] ?? "";
      const page = pages.get(asked);
      const realToken = page ? page.realToken : asked;
      const offset = page ? page.offset : 0;
      const res = await inner(input, { ...init, body: body.replace(TOKEN, (_m, p: string) => `<${p}sync-token>${realToken}</${p}sync-token>`) });
      if (res.status !== 207) return res;
      const xml = await res.text();
      const all = [...xml.matchAll(RESPONSE)].map((m) => m[0]);
      const prefix = /<((?:[\w-]+:)?)multistatus\b/.exec(xml)?.[1] ?? "";
      const rest = all.slice(offset);
      if (rest.length <= pageSize) {
        // Last page: the real answer's remaining responses and the real token.
        const stripped = xml.replace(RESPONSE, "");
        const out = stripped.replace(new RegExp(`(<${prefix}multistatus\\b[^>]*>)`), `$1${rest.join("")}`);
        return new Response(out, { status: 207, headers: res.headers });
      }
      const token = `http://labhog.test/truncating-proxy/${++n}`;
      pages.set(token, { realToken, offset: offset + pageSize });
      proxy.truncatedPages++;
      const collectionHref = new URL(typeof input === "string" || input instanceof URL ? String(input) : input.url).pathname;
      const p = prefix;
      const insufficient = `<${p}response><${p}href>${collectionHref}</${p}href><${p}status>HTTP/1.1 507 Insufficient Storage</${p}status></${p}response>`;
      const head = /^[\s\S]*?<(?:[\w-]+:)?multistatus\b[^>]*>/.exec(xml)?.[0] ?? `<${p}multistatus xmlns${p ? ":" + p.slice(0, -1) : ""}="DAV:">`;
      const out = `${head}${rest.slice(0, pageSize).join("")}${insufficient}<${p}sync-token>${token}</${p}sync-token></${p}multistatus>`;
      return new Response(out, { status: 207, headers: res.headers });
    },
  };
  return proxy;
}
