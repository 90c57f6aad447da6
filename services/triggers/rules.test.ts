import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_RULES, parseRules } from './rules';

describe('trigger rules', () => {
  it('has sane defaults and parses the example file', () => {
    expect(DEFAULT_RULES).toMatchObject({
      fireInSandbox: false,
      winbackOffer: { delaySeconds: 604800, reasons: ['VOLUNTARY', 'BILLING_ERROR'] },
    });
    const r = parseRules(
      readFileSync(resolve(__dirname, 'rules.example.json'), 'utf8'),
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

describe('local demo rules', () => {
  it('parse', () => {
    const r = parseRules(readFileSync(resolve(__dirname, 'rules.local.json'), 'utf8'), 'rules.local.json');
    expect(r.ok && r.rules.fireInSandbox).toBe(true);
  });
});
