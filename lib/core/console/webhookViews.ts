/** Webhook pages: endpoints (create, enable/disable, rotate), an endpoint's deliveries, one delivery's attempts. */
import { canAct } from './auth';
import { html, time, type Html } from './html';
import { csrfField, page, table, type Viewer } from './layout';

export interface EndpointView {
  id: string;
  url: string;
  description: string | null;
  enabled: boolean;
  disabledReason: string | null;
  eventTypes: string[] | null;
  environments: string[] | null;
  appIds: string[] | null;
  secretCount: number;
}

export interface DeliveryListItem {
  id: string;
  type: string;
  subscriptionKey: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
}

export interface AttemptView {
  attempt: number;
  at: number;
  latencyMs: number;
  statusCode: number | null;
  outcome: string;
  error: string | null;
}

const enc = encodeURIComponent;
const list = (xs: string[] | null): string => (xs === null ? 'all' : xs.join(', '));

function action(v: Viewer, path: string, label: string, extra: Html | string = ''): Html {
  return html`<form method="post" action="${path}" class="inline">
    ${csrfField(v)}${extra}<button type="submit">${label}</button>
  </form>`;
}

function createForm(v: Viewer): Html {
  return html`<form method="post" action="/webhooks" class="card" aria-labelledby="h-create">
    <h2 id="h-create">New endpoint</h2>
    ${csrfField(v)}
    <label for="url">URL</label><input id="url" name="url" type="url" required />
    <label for="description">Description</label><input id="description" name="description" />
    <label for="eventTypes"
      >Event types (comma-separated, e.g. subscription.RENEWED, trigger.*; empty: all)</label
    >
    <input id="eventTypes" name="eventTypes" />
    <label for="appIds">App ids (comma-separated; empty: all)</label><input id="appIds" name="appIds" />
    <label for="environments">Environments (PRODUCTION, SANDBOX; empty: all)</label>
    <input id="environments" name="environments" />
    <button type="submit">Create endpoint</button>
  </form>`;
}

/** `secret` is set once, right after a create or a rotation: shown this time only. */
export function webhooksPage(
  v: Viewer,
  endpoints: EndpointView[],
  secret?: { id: string; secret: string },
): Html {
  const admin = canAct(v.role);
  const body = html`${secret ? secretNotice(secret) : ''}
  ${table(
    ['endpoint', 'url', 'enabled', 'event types', 'apps', 'environments', ...(admin ? ['actions'] : [])],
    endpoints.map((e) => [
      html`<a href="/webhooks/${enc(e.id)}">${e.id}</a>`,
      e.url,
      e.enabled ? 'yes' : `no (${e.disabledReason ?? 'disabled'})`,
      list(e.eventTypes),
      list(e.appIds),
      list(e.environments),
      ...(admin ? [endpointActions(v, e)] : []),
    ]),
    'No endpoints yet.',
  )}
  ${admin ? createForm(v) : html`<p class="readonly">Read-only: creating and changing endpoints needs the admin role.</p>`}`;
  return page({ title: 'Webhooks', viewer: v, active: '/webhooks' }, body);
}

function secretNotice(s: { id: string; secret: string }): Html {
  return html`<div class="notice secret" role="status">
    <p>Signing secret of <strong>${s.id}</strong>, shown this once:</p>
    <pre><code id="secret">${s.secret}</code></pre>
  </div>`;
}

function endpointActions(v: Viewer, e: EndpointView): Html {
  const base = `/webhooks/${enc(e.id)}`;
  return html`${e.enabled ? action(v, `${base}/disable`, 'Disable') : action(v, `${base}/enable`, 'Enable')}
  ${action(v, `${base}/rotate`, 'Rotate secret')}`;
}

