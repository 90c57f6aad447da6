/**
 * Lints docker-compose.yml and the Dockerfile, which CI cannot run (no Docker engine): the compose file
 * parses, references only services it defines, gives every Storeline service a healthcheck and an entry
 * point the image builds, and each service's environment (with `${VAR:-default}` resolved to its default)
 * passes that service's own zod config schema, so `docker compose up` would not stop at start-up on
 * configuration. (The official compose-spec JSON schema is not reachable offline here.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import type { z } from 'zod';
import { ConsoleConfig } from '../services/console/config';
import { NormalizerConfig } from '../services/normalizer/config';
import { ReceiverAppStoreConfig } from '../services/receiver-app-store/config';
import { ReceiverPlayStoreConfig } from '../services/receiver-play-store/config';
import { RefundResponderConfig } from '../services/refund-responder/config';
import { parseConfig } from '../lib/platform/config';
import { StateAggregatorConfig } from '../services/state/config';
import { TriggersConfig } from '../services/triggers/config';
import { WebhookFanoutConfig } from '../services/webhook-fanout/config';

const ROOT = resolve(__dirname, '..');

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number | boolean>;
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
}

const compose = parse(readFileSync(resolve(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  name: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;

/** What docker compose does to `${VAR:-default}` with VAR unset. */
function interpolate(v: string | number | boolean): string {
  return String(v).replace(
    /\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g,
    (_m, _name, def: string | undefined) => def ?? '',
  );
}

const SCHEMAS: Record<string, z.ZodType> = {
  'receiver-app-store': ReceiverAppStoreConfig,
  'receiver-play-store': ReceiverPlayStoreConfig,
  normalizer: NormalizerConfig,
  'state-aggregator': StateAggregatorConfig,
  'churn-triggers': TriggersConfig,
  'webhook-fanout': WebhookFanoutConfig,
  console: ConsoleConfig,
};

/** Opt-in services (a compose profile): checked with the variables their comment tells users to set. */
const OPT_IN: Record<string, { schema: z.ZodType; set: Record<string, string> }> = {
  'refund-responder': {
    schema: RefundResponderConfig,
    set: {
      REFUND_RESPONDER_ENABLED: 'true',
      APPLE_ISSUER_ID: '57246542-96fe-1a63-e053-0824d011072a',
      APPLE_KEY_ID: '2X9R4HXF34',
      APPLE_BUNDLE_ID: 'com.example.app',
      REFUND_RESPONDER_API_KEYS: 'an-operator-key-0123456789',
    },
  },
};

function environmentOf(name: string, set: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, interpolate(v)]),
  );
  return { ...env, ...set };
}

/** Services that run once and exit 0: no healthcheck. */
const ONE_SHOT = ['topics', 'warehouse-connectors'];

