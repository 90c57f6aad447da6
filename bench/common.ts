/** Shared by the benchmarks: the local stack's addresses, fresh topics, a child-process runner. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import type { Pool } from 'pg';
import { ensureTopics } from '../lib/platform/kafka';
import { TopicNames } from '../lib/core/topics';

export const ROOT = resolve(__dirname, '..');

/**
 * The stack `npm run stack:up` runs (started here if it is not up), or the one the three variables the
 * tests use name (so a copy of the tree can run against the same stack).
 */
export function stack(): { brokers: string[]; registryUrl: string; databaseUrl: string } {
  const { KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL } = process.env;
  if (KAFKA_BROKERS && SCHEMA_REGISTRY_URL && DATABASE_URL) {
    return { brokers: KAFKA_BROKERS.split(','), registryUrl: SCHEMA_REGISTRY_URL, databaseUrl: DATABASE_URL };
  }
  const out = execFileSync('bash', [resolve(ROOT, 'scripts/stack/stack.sh'), 'up'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const env = Object.fromEntries(
    out
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    brokers: env.KAFKA_BROKERS!.split(','),
    registryUrl: env.SCHEMA_REGISTRY_URL!,
    databaseUrl: env.DATABASE_URL!,
  };
}

export function kafkaClient(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'storeline-bench', brokers, logLevel: logLevel.NOTHING });
}

export async function freshTopics(kafka: Kafka): Promise<TopicNames> {
  const names = new TopicNames(`bench-${randomBytes(4).toString('hex')}.`);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, names);
  await admin.disconnect();
  return names;
}

/** Runs a TypeScript file as its own process and returns its stdout. */
export function runTs(file: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', resolve(ROOT, file), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolvePromise(out) : reject(new Error(`${file} exited ${code}`)),
    );
  });
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/**
 * Runs a service entry as its own process (stdout ignored), LOG_LEVEL warn by default. BENCH_NODE_ARGS adds
 * node flags, e.g. `--cpu-prof --cpu-prof-dir=bench/profiles/raw` (node refuses --cpu-prof in NODE_OPTIONS).
 */
export function service(entry: string, env: Record<string, string>): ChildProcess {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const logDir = process.env.BENCH_LOG_DIR;
  const child = spawn(process.execPath, [...nodeArgs, '--require', 'tsx/cjs', resolve(ROOT, entry)], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', logDir ? 'pipe' : 'ignore', 'inherit'],
  });
  // BENCH_LOG_DIR keeps each service's log lines (warnings and errors) in <dir>/<service>.log.
  if (logDir) child.stdout!.pipe(createWriteStream(resolve(logDir, `${basename(dirname(entry))}.log`)));
  return child;
}

export interface EndpointSpec {
  delayMs?: number;
  hang?: boolean;
}

/** The endpoints of bench/endpoint.ts, in their own process, and the commands it answers. */
export async function startEndpoints(specs: EndpointSpec[]) {
  const child = spawn(
    process.execPath,
    ['--require', 'tsx/cjs', resolve(ROOT, 'bench/endpoint.ts'), JSON.stringify(specs)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const replies: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => replies.shift()?.(l));
  const next = () => new Promise<string>((r) => replies.push(r));
  const ask = async <T>(cmd: string): Promise<T> => {
    const reply = next();
    child.stdin!.write(cmd + '\n');
    return JSON.parse(await reply) as T;
  };
  const { urls } = JSON.parse(await next()) as { urls: string[] };
  return {
    urls,
    counts: async () => (await ask<{ counts: number[] }>('counts')).counts,
    dump: async () =>
      (await ask<{ servers: { arrivals: [string, number][]; maxConcurrent: number }[] }>('dump')).servers.map(
        (s) => ({ arrivals: new Map(s.arrivals), maxConcurrent: s.maxConcurrent }),
      ),
    close: () => child.stdin!.end(),
  };
}

/** Readiness of a service process's HTTP port (/readyz), up to two minutes. */
export async function ready(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`port ${port} never ready`);
}

export function quantiles(values: number[]) {
  const v = [...values].sort((a, b) => a - b);
  const q = (p: number) => Math.round(v[Math.min(v.length - 1, Math.floor(p * v.length))] ?? NaN);
  return { count: v.length, p50: q(0.5), p95: q(0.95), p99: q(0.99) };
}

const TICKS_PER_MS = 100 / 1000; // USER_HZ is 100 on Linux

/** The pid of a process of the local stack (`kafka`, `registry`), from its pid file under .stack/run. */
export function stackPid(name: string): number | undefined {
  try {
    const dir = process.env.STORELINE_STACK_DIR ?? resolve(ROOT, '.stack');
    return Number(readFileSync(resolve(dir, 'run', `${name}.pid`), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of a process in ms, or undefined once it is gone. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_MS;
  } catch {
    return undefined;
  }
}

/** Samples the CPU of the PostgreSQL backends of `app` (the last value seen per backend is kept). */
export function backendCpu(pool: Pool, app: string) {
  const last = new Map<number, number>();
  const first = new Map<number, number>();
  const sample = async () => {
    const r = await pool.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [app],
    );
    for (const { pid } of r.rows) {
      const ms = cpuMs(pid);
      if (ms === undefined) continue;
      if (!first.has(pid)) first.set(pid, ms);
      last.set(pid, ms);
    }
  };
  const timer = setInterval(() => void sample().catch(() => undefined), 250);
  return {
    sample,
    /** CPU-ms since each backend was first seen (a backend seen only late is undercounted). */
    stop: () => {
      clearInterval(timer);
      return [...last].reduce((sum, [pid, ms]) => sum + ms - (first.get(pid) ?? ms), 0);
    },
  };
}

/**
 * A service's counters from its /metrics: every `_total` and histogram `_count` series, summed over labels
 * by name (without the storeline_ prefix). What a run did per notification (batches, transactions, rounds)
 * explains its CPU better than the CPU alone.
 */
export async function counters(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^storeline_(\w+?(?:_total|_count))(?:\{[^}]*\})? ([\d.e+]+)$/gm)) {
    out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}

/** The measurement, unless one of the measured processes exits first (then its exit, not a long wait). */
export function untilExit<T>(children: [string, ChildProcess][], measuring: Promise<T>): Promise<T> {
  const exited = children.map(
    ([name, child]) =>
      new Promise<never>((_, reject) => {
        const fail = (code: number | null, signal: NodeJS.Signals | null) =>
          reject(new Error(`${name} exited (${signal ?? code}) during the run`));
        // Already gone (between two waits): 'exit' would never fire again.
        if (child.exitCode !== null || child.signalCode !== null) fail(child.exitCode, child.signalCode);
        else child.once('exit', fail);
      }),
  );
  return Promise.race([measuring, ...exited]);
}