export function endpointPage(
  v: Viewer,
  e: EndpointView,
  deliveries: DeliveryListItem[],
  extra: { now: number; secret?: { id: string; secret: string } | undefined; notice?: string | undefined },
): Html {
  const { secret, notice } = extra;
  const admin = canAct(v.role);
  const base = `/webhooks/${enc(e.id)}`;
  const replayAll = html`<label for="since">Replay every delivery since (ISO 8601)</label>
    <input id="since" name="since" required value="${new Date(extra.now - 3_600_000).toISOString()}" />
    <label for="status">of status</label>
    <select id="status" name="status">
      <option>failed</option>
      <option>succeeded</option>
      <option>any</option>
    </select>`;
  const body = html`${secret ? secretNotice(secret) : ''}${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
    <p>
      ${e.url} · ${e.enabled ? 'enabled' : `disabled (${e.disabledReason ?? ''})`} · types
      ${list(e.eventTypes)} · apps ${list(e.appIds)}
    </p>
    ${
      admin
        ? html`<div class="actions">
              ${endpointActions(v, e)}${action(v, `${base}/replay`, 'Replay since', replayAll)}
            </div>
            ${filtersForm(v, e)}`
        : ''
    }
    <h2>Deliveries (newest first)</h2>
    ${table(
      [
        'delivery',
        'type',
        'subscription',
        'status',
        'attempts',
        'last HTTP status',
        'last error',
        'created',
        ...(admin ? [''] : []),
      ],
      deliveries.map((d) => [
        html`<a href="/deliveries/${enc(d.id)}">${d.id}</a>`,
        d.type,
        html`<a href="/subscribers/${enc(d.subscriptionKey)}">${d.subscriptionKey}</a>`,
        d.status,
        d.attempts,
        d.lastStatus,
        d.lastError,
        time(d.createdAt),
        ...(admin
          ? [d.status === 'pending' ? '' : action(v, `/deliveries/${enc(d.id)}/replay`, 'Replay')]
          : []),
      ]),
      'No deliveries yet.',
    )}`;
  return page({ title: `Endpoint ${e.id}`, viewer: v, active: '/webhooks' }, body);
}

/** Edit the filters: each a comma-separated list, empty for all. */
function filtersForm(v: Viewer, e: EndpointView): Html {
  const field = (id: 'eventTypes' | 'appIds' | 'environments', label: string) =>
    html`<label for="f-${id}">${label}</label
      ><input id="f-${id}" name="${id}" value="${(e[id] ?? []).join(', ')}" />`;
  return html`<form
    method="post"
    action="/webhooks/${enc(e.id)}/filters"
    class="card"
    aria-labelledby="h-filters"
  >
    <h2 id="h-filters">Filters (comma-separated; empty: all)</h2>
    ${csrfField(v)}${field('eventTypes', 'Event types')}${field('appIds', 'App ids')}
    ${field('environments', 'Environments')}
    <button type="submit">Save filters</button>
  </form>`;
}

export function deliveryPage(
  v: Viewer,
  d: DeliveryListItem & { endpointId: string; messageId: string },
  attempts: AttemptView[],
): Html {
  const admin = canAct(v.role);
  const body = html`<p>
      Message ${d.messageId} (${d.type}) to <a href="/webhooks/${enc(d.endpointId)}">${d.endpointId}</a>,
      subscription <a href="/subscribers/${enc(d.subscriptionKey)}">${d.subscriptionKey}</a>:
      <strong>${d.status}</strong>
    </p>
    ${admin && d.status !== 'pending' ? action(v, `/deliveries/${enc(d.id)}/replay`, 'Replay this delivery') : ''}
    <h2>Attempts</h2>
    ${table(
      ['attempt', 'at', 'latency (ms)', 'HTTP status', 'outcome', 'error'],
      attempts.map((a) => [a.attempt, time(a.at), a.latencyMs, a.statusCode, a.outcome, a.error]),
      'No attempts yet.',
    )}`;
  return page({ title: `Delivery ${d.id}`, viewer: v, active: '/webhooks' }, body);
}
