/** Subscriber search, the subscriber page (state, why entitled, timeline, triggers, webhooks), a raw record. */
import type { SubscriptionEvent, SubscriptionState } from '../generated/avro';
import { explainEntitlement } from './explain';
import { html, time, type Html } from './html';
import { page, table, type Viewer } from './layout';

export interface TriggerView {
  triggerId: string;
  kind: string;
  dueAt: number;
  status: string;
  sentAt: number | null;
}

export interface DeliveryRow {
  id: string;
  endpointId: string;
  type: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  createdAt: number;
}

const enc = encodeURIComponent;

function subscriberLink(key: string): Html {
  return html`<a href="/subscribers/${enc(key)}">${key}</a>`;
}

function searchForm(q: string): Html {
  return html`<form method="get" action="/subscribers" class="search" role="search">
    <label for="q">subscriptionKey, appUserId, original transaction id or purchase token</label>
    <input id="q" name="q" value="${q}" required />
    <button type="submit">Search</button>
  </form>`;
}

export function searchPage(viewer: Viewer, q: string, results: SubscriptionState[] | undefined): Html {
  const body = html`${searchForm(q)}
  ${
    results === undefined
      ? ''
      : table(
          ['subscription', 'store', 'environment', 'product', 'status', 'app user'],
          results.map((s) => [
            subscriberLink(s.subscriptionKey),
            s.store,
            s.environment,
            s.productId,
            s.status,
            s.appUserId,
          ]),
          `No subscription matches "${q}".`,
        )
  }`;
  return page({ title: 'Subscribers', viewer, active: '/subscribers' }, body);
}

function stateList(s: SubscriptionState, basePlan: string | null): Html {
  const rows: [string, string | number | null][] = [
    ['status', s.status],
    ['store', s.store],
    ['environment', s.environment],
    ['app', s.appId],
    ['app user', s.appUserId],
    ['product', s.productId],
    ...(s.store === 'PLAY_STORE' ? [['base plan', basePlan] as [string, string | null]] : []),
    ['next product', s.nextProductId],
    ['period', s.periodType],
    ['expires', time(s.expiresAt)],
    ['grace period ends', time(s.gracePeriodExpiresAt)],
    ['auto-renew', s.autoRenew === null ? null : s.autoRenew ? 'on' : 'off'],
    ['first purchase', time(s.firstPurchasedAt)],
    ['renewals', s.renewalCount],
    ['refunds', s.refundCount],
  ];
  return html`<dl class="facts">
    ${rows.map(
      ([k, v]) =>
        html`<dt>${k}</dt>
          <dd>${v ?? '—'}</dd>`,
    )}
  </dl>`;
}

function rawHref(e: SubscriptionEvent): string {
  const s = e.source;
  return `/raw?topic=${enc(s.rawTopic)}&partition=${s.rawPartition}&offset=${s.rawOffset}`;
}

function timelineTable(events: SubscriptionEvent[]): Html {
  return table(
    ['#', 'occurred', 'type', 'status', 'entitled', 'expires', 'product', 'native type', 'raw'],
    events.map((e, i) => [
      i + 1,
      time(e.occurredAt),
      html`<span class="type">${e.type}</span>`,
      e.status,
      e.entitled ? 'yes' : 'no',
      time(e.expiresAt),
      e.productId,
      `${e.source.nativeType}${e.source.nativeSubtype ? ` / ${e.source.nativeSubtype}` : ''}`,
      html`<a href="${rawHref(e)}">raw notification</a>`,
    ]),
    'No events recorded.',
  );
}

export function subscriberPage(
  viewer: Viewer,
  data: {
    state: SubscriptionState;
    events: SubscriptionEvent[];
    triggers: TriggerView[];
    deliveries: DeliveryRow[];
    /** Play: the base plan(s) of the latest snapshot (the state has products only). */
    basePlan?: string | null;
    now: number;
  },
): Html {
  const why = explainEntitlement(data.state, data.now);
  const body = html`<p class="key">${data.state.subscriptionKey}</p>
    <section aria-labelledby="h-entitled" class="entitlement ${why.entitled ? 'ok' : 'no'}">
      <h2 id="h-entitled">${why.entitled ? 'Entitled now' : 'Not entitled now'}</h2>
      <p>${why.why}</p>
    </section>
    <section aria-labelledby="h-state">
      <h2 id="h-state">Current state</h2>
      ${stateList(data.state, data.basePlan ?? null)}
    </section>
    <section aria-labelledby="h-timeline">
      <h2 id="h-timeline">Timeline (${data.events.length} events, oldest first)</h2>
      ${timelineTable(data.events)}
    </section>
    <section aria-labelledby="h-triggers">
      <h2 id="h-triggers">Triggers</h2>
      ${table(
        ['kind', 'due', 'status', 'sent'],
        data.triggers.map((t) => [t.kind, time(t.dueAt), t.status, time(t.sentAt)]),
        'No triggers scheduled or fired.',
      )}
    </section>
    <section aria-labelledby="h-webhooks">
      <h2 id="h-webhooks">Webhook deliveries</h2>
      ${table(
        ['delivery', 'endpoint', 'type', 'status', 'attempts', 'last HTTP status', 'created'],
        data.deliveries.map((d) => [
          html`<a href="/deliveries/${enc(d.id)}">${d.id}</a>`,
          html`<a href="/webhooks/${enc(d.endpointId)}">${d.endpointId}</a>`,
          d.type,
          d.status,
          d.attempts,
          d.lastStatus,
          time(d.createdAt),
        ]),
        'No webhook deliveries for this subscription.',
      )}
    </section>`;
  return page({ title: 'Subscriber', viewer, active: '/subscribers' }, body);
}

export function rawRecordPage(
  viewer: Viewer,
  r: { topic: string; partition: number; offset: string; timestamp: number; key: string | null },
  headers: Record<string, string>,
  decoded: string,
  /** Play records: what the normalizer read from the Play Developer API, or why there is nothing. */
  playResource?: string,
): Html {
  const body = html`<p>
      ${r.topic} partition ${r.partition} offset ${r.offset}, written ${time(r.timestamp)}
    </p>
    <h2>Headers</h2>
    ${table(
      ['header', 'value'],
      Object.entries(headers)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, v]),
      'No headers.',
    )}
    <h2>Key</h2>
    <pre>${r.key ?? '(none)'}</pre>
    <h2>Value (signed payloads decoded, not verified)</h2>
    <pre class="raw">${decoded}</pre>
    ${
      playResource === undefined
        ? ''
        : html`<h2>Play Developer API answer the normalizer read (stored with its outcome)</h2>
            <pre class="raw">${playResource}</pre>`
    }`;
  return page({ title: 'Raw notification', viewer, active: '/subscribers' }, body);
}
