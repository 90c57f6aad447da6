/** Overview (charts), live stream, dead letters. */
import { canAct } from './auth';
import type { DlqCount, Series } from './charts';
import { html, jsonBlock, time, type Html } from './html';
import { csrfField, page, table, type Viewer } from './layout';

const enc = encodeURIComponent;
export const CHART_SCRIPT = '/static/chart.umd.min.js';
export const CLIENT_SCRIPT = '/static/console.js';

export interface OverviewData {
  eventsPerMinute: Series;
  lifecyclePerDay: Series;
  byStatus: Series;
  lag: Series;
  dlq: Series;
  webhooks: Series;
  notes: string[];
}

const CHARTS: [keyof Omit<OverviewData, 'notes'>, string, 'line' | 'bar'][] = [
  ['eventsPerMinute', 'Events per minute by type (last hour)', 'line'],
  ['byStatus', 'Subscriptions by status and store', 'bar'],
  ['lifecyclePerDay', 'New, renewed, expired, refunded per day (30 days)', 'bar'],
  ['lag', 'Consumer lag per group and partition', 'bar'],
  ['dlq', 'Dead letters by reason', 'bar'],
  ['webhooks', 'Webhook success rate (%) and latency (ms) per endpoint, last 24 h', 'bar'],
];

/** Each chart is a canvas the client script draws, with its numbers as a table for screen readers. */
export function overviewPage(v: Viewer, data: OverviewData): Html {
  const body = html`${data.notes.map((n) => html`<p class="notice">${n}</p>`)}
    <div class="charts">
      ${CHARTS.map(
        ([id, title, kind]) =>
          html`<figure class="chart">
            <figcaption id="cap-${id}">${title}</figcaption>
            <div class="chart-box">
              <canvas
                id="chart-${id}"
                data-chart="${id}"
                data-kind="${kind}"
                role="img"
                aria-labelledby="cap-${id}"
              ></canvas>
            </div>
            ${data[id].datasets.length === 0 ? html`<p class="empty">No data yet.</p>` : seriesTable(data[id])}
          </figure>`,
      )}
    </div>
    ${jsonBlock('chart-data', Object.fromEntries(CHARTS.map(([id]) => [id, data[id]])))}`;
  return page({ title: 'Overview', viewer: v, active: '/', scripts: [CHART_SCRIPT, CLIENT_SCRIPT] }, body);
}

function seriesTable(s: Series): Html {
  return html`<details>
    <summary>Numbers</summary>
    ${table(
      ['', ...s.labels],
      s.datasets.map((d) => [d.label, ...d.data]),
      '',
    )}
  </details>`;
}

export function streamPage(
  v: Viewer,
  filters: { type: string; store: string; environment: string; appId: string },
): Html {
  const field = (id: keyof typeof filters, label: string) =>
    html`<label for="f-${id}">${label}</label><input id="f-${id}" name="${id}" value="${filters[id]}" />`;
  const body = html`<form method="get" action="/stream" class="filters">
      ${field('type', 'Type')}${field('store', 'Store')}${field('environment', 'Environment')}${field('appId', 'App id')}
      <button type="submit">Apply filters</button>
    </form>
    <p>
      <button type="button" id="pause" aria-pressed="false">Pause</button>
      <span id="stream-status" role="status">connecting…</span>
    </p>
    <table id="stream" data-source="/stream/events?${new URLSearchParams(filters).toString()}">
      <thead>
        <tr>
          <th scope="col">received</th>
          <th scope="col">type</th>
          <th scope="col">store</th>
          <th scope="col">environment</th>
          <th scope="col">app</th>
          <th scope="col">subscription</th>
          <th scope="col">status</th>
        </tr>
      </thead>
      <tbody></tbody>
    </table>`;
  return page({ title: 'Live stream', viewer: v, active: '/stream', scripts: [CLIENT_SCRIPT] }, body);
}

export interface DlqSummary {
  id: string;
  name: string;
  exists: boolean;
  redrive: string | undefined;
}

export function dlqIndexPage(v: Viewer, dlqs: DlqSummary[], counts: DlqCount[], readAt: number | null): Html {
  const total = (name: string) => counts.filter((c) => c.topic === name).reduce((a, c) => a + c.count, 0);
  const body = html`<p>Counts as of ${time(readAt)}.</p>
    ${table(
      ['dead-letter topic', 'records', 're-drive'],
      dlqs.map((d) => [
        d.exists ? html`<a href="/dlq/${enc(d.id)}">${d.name}</a>` : `${d.name} (not created)`,
        total(d.name),
        d.redrive === undefined ? 'to its source topic' : 'refused',
      ]),
      'No dead-letter topics.',
    )}
    <h2>By reason</h2>
    ${table(
      ['topic', 'reason', 'records'],
      counts.map((c) => [c.topic, c.reason, c.count]),
      'No dead letters.',
    )}`;
  return page({ title: 'Dead letters', viewer: v, active: '/dlq' }, body);
}

export interface DeadLetterRow {
  partition: number;
  offset: string;
  timestamp: number;
  stage: string | null;
  reason: string | null;
  key: string | null;
}

export function dlqPage(v: Viewer, dlq: DlqSummary, rows: DeadLetterRow[], notice?: string): Html {
  const admin = canAct(v.role) && dlq.redrive === undefined;
  const body = html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
  ${dlq.redrive ? html`<p class="readonly">Re-drive refused: ${dlq.redrive}</p>` : ''}
  ${table(
    ['position', 'dead-lettered', 'stage', 'reason', 'key', ...(admin ? [''] : [])],
    rows.map((r) => [
      html`<a href="/dlq/${enc(dlq.id)}/${r.partition}/${enc(r.offset)}">${r.partition}@${r.offset}</a>`,
      time(r.timestamp),
      r.stage,
      r.reason,
      r.key,
      ...(admin ? [redriveButton(v, dlq, r)] : []),
    ]),
    'This dead-letter topic is empty.',
  )}`;
  return page({ title: dlq.name, viewer: v, active: '/dlq' }, body);
}

function redriveButton(v: Viewer, dlq: DlqSummary, r: DeadLetterRow): Html {
  return html`<form method="post" action="/dlq/${enc(dlq.id)}/redrive" class="inline">
    ${csrfField(v)} <input type="hidden" name="position" value="${r.partition}@${r.offset}" /><button
      type="submit"
    >
      Re-drive
    </button>
  </form>`;
}
