import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_RULES, parseRules } from './rules';

// The rules files are deployment config: they live with the triggers deployable.
const RULES_DIR = resolve(__dirname, '../../../services/triggers');

describe('trigger rules', () => {
  it('has sane defaults and parses the example file', () => {
    expect(DEFAULT_RULES).toMatchObject({
      fireInSandbox: false,
      winbackOffer: { delaySeconds: 604800, reasons: ['VOLUNTARY', 'BILLING_ERROR'] },
    });
    const r = parseRules(
      readFileSync(resolve(RULES_DIR, 'rules.example.json'), 'utf8'),
      'rules.example.json',
    );
    expect(r.ok && r.rules.frequencyCaps.WINBACK_OFFER).toEqual({ max: 1, windowSeconds: 2592000 });
  });

  it('names unknown keys and bad values precisely', () => {
    const r = parseRules(
      JSON.stringify({
        winbackOffer: { delayDays: 3 },
        refundAbuseSuspected: { maxRefundsPerUser: 0 },
        frequencyCaps: { NOT_A_KIND: { max: 1, windowSeconds: 1 } },
        surprise: true,
      }),
      'rules.json',
    );
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        'rules.json: winbackOffer: Unrecognized key: "delayDays"',
        expect.stringMatching(/^rules\.json: refundAbuseSuspected\.maxRefundsPerUser: /),
        'rules.json: frequencyCaps: Unrecognized key: "NOT_A_KIND"',
        'rules.json: (root): Unrecognized key: "surprise"',
      ]),
    );
    expect(parseRules('{oops', 'x.json')).toEqual({
      ok: false,
      problems: [expect.stringMatching(/^x\.json: not JSON/)],
    });
  });
});

describe('cancellation scope', () => {
  it('defaults to the subscription, and to the user only for win-backs', () => {
    expect(DEFAULT_RULES).toMatchObject({
      cancellationSaveOffer: { cancelScope: 'subscription' },
      winbackOffer: { cancelScope: 'user' },
      priceIncreaseConsentReminder: { cancelScope: 'subscription' },
    });
    // A rule given without its scope gets the same default as one left out.
    const r = parseRules(JSON.stringify({ winbackOffer: { delaySeconds: 60 }, cancellationSaveOffer: {} }));
    expect(r.ok && [r.rules.winbackOffer.cancelScope, r.rules.cancellationSaveOffer.cancelScope]).toEqual([
      'user',
      'subscription',
    ]);
  });

  it.each(['rules.example.json', 'rules.local.json'])('%s states every scope', (file) => {
    const text = readFileSync(resolve(RULES_DIR, file), 'utf8');
    const json = JSON.parse(text) as Record<string, { cancelScope?: string }>;
    expect([
      json.cancellationSaveOffer?.cancelScope,
      json.winbackOffer?.cancelScope,
      json.priceIncreaseConsentReminder?.cancelScope,
    ]).toEqual(['subscription', 'user', 'subscription']);
    expect(parseRules(text, file).ok).toBe(true);
  });

  it('takes a configured scope and names a bad one', () => {
    const r = parseRules(JSON.stringify({ priceIncreaseConsentReminder: { cancelScope: 'user' } }));
    expect(r.ok && r.rules.priceIncreaseConsentReminder.cancelScope).toBe('user');
    const bad = parseRules(
      JSON.stringify({ winbackOffer: { cancelScope: 'everyone' }, welcome: { cancelScope: 'user' } }),
      'rules.json',
    );
    expect(bad.ok ? [] : bad.problems.sort()).toEqual([
      // Kinds that fire at once are never pending, so there is nothing to scope.
      'rules.json: welcome: Unrecognized key: "cancelScope"',
      'rules.json: winbackOffer.cancelScope: Invalid option: expected one of "subscription"|"user"',
    ]);
  });
});

describe('local demo rules', () => {
  it('parse', () => {
    const r = parseRules(readFileSync(resolve(RULES_DIR, 'rules.local.json'), 'utf8'), 'rules.local.json');
    expect(r.ok && r.rules.fireInSandbox).toBe(true);
  });
});
