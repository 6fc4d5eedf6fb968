/** One small stylesheet, inlined: no extra request, readable on a phone and a wall screen, dark or light as the system says. */
export const STYLES = `
:root{--bg:#f6f7f9;--card:#fff;--fg:#16181d;--mute:#5b6270;--line:#d9dde4;--grid:#e6e9ee;--acc:#1f5fbf;--acc2:#7aa7e8;--mine:#0f7a3d;--bad:#b3261e;--warn:#8a5a00;--ok:#0f7a3d;--focus:#1f5fbf}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#171a20;--fg:#e7e9ee;--mute:#a0a7b4;--line:#2a2f38;--grid:#22262e;--acc:#5b9bff;--acc2:#2f5589;--mine:#3ecf7a;--bad:#ff6b60;--warn:#f0b43c;--ok:#3ecf7a;--focus:#8cb8ff}}
*{box-sizing:border-box}
/* Links to #r-… and Tab scroll their target below the sticky header and pool head, not under them. */
html{scroll-padding-top:100px}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--acc)}
:focus-visible{outline:2px solid var(--focus);outline-offset:2px}
/* A date-time input keeps its focus in its inner fields, where :focus-visible does not reach the input itself. */
input[type=datetime-local]:focus-within{outline:2px solid var(--focus);outline-offset:2px}
.sr{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:var(--card);padding:4px 8px;z-index:9}
header{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;padding:8px 16px;border-bottom:1px solid var(--line);background:var(--card);position:sticky;top:0;z-index:5}
h1{font-size:16px;margin:0;letter-spacing:.02em}h1 .site{color:var(--mute);font-weight:500}
header nav{margin-right:auto}
.signin{display:flex;gap:6px;align-items:center;flex-wrap:wrap}
main{padding:8px 16px 32px;max-width:1800px;margin:0 auto}
input,select,button{font:inherit;color:inherit;background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:3px 6px}
button{cursor:pointer;background:var(--card)}button:hover{border-color:var(--acc)}
button.primary{background:var(--acc);color:#fff;border-color:var(--acc)}
@media (prefers-color-scheme:dark){button.primary{color:#0b0d10}}
button.danger{color:var(--bad)}
.muted{color:var(--mute)}
.summary{color:var(--mute);margin:4px 0 8px}
.notice{border-left:4px solid var(--ok);background:var(--card);padding:6px 10px;margin:8px 0}
.err{color:var(--bad);font-weight:600}.banner{border-left:4px solid var(--bad);background:var(--card);padding:6px 10px;margin:8px 0}
.legend{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:center;color:var(--mute);font-size:12px;margin:6px 0}
.sw{display:inline-block;width:18px;height:10px;border-radius:2px;vertical-align:middle;margin-right:2px}
.pool{margin:14px 0}
.pool-head{display:grid;grid-template-columns:minmax(260px,30%) 1fr;gap:12px;align-items:end;position:sticky;top:46px;background:var(--bg);z-index:3;padding-top:4px}
.pool h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--mute);margin:0 0 2px}
.axis{position:relative;height:18px;font-size:11px;color:var(--mute)}
.axis .day{position:absolute;top:0;padding-left:3px;border-left:1px solid var(--line);white-space:nowrap;overflow:hidden}
.axis .day.today{color:var(--fg);font-weight:600}
.axis .hour{position:absolute;top:0;transform:translateX(-50%)}
.res{display:grid;grid-template-columns:minmax(260px,30%) 1fr;gap:4px 12px;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 10px;margin:6px 0}
.res.conflicted{border-color:var(--bad);box-shadow:inset 4px 0 0 var(--bad)}
.res h3{font-size:15px;margin:0}a.feed{font-size:10px;font-weight:600;text-transform:uppercase;margin-left:6px;text-decoration:none;border:1px solid currentColor;border-radius:3px;padding:0 3px;letter-spacing:.04em}.rid,.kind{color:var(--mute);font-weight:400;font-size:12px}
.meta{display:flex;flex-wrap:wrap;gap:4px;margin:3px 0}
.pill,.tag{font-size:11px;border:1px solid var(--line);border-radius:10px;padding:0 7px;white-space:nowrap}
.pill.ok{color:var(--ok);border-color:currentColor}.pill.bad{color:var(--bad);border-color:currentColor}.pill.muted{color:var(--mute)}
.pill.conflict{font-weight:700}
.tag{color:var(--mute)}
.holding{margin:2px 0}.holding.busy strong{color:var(--acc)}.holding.free strong{color:var(--ok)}
.holding .who{display:block}
.purpose{color:var(--mute)}.unbooked-note{color:var(--warn)}
.enforcement{margin:2px 0;font-size:12.5px}.enforcement.ok{color:var(--ok)}.enforcement.unknown{color:var(--mute)}.enforcement.bad{color:var(--bad)}
.usage{margin:2px 0;font-size:12.5px}.usage .k{font-size:10px;text-transform:uppercase;font-weight:700;color:var(--warn);letter-spacing:.05em;margin-right:2px}.usage.stale{opacity:.6}.calendar-stale{margin:2px 0;font-size:12.5px;font-weight:600;color:var(--warn)}
.mine{display:flex;flex-direction:column;gap:4px;margin-top:4px}
.acts{display:flex;flex-wrap:wrap;gap:6px;align-items:center;font-size:12.5px}.acts-what{min-width:8em;color:var(--mute)}
form.inline{display:inline-flex;gap:4px;align-items:center;margin:0}
.week{align-self:center}
.tl{position:relative;height:30px;border:1px solid var(--line);border-radius:4px;background:linear-gradient(to right,var(--grid) 0,var(--grid) 30%,transparent 30%);overflow:hidden}
.tl .gl{position:absolute;top:0;bottom:0;width:1px;background:var(--line)}.tl .gl.hr{opacity:.5;border-left:1px dashed var(--line);background:none}
.bars{list-style:none;margin:0;padding:0}
.bar{position:absolute;top:4px;bottom:4px;border-radius:3px;background:var(--acc2);overflow:hidden;font-size:11px;line-height:22px;color:var(--fg);min-width:3px}
.bar.active{background:var(--acc);color:#fff}
@media (prefers-color-scheme:dark){.bar.active{color:#0b0d10}}
.bar.mine{box-shadow:inset 0 0 0 2px var(--mine)}
.bar.shared{background:repeating-linear-gradient(45deg,var(--acc2) 0 5px,transparent 5px 9px);color:var(--fg)}
.bar.conflict{background:repeating-linear-gradient(45deg,var(--bad) 0 5px,transparent 5px 9px);box-shadow:inset 0 0 0 2px var(--bad);color:var(--bad);font-weight:700;top:2px;bottom:2px;z-index:2}
.bar.unbooked{background:transparent;box-shadow:inset 0 0 0 2px var(--warn);color:var(--warn)}
.bar .lbl{padding:0 4px;white-space:nowrap}
/* On a striped bar the label gets a solid ground: text over stripes has no one contrast. */
.bar.shared .lbl,.bar.conflict .lbl{background:var(--card);border-radius:2px;margin-left:2px}
.bar.ended{opacity:.45}
.now{position:absolute;top:-2px;bottom:-2px;width:2px;background:var(--bad);z-index:3}
.sw.active{background:var(--acc)}.sw.upcoming{background:var(--acc2)}.sw.mine{box-shadow:inset 0 0 0 2px var(--mine)}.sw.shared{background:repeating-linear-gradient(45deg,var(--acc2) 0 3px,transparent 3px 6px)}.sw.conflict{background:repeating-linear-gradient(45deg,var(--bad) 0 3px,transparent 3px 6px)}.sw.unbooked{box-shadow:inset 0 0 0 2px var(--warn)}.sw.nowsw{width:2px;background:var(--bad)}
details.book{grid-column:1/-1}
details.book summary{cursor:pointer;color:var(--acc);font-size:12.5px;width:max-content}
details.book form{margin:6px 0 2px}
.fields{display:grid;grid-template-columns:max-content minmax(0,22em);gap:4px 8px;align-items:center;margin-bottom:6px}
.check{display:flex;gap:4px;align-items:center}
@media (max-width:760px){html{scroll-padding-top:0}.pool-head{grid-template-columns:1fr;position:static}.axis-wrap{display:none}.res{grid-template-columns:1fr}.tl{height:24px}.bar{line-height:16px}header{position:static}}
@media (min-width:1600px){body{font-size:15px}.tl{height:36px}.bar{line-height:28px}}
@media (prefers-reduced-motion:no-preference){.res{transition:border-color .3s}}
`;
