import type { SubscriptionEvent, SubscriptionState } from '../generated/avro';
import { bucketSeries, countByReason, grouped, partitionLag } from './charts';
import { explainEntitlement } from './explain';
import { escapeHtml, html, jsonBlock } from './html';
import { redactRaw } from './redact';
import { filtersOf, matches } from './stream';
import { rawRecordPage, subscriberPage } from './subscriberViews';
import { webhooksPage } from './webhookViews';

describe('html', () => {
  it('escapes interpolated text but not nested html', () => {
    const evil = '<script>alert("x")</script>';
    expect(html`<p>${evil}</p>`.text).toBe('<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</p>');
    expect(html`<div>${html`<b>${'a&b'}</b>`}${[1, 'x']}${null}</div>`.text).toBe(
      '<div><b>a&amp;b</b>1x</div>',
    );
    expect(escapeHtml(`'`)).toBe('&#39;');
  });

  it('keeps JSON blocks from closing their script element', () => {
    expect(jsonBlock('d', { a: '</script><b>' }).text).toBe(
      '<script type="application/json" id="d">{"a":"\\u003c/script>\\u003cb>"}</script>',
    );
  });
});

describe('pages by role', () => {
  const endpoint = {
    id: 'ep_1',
    url: 'https://example.com/h',
    description: null,
    enabled: true,
    disabledReason: null,
    eventTypes: null,
    environments: null,
    appIds: null,
    secretCount: 1,
  };
  it('shows actions to admins only, each form with the CSRF token', () => {
    const asAdmin = webhooksPage({ operator: 'ada', role: 'admin', csrf: 'tok' }, [endpoint]).text;
    const asReader = webhooksPage({ operator: 'rita', role: 'read-only', csrf: 'tok' }, [endpoint]).text;
    expect(asAdmin).toMatch(/Create endpoint/);
    expect(asAdmin).toMatch(/Rotate secret/);
    const forms = asAdmin.match(/<form method="post"[\s\S]*?<\/form>/g) ?? [];
    expect(forms.length).toBeGreaterThan(2);
    for (const f of forms) expect(f).toContain('name="csrf" value="tok"');
    expect(asReader).not.toMatch(/Create endpoint|Rotate secret|Disable/);
  });
});

describe('raw record page', () => {
  const viewer = { operator: 'ada', role: 'read-only' as const, csrf: 'tok' };
  const rec = { topic: 'raw', partition: 0, offset: '7', timestamp: 1_760_000_000_000, key: null };
  it('shows the Play API answer for Play records, escaped, and nothing of the kind for others', () => {
    const play = rawRecordPage(viewer, rec, {}, '{}', '{"subscriptionState": "<ACTIVE>"}').text;
    expect(play).toContain('Play Developer API answer the normalizer read');
    expect(play).toContain('&quot;subscriptionState&quot;: &quot;&lt;ACTIVE&gt;&quot;');
    expect(rawRecordPage(viewer, rec, {}, '{}').text).not.toContain('Play Developer API');
  });
});

describe('subscriber page', () => {
  const viewer = { operator: 'ada', role: 'read-only' as const, csrf: 'tok' };
  const data = (store: string, basePlan: string | null) => ({
    state: {
      subscriptionKey: 'k',
      store,
      status: 'ACTIVE',
      entitled: true,
      expiresAt: 9,
      lastEventAt: 1,
    } as SubscriptionState,
    events: [],
    triggers: [],
    deliveries: [],
    basePlan,
    now: 0,
  });
  it('names the base plan of a Play subscription, and only there', () => {
    expect(subscriberPage(viewer, data('PLAY_STORE', '3-month')).text).toMatch(
      /<dt>base plan<\/dt>\s*<dd>3-month<\/dd>/,
    );
    expect(subscriberPage(viewer, data('APP_STORE', null)).text).not.toContain('base plan');
  });
});

