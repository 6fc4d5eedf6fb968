// xterm.js and its CSS are bundled as text (wrangler.toml [[rules]] type = "Text") and served by worker/console/page.ts.
declare module "*/@xterm/xterm/lib/xterm.js" {
  const text: string;
  export default text;
}
declare module "*/@xterm/xterm/css/xterm.css" {
  const text: string;
  export default text;
}
