import { parseConfig } from '../../lib/platform/config';
import { ConsoleConfig } from './config';

const operators = [
  { name: 'ada', key: 'an-admin-key-long-enough', role: 'admin' },
  { name: 'rita', key: 'a-reader-key-long-enough', role: 'read-only' },
];
const base = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/storeline',
  CONSOLE_OPERATORS: JSON.stringify(operators),
};

describe('console config', () => {
  it('parses operators with roles, and defaults', () => {
    expect(parseConfig(ConsoleConfig, base)).toMatchObject({
      ok: true,
      config: {
        CONSOLE_OPERATORS: operators,
        PORT: 8096,
        CONSOLE_SECURE_COOKIES: false,
        STATE_DB_SCHEMA: 'storeline_state',
        WEBHOOK_DB_SCHEMA: 'storeline_webhooks',
        TRIGGERS_DB_SCHEMA: 'storeline_triggers',
        CONSOLE_LAG_GROUPS: expect.arrayContaining(['storeline-normalizer', 'storeline-webhook-fanout']),
      },
    });
  });

  it('names short keys, unknown roles and duplicate keys without printing any key', () => {
    const r = parseConfig(ConsoleConfig, {
      ...base,
      CONSOLE_OPERATORS: JSON.stringify([
        { name: 'ada', key: 'short-secret', role: 'admin' },
        { name: 'bob', key: 'another-long-enough-key', role: 'root' },
      ]),
    });
    const problems = r.ok ? [] : r.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^CONSOLE_OPERATORS\.0\.key: each operator key needs at least 16/),
        expect.stringMatching(/^CONSOLE_OPERATORS\.1\.role: /),
      ]),
    );
    expect(problems.join('\n')).not.toMatch(/short-secret|another-long-enough-key/);
    const dup = parseConfig(ConsoleConfig, {
      ...base,
      CONSOLE_OPERATORS: JSON.stringify([operators[0], { ...operators[1], key: operators[0]!.key }]),
    });
    expect(dup.ok ? [] : dup.problems).toEqual([expect.stringMatching(/operator keys must differ/)]);
  });

  it('also reads name:role:key entries, and refuses broken JSON without echoing it', () => {
    const r = parseConfig(ConsoleConfig, {
      ...base,
      CONSOLE_OPERATORS: 'ada:admin:an-admin-key-long-enough, rita:read-only:a-reader-key:with-colon',
    });
    expect(r.ok && r.config.CONSOLE_OPERATORS).toEqual([
      { name: 'ada', role: 'admin', key: 'an-admin-key-long-enough' },
      { name: 'rita', role: 'read-only', key: 'a-reader-key:with-colon' },
    ]);
    const bad = parseConfig(ConsoleConfig, {
      ...base,
      CONSOLE_OPERATORS: '[{"key": "secret-key-1234567890"',
    });
    expect(bad.ok ? [] : bad.problems).toEqual([
      'CONSOLE_OPERATORS: must be a JSON list of {name, key, role} or name:role:key,…',
    ]);
  });

  it('is required', () => {
    const { CONSOLE_OPERATORS: _, ...rest } = base;
    expect(parseConfig(ConsoleConfig, rest)).toEqual({
      ok: false,
      problems: ['CONSOLE_OPERATORS: is required'],
    });
  });
});