describe('charts', () => {
  it('fills every bucket per key, zeros where nothing happened', () => {
    const s = bucketSeries(
      [
        { bucket: 0, key: 'RENEWED', n: 2 },
        { bucket: 120, key: 'EXPIRED', n: 1 },
        { bucket: 999, key: 'RENEWED', n: 5 },
      ],
      { from: 0, to: 120, stepMs: 60 },
      String,
    );
    expect(s).toEqual({
      labels: ['0', '60', '120'],
      datasets: [
        { label: 'EXPIRED', data: [0, 0, 1] },
        { label: 'RENEWED', data: [2, 0, 0] },
      ],
    });
  });

  it('groups by x and series', () => {
    expect(
      grouped([
        { x: 'ACTIVE', series: 'APP_STORE', n: 3 },
        { x: 'EXPIRED', series: 'PLAY_STORE', n: 1 },
      ]),
    ).toEqual({
      labels: ['ACTIVE', 'EXPIRED'],
      datasets: [
        { label: 'APP_STORE', data: [3, 0] },
        { label: 'PLAY_STORE', data: [0, 1] },
      ],
    });
  });

  it('counts dead letters by the first line of their reason', () => {
    const dl = (topic: string, reason?: string) => ({
      topic,
      headers: (reason ? { 'dlq.reason': reason } : {}) as Record<string, string>,
    });
    expect(countByReason([dl('a', 'bad\nstack'), dl('a', 'bad\nother'), dl('b'), dl('a', 'x')])).toEqual([
      { topic: 'a', reason: 'bad', count: 2 },
      { topic: 'a', reason: 'x', count: 1 },
      { topic: 'b', reason: '-', count: 1 },
    ]);
  });

  it('computes lag from the committed offset, or from the log start when nothing is committed', () => {
    expect(partitionLag('5', '9', '0')).toBe(4);
    expect(partitionLag('-1', '9', '3')).toBe(6);
    expect(partitionLag('9', '9', '0')).toBe(0);
  });
});

describe('explainEntitlement', () => {
  const state = (over: Partial<SubscriptionState>): SubscriptionState =>
    ({
      status: 'ACTIVE',
      entitled: true,
      expiresAt: 2_000,
      gracePeriodExpiresAt: null,
      lastEventType: 'RENEWED',
      lastEventAt: 500,
      ...over,
    }) as SubscriptionState;

  it('says until when an entitlement lasts', () => {
    expect(explainEntitlement(state({}), 1_000)).toEqual({
      entitled: true,
      why: expect.stringMatching(
        /^Entitled: status ACTIVE until 1970-01-01T00:00:02.000Z \(last event RENEWED/,
      ),
    });
    expect(
      explainEntitlement(state({ status: 'GRACE_PERIOD', gracePeriodExpiresAt: 3_000 }), 2_500).why,
    ).toMatch(/grace period until 1970-01-01T00:00:03.000Z/);
  });

  it('says why not: period over, or the status', () => {
    expect(explainEntitlement(state({}), 2_000).why).toMatch(
      /period ended at 1970-01-01T00:00:02.000Z and no renewal/,
    );
    expect(explainEntitlement(state({ status: 'BILLING_RETRY', entitled: false }), 1_000).why).toMatch(
      /payment failed/,
    );
    expect(explainEntitlement(state({ status: 'NEW_THING' as never, entitled: false }), 1_000).why).toMatch(
      /status is NEW_THING/,
    );
  });
});

describe('live stream filters', () => {
  const e = {
    type: 'RENEWED',
    store: 'APP_STORE',
    environment: 'SANDBOX',
    appId: 'com.x',
  } as SubscriptionEvent;
  it('matches comma-separated values case-insensitively; empty matches all', () => {
    expect(matches(filtersOf({}), e)).toBe(true);
    expect(matches(filtersOf({ type: 'expired, renewed', store: 'app_store' }), e)).toBe(true);
    expect(matches(filtersOf({ environment: 'PRODUCTION' }), e)).toBe(false);
    expect(matches(filtersOf({ appId: ['com.x'] }), e)).toBe(true); // not a string: ignored
  });
});

describe('redactRaw', () => {
  it('removes the V1 shared secret wherever it is, and leaves non-JSON alone', () => {
    const v1 = Buffer.from(JSON.stringify({ password: 's3cret', unified_receipt: { x: { Secret: 'y' } } }));
    const out = redactRaw(v1)!.toString();
    expect(out).not.toMatch(/s3cret|"y"/);
    expect(JSON.parse(out)).toEqual({
      password: '[redacted]',
      unified_receipt: { x: { Secret: '[redacted]' } },
    });
    expect(redactRaw(Buffer.from('not json'))!.toString()).toBe('not json');
    expect(redactRaw(null)).toBeNull();
  });
});