describe('docker-compose.yml', () => {
  it('defines the infrastructure and every Storeline service', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'kafka',
        'postgres',
        'schema-registry',
        'topics',
        'fake-play-api',
        'kafka-connect',
        'warehouse-connectors',
        ...Object.keys(SCHEMAS),
        ...Object.keys(OPT_IN),
      ].sort(),
    );
  });

  it('references only defined services and volumes, with valid conditions', () => {
    const conditions = ['service_started', 'service_healthy', 'service_completed_successfully'];
    for (const [name, s] of Object.entries(services)) {
      expect([name, Boolean(s.image || s.build)]).toEqual([name, true]);
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect([name, dep, dep in services]).toEqual([name, dep, true]);
        expect(conditions).toContain(condition);
        // A service waiting on a healthy dependency needs that dependency to have a healthcheck.
        const checkable = condition !== 'service_healthy' || Boolean(services[dep]!.healthcheck);
        expect([name, dep, checkable]).toEqual([name, dep, true]);
      }
    }
    const named = Object.values(services)
      .flatMap((s) => (s as { volumes?: string[] }).volumes ?? [])
      .map((v) => v.split(':')[0]!)
      .filter((v) => !v.startsWith('.'));
    for (const v of named) expect(Object.keys(compose.volumes ?? {})).toContain(v);
  });

  it('gives every long-running service a healthcheck and an entry point the image builds', () => {
    for (const [name, s] of Object.entries(services)) {
      if (ONE_SHOT.includes(name)) continue;
      expect([name, Array.isArray(s.healthcheck?.test)]).toEqual([name, true]);
      // Only services built from the root Dockerfile run a Storeline entry point (kafka-connect has its own).
      if (!s.build || s.image !== 'storeline:local') continue;
      const entry = s.command?.[0] ?? '';
      const source = entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect([name, entry.startsWith('dist/services/') || entry === 'bin/storeline.js']).toEqual([
        name,
        true,
      ]);
      expect([
        name,
        existsSync(resolve(ROOT, entry === 'bin/storeline.js' ? 'services/cli/main.ts' : source)),
      ]).toEqual([name, true]);
    }
  });

  it.each(Object.keys(SCHEMAS))('gives %s an environment its config schema accepts', (name) => {
    const env = environmentOf(name);
    const parsed = parseConfig(SCHEMAS[name]!, env);
    expect(parsed.ok ? [] : parsed.problems).toEqual([]);
    // The healthcheck reads PORT; the service must listen there.
    expect(env.PORT).toMatch(/^\d+$/);
  });

  it.each(Object.keys(OPT_IN))(
    'keeps %s behind its profile, starting only once its variables are set',
    (name) => {
      const { schema, set } = OPT_IN[name]!;
      expect(services[name]!.profiles).toEqual([name]);
      const unset = parseConfig(schema, environmentOf(name));
      expect(unset.ok ? [] : unset.problems).toEqual(
        expect.arrayContaining([expect.stringMatching(/^REFUND_RESPONDER_ENABLED: must be true/)]),
      );
      const parsed = parseConfig(schema, environmentOf(name, set));
      expect(parsed.ok ? [] : parsed.problems).toEqual([]);
      expect(environmentOf(name).PORT).toMatch(/^\d+$/);
    },
  );

  it('publishes no host port for consumers, so they scale with --scale', () => {
    for (const name of ['normalizer', 'churn-triggers']) expect(services[name]!.ports).toBeUndefined();
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');

  it('is multi-stage and runs as a non-root user', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).not.toMatch(/^USER root$/m);
  });

  it('copies only paths that exist', () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(?:--chown=\S+ )?(.+) \S+$/gm)) {
      for (const src of m[1]!.split(' ')) expect([src, existsSync(resolve(ROOT, src))]).toEqual([src, true]);
    }
  });

  it('applies patches/ (kafkajs) after installing: npm ci --ignore-scripts skips postinstall', () => {
    expect(dockerfile).toMatch(/^COPY patches \.\/patches$/m);
    expect(dockerfile).toMatch(/npm ci --ignore-scripts && npx patch-package$/m);
  });

  it('copies every source folder the build compiles', () => {
    const build = JSON.parse(readFileSync(resolve(ROOT, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    const folders = new Set(build.include.map((glob) => glob.split('/')[0]!));
    for (const f of folders)
      expect([f, dockerfile]).toEqual([f, expect.stringMatching(new RegExp(`^COPY ${f} `, 'm'))]);
  });
});

describe('connect/Dockerfile (kafka-connect) and the warehouse connectors', () => {
  const dockerfile = readFileSync(resolve(ROOT, 'connect/Dockerfile'), 'utf8');

  it('copies only paths that exist and runs as a non-root user', () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(?:--chown=\S+ )?(.+) \S+$/gm)) {
      for (const src of m[1]!.split(' ')) expect([src, existsSync(resolve(ROOT, src))]).toEqual([src, true]);
    }
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toMatch(/^USER connect$/m);
  });

  it('mounts and applies files that exist', () => {
    const s = services['warehouse-connectors']!;
    for (const v of (s as { volumes?: string[] }).volumes ?? []) {
      const src = v.split(':')[0]!;
      expect([src, existsSync(resolve(ROOT, src))]).toEqual([src, true]);
    }
    const files = (s.command ?? []).filter((arg) => /\.(js|json)$/.test(arg));
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) expect([f, existsSync(resolve(ROOT, f))]).toEqual([f, true]);
  });
});
