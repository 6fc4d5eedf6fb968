import type { Context, MiddlewareHandler } from "hono";
import { NONCE, secureHeaders } from "hono/secure-headers";

/**
 * The status page's response headers, from hono/secure-headers: a
 * Content-Security-Policy that lets only the page's own inline script and
 * stylesheet run (by a nonce minted per response), nosniff, no framing.
 *
 * - Style attributes stay allowed (style-src-attr): the week's bars are
 *   placed by inline left/width, and a style attribute cannot run code.
 * - Referrer-Policy is same-origin, not secure-headers' no-referrer: under
 *   no-referrer Chromium sends `Origin: null` on form posts, and the CSRF
 *   check would lose the origin it compares.
 * - HSTS without includeSubDomains: the page may share its domain with
 *   services that are not ours to force onto https.
 */
export const statusSecurityHeaders: MiddlewareHandler = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: [NONCE],
    styleSrc: [NONCE],
    styleSrcAttr: ["'unsafe-inline'"],
    connectSrc: ["'self'"],
    imgSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
  xFrameOptions: "DENY",
  referrerPolicy: "same-origin",
  strictTransportSecurity: "max-age=15552000",
});

/** This response's CSP nonce, minted by the middleware before the handler runs. */
export function nonceOf(c: Context): string {
  const n: unknown = c.get("secureHeadersNonce");
  if (typeof n !== "string" || !n) throw new Error("status page rendered without its security headers middleware");
  return n;
}
