// The dashboard's HTML shell: styles inline, one script from this server
// (/ui/app.js, built by scripts/build.mjs from ./client/), nothing from
// anywhere else, so it works without internet. All data arrives over
// /api/events; the shell itself holds none.

const STYLE = `
:root { --bg: #f4f5f7; --card: #fff; --ink: #1d2330; --muted: #5b6372; --line: #dde1e8; --ok: #1f7a3d; --bad: #b3261e; --warn: #a15c00; --accent: #2357c5; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--ink); }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; background: #1d2330; color: #fff; }
header h1 { font-size: 1.05rem; margin: 0; } header .meta { color: #c5cad3; flex: 1; }
header button { background: transparent; color: #fff; border: 1px solid #fff6; border-radius: 4px; padding: .2rem .7rem; cursor: pointer; }
.live { font-size: .8rem; padding: .1rem .5rem; border-radius: 99px; background: #3a4254; } .live.on { background: var(--ok); } .live.off { background: var(--bad); }
main { display: grid; grid-template-columns: minmax(0, 2fr) minmax(18rem, 1fr); gap: 1rem; padding: 1rem 1.2rem; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
section.card, article.stack { background: var(--card); border-radius: 8px; box-shadow: 0 1px 3px #0002; padding: .8rem 1rem; margin-bottom: 1rem; }
h2 { font-size: 1rem; margin: 0 0 .5rem; } h3 { font-size: .9rem; margin: .8rem 0 .3rem; color: var(--muted); }
.stack-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: .6rem; }
.stack-head h2 { margin: 0; }
.badge { font-size: .75rem; font-weight: 600; padding: .1rem .5rem; border-radius: 99px; color: #fff; background: var(--muted); }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); } .badge.warn { background: var(--warn); }
.rev code { background: #eef1f6; padding: 0 .3rem; border-radius: 3px; } .rev a { color: var(--accent); }
ul.conditions { list-style: none; padding: 0; margin: .4rem 0; } ul.conditions li { margin: .15rem 0; }
ul.conditions .type { font-weight: 600; } .True.Degraded, .True.Stalled, .False.Ready { color: var(--bad); }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .25rem .4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 500; font-size: .8rem; } td.num { font-variant-numeric: tabular-nums; }
.problem { color: var(--bad); font-size: .8rem; }
.progress { margin: .4rem 0; } .progress .label { font-size: .85rem; }
.bar { height: 8px; background: #e5e8ee; border-radius: 4px; overflow: hidden; margin-top: .2rem; }
.bar > div { height: 100%; background: var(--accent); transition: width .3s; } .bar.indeterminate > div { width: 30%; animation: slide 1.2s infinite linear; }
@keyframes slide { from { margin-left: -30%; } to { margin-left: 100%; } }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .5rem; }
.chart { border: 1px solid var(--line); border-radius: 6px; padding: .3rem .4rem; } .chart .title { font-size: .75rem; color: var(--muted); }
.chart .value { font-size: .85rem; font-weight: 600; } .chart svg { display: block; width: 100%; height: 36px; }
.legend { font-size: .75rem; color: var(--muted); } .legend span { margin-right: .6rem; }
ol.events { list-style: none; padding: 0; margin: 0; max-height: 60vh; overflow: auto; }
ol.events li { padding: .3rem 0; border-bottom: 1px solid var(--line); } ol.events li.bad .kind { color: var(--bad); }
ol.events .kind { font-weight: 600; margin-right: .3rem; } ol.events time { color: var(--muted); font-size: .75rem; display: block; }
.plan li { font-family: ui-monospace, monospace; font-size: .8rem; } .muted { color: var(--muted); }
details summary { cursor: pointer; color: var(--accent); margin-top: .5rem; }
.outcome-succeeded { color: var(--ok); } .outcome-rolled-back, .outcome-failed, .outcome-invalid, .outcome-degraded { color: var(--bad); }
`;

export function dashboardPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Capstan</title>
<style>${STYLE}</style>
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<header><h1>Capstan</h1><span class="meta" id="meta">connecting…</span><span class="live" id="live">connecting</span><button id="logout" type="button">Log out</button></header>
<main>
  <div id="stacks"><p class="muted">Waiting for the daemon's first pass…</p></div>
  <aside>
    <section class="card"><h2>Recent events</h2><ol class="events" id="events"><li class="muted">None yet.</li></ol></section>
    <section class="card plan"><h2>Last plan</h2><div id="plan" class="muted">No changes planned yet.</div></section>
  </aside>
</main>
</body></html>
`;
}
