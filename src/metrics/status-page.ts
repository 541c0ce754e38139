/**
 * The status page's HTML and CSS [docs/status.md], shipped as strings (no build step, no dependency):
 * an empty frame that status-script.ts fills from /status.json.
 */

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EPS status</title>
<link rel="stylesheet" href="/status.css">
<script src="/status.js" defer></script>
</head>
<body>
<header>
  <h1 id="title">EPS status</h1>
  <p id="summary">loading /status.json…</p>
  <p class="links"><a href="/status.json">status.json</a> · <a href="/metrics">metrics</a> ·
    <a href="/readyz">readyz</a> · <label><input type="checkbox" id="auto" checked> refresh every 5 s</label></p>
  <p id="problem" class="bad" hidden></p>
</header>
<main id="sections"></main>
</body>
</html>
`;

export const STATUS_PAGE_CSS = `
:root { --fg: #1d2330; --muted: #5d6678; --line: #d9dde5; --bg: #f6f7f9; --card: #fff;
  --ok: #1f7a3d; --warn: #9a6700; --bad: #b42318; --accent: #2f5fb3; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { padding: 12px 20px; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 4px; font-size: 20px; }
h2 { margin: 0 0 8px; font-size: 16px; }
h3 { margin: 12px 0 6px; font-size: 14px; color: var(--muted); }
main { padding: 12px 20px; display: grid; gap: 12px; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
  overflow-x: auto; }
section.wide { grid-column: 1 / -1; }
p { margin: 2px 0; }
.links, .muted { color: var(--muted); }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 8px 3px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px;
  word-break: break-all; }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; margin-right: 4px;
  border: 1px solid var(--line); white-space: nowrap; }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
.badge.ok { border-color: var(--ok); } .badge.warn { border-color: var(--warn); }
.badge.bad { border-color: var(--bad); }
.matrix td, .matrix th { text-align: center; padding: 3px 6px; }
.matrix th.row { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.chart { border: 1px solid var(--line); border-radius: 4px; padding: 6px; }
.chart p { font-size: 12px; }
svg rect.okbar { fill: var(--ok); } svg rect.errbar { fill: var(--bad); } svg rect.latbar { fill: #3b6fd4; } svg line { stroke: var(--line); }
`;
