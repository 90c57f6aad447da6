/**
 * The console's static assets: its stylesheet and its one small script, kept as strings here so the
 * compiled service (dist/) carries them without a copy step; Chart.js comes from node_modules as shipped.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Chart.js's UMD build (one file, defines `Chart`), read once at start. */
export function chartJs(): string {
  return readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
}

export const CSS = `
:root { --fg: #1d232b; --muted: #5b6675; --line: #d6dbe1; --bg: #f6f7f9; --accent: #0b5fff; --ok: #137333; --no: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; }
header { display: flex; justify-content: space-between; align-items: center; padding: 8px 20px; background: #fff; border-bottom: 1px solid var(--line); }
header nav { display: flex; align-items: center; gap: 20px; }
header ul { display: flex; gap: 14px; list-style: none; margin: 0; padding: 0; }
header a[aria-current="page"] { font-weight: 700; text-decoration: none; color: var(--fg); }
.brand { font-size: 16px; }
.who { display: flex; gap: 10px; align-items: center; }
.role { font-size: 12px; padding: 1px 6px; border-radius: 8px; background: #e8eefc; }
.role-admin { background: #fde7c6; }
main { padding: 16px 20px 40px; max-width: 1400px; }
h1 { font-size: 22px; margin: 4px 0 14px; } h2 { font-size: 17px; margin: 22px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
pre { background: #fff; border: 1px solid var(--line); padding: 10px; overflow: auto; max-height: 70vh; font-size: 13px; }
button { font: inherit; padding: 4px 12px; border: 1px solid #8a96a5; border-radius: 4px; background: #fff; cursor: pointer; }
button[type="submit"] { background: var(--accent); border-color: var(--accent); color: #fff; }
input, select { font: inherit; padding: 4px 6px; border: 1px solid #8a96a5; border-radius: 4px; }
label { display: block; margin: 8px 0 2px; color: var(--muted); }
.inline { display: inline; } .inline button { margin: 2px; }
.card { background: #fff; border: 1px solid var(--line); padding: 14px 16px; max-width: 560px; margin-top: 18px; }
.card input { width: 100%; } .card button { margin-top: 12px; }
.search { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-bottom: 14px; }
.search label { flex-basis: 100%; } .search input { min-width: 420px; }
.filters { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: end; }
.filters label { margin: 0; }
.notice { background: #fff8e1; border: 1px solid #f0d58a; padding: 8px 12px; }
.secret code { font-size: 15px; }
.error { color: var(--no); }
.empty, .readonly { color: var(--muted); }
.key { font-family: ui-monospace, monospace; }
.entitlement { border-left: 6px solid; padding: 6px 14px; background: #fff; }
.entitlement.ok { border-color: var(--ok); } .entitlement.no { border-color: var(--no); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; background: #fff; padding: 10px 14px; border: 1px solid var(--line); }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.chart { background: #fff; border: 1px solid var(--line); margin: 0; padding: 10px 12px; }
.chart figcaption { font-weight: 600; margin-bottom: 6px; }
.chart-box { position: relative; height: 280px; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin: 8px 0; }
.signin main { max-width: 420px; margin: 10vh auto; }
#stream tbody tr:first-child { animation: flash 1s; }
@keyframes flash { from { background: #fff3b0; } to { background: #fff; } }
`;

/**
 * The client script: draws the overview's charts from the page's JSON block, and runs the live stream
 * (EventSource; pause keeps new events aside and shows them on resume). No build step: plain ES2017.
 */
export const CLIENT_JS = `
(function () {
  'use strict';
  var COLORS = ['#0b5fff', '#e8710a', '#137333', '#b3261e', '#8430ce', '#00838f', '#c2185b', '#5f6368', '#f9ab00', '#1e8e3e'];
  function drawCharts() {
    var block = document.getElementById('chart-data');
    if (!block || typeof Chart === 'undefined') return;
    var data = JSON.parse(block.textContent);
    document.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
      var s = data[canvas.getAttribute('data-chart')];
      if (!s || s.datasets.length === 0) return;
      var kind = canvas.getAttribute('data-kind');
      new Chart(canvas, {
        type: kind,
        data: {
          labels: s.labels,
          datasets: s.datasets.map(function (d, i) {
            var c = COLORS[i % COLORS.length];
            return { label: d.label, data: d.data, borderColor: c, backgroundColor: kind === 'line' ? c : c + 'cc', tension: 0.2, pointRadius: 0 };
          })
        },
        options: {
          animation: false,
          maintainAspectRatio: false,
          scales: { x: { stacked: kind === 'bar' && canvas.getAttribute('data-chart') !== 'webhooks' }, y: { beginAtZero: true, stacked: kind === 'bar' && canvas.getAttribute('data-chart') !== 'webhooks' } },
          plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } }
        }
      });
    });
  }
  function cell(text) { var td = document.createElement('td'); td.textContent = text == null ? '—' : String(text); return td; }
  function row(e) {
    var tr = document.createElement('tr');
    tr.appendChild(cell(new Date(e.receivedAt).toISOString()));
    tr.appendChild(cell(e.type));
    tr.appendChild(cell(e.store));
    tr.appendChild(cell(e.environment));
    tr.appendChild(cell(e.appId));
    var sub = document.createElement('td');
    var a = document.createElement('a');
    a.href = '/subscribers/' + encodeURIComponent(e.subscriptionKey);
    a.textContent = e.subscriptionKey;
    sub.appendChild(a);
    tr.appendChild(sub);
    tr.appendChild(cell(e.status));
    return tr;
  }
  function stream() {
    var table = document.getElementById('stream');
    if (!table) return;
    var body = table.querySelector('tbody');
    var status = document.getElementById('stream-status');
    var button = document.getElementById('pause');
    var paused = false, held = [];
    function show(e) {
      body.insertBefore(row(e), body.firstChild);
      while (body.children.length > 500) body.removeChild(body.lastChild);
    }
    button.addEventListener('click', function () {
      paused = !paused;
      button.textContent = paused ? 'Resume' : 'Pause';
      button.setAttribute('aria-pressed', String(paused));
      if (!paused) { held.forEach(show); held = []; }
      status.textContent = paused ? 'paused' : 'live';
    });
    var source = new EventSource(table.getAttribute('data-source'));
    source.addEventListener('ready', function () { if (!paused) status.textContent = 'live'; });
    source.addEventListener('event', function (m) {
      var e = JSON.parse(m.data);
      if (paused) { held.push(e); status.textContent = 'paused (' + held.length + ' new)'; } else show(e);
    });
    source.onerror = function () { status.textContent = 'reconnecting…'; };
  }
  document.addEventListener('DOMContentLoaded', function () { drawCharts(); stream(); });
})();
`;
