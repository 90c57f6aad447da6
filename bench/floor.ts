/**
 * The pipeline's skeleton: the same processes, topics, HTTP hops and load as bench/pipeline.ts, each doing
 * only its Kafka and HTTP work with plain kafkajs (bench/hop.ts): a receiver that publishes each body, a
 * normalizer that relays a small record per raw record, a state aggregator and churn-triggers that relay
 * one record each to their topics, and a fan-out that POSTs canonical records to two endpoints and trigger
 * records to one. No verification, Avro, PostgreSQL, transactions or Storeline code. What it costs per
 * notification is what kafkajs and node:http alone cost for the pipeline's shape on this machine: a floor
 * for `npm run bench:pipeline` at the same rate.
 * Usage: npm run bench:floor [-- <rate/s> <count> [endpoint answer delay ms, default 50]]
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { notification } from '../test/kit/builders/appStore';
import { createPki, signedBody } from '../test/kit/appleSigning';
import { freePort } from '../test/support/http';
import {
  cpuMs,
  freshTopics,
  kafkaClient,
  machine,
  ROOT,
  runTs,
  stack,
  stackPid,
  startEndpoints,
  untilExit,
} from './common';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every hop started, so that a failed start or run leaves none polling Kafka into the next run. */
const spawned: ChildProcess[] = [];

function hop(brokers: string[], role: string, args: object): Promise<ChildProcess> {
  // BENCH_NODE_ARGS (e.g. --cpu-prof --cpu-prof-dir=…) reaches the hops as it reaches bench:pipeline's services.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      '--require',
      'tsx/cjs',
      resolve(ROOT, 'bench/hop.ts'),
      brokers.join(','),
      role,
      JSON.stringify(args),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  spawned.push(child);
  return new Promise((ok, fail) => {
    createInterface({ input: child.stdout! }).once('line', () => ok(child));
    child.once('exit', (code, signal) => fail(new Error(`hop ${role} exited (${signal ?? code})`)));
  });
}

async function main(): Promise<void> {
  const rate = Number(process.argv[2] ?? 100);
  const count = Number(process.argv[3] ?? 3000);
  const delayMs = Number(process.argv[4] ?? 50);
  const { brokers } = stack();
  const names = await freshTopics(kafkaClient(brokers));
  const topic = (id: Parameters<typeof names.name>[0]) => names.name(id);
  const run = randomBytes(3).toString('hex');
  const endpoints = await startEndpoints([{ delayMs }, { delayMs }]);
  const port = await freePort();
  const group = (name: string) => `bench-floor-${name}-${run}`;
  const [raw, events, state, triggers] = [
    topic('rawAppStore'),
    topic('subscriptionEvents'),
    topic('subscriptionState'),
    topic('engagementTriggers'),
  ];
  const separate: [string, string, object][] = [
    ['state', 'relay', { from: events, to: state, group: group('state'), bytes: 300 }],
    ['triggers', 'relay', { from: events, to: triggers, group: group('tr'), bytes: 200 }],
    ['fanout', 'deliver', { from: [events, triggers], group: group('fan'), urls: endpoints.urls }],
  ];
  // FLOOR_SHARED=1: state, triggers and fan-out as one process sharing one fetch of the canonical topic;
  // FLOOR_SHARED=cohosted: the three in one process, each still with its own client, group and fetch.
  const consumers = (): [string, Promise<ChildProcess>][] => {
    const shared = process.env.FLOOR_SHARED;
    if (shared !== undefined && shared !== '' && shared !== '1' && shared !== 'cohosted')
      throw new Error(`FLOOR_SHARED must be 1 or cohosted, not ${shared}`);
    if (shared === 'cohosted') {
      const parts = separate.map(([, role, args]) => ({ role, args }));
      return [['cohosted', hop(brokers, 'cohosted', { parts })]];
    }
    if (shared === '1') {
      const args = {
        from: events,
        group: group('shared'),
        stateTo: state,
        triggersTo: triggers,
        urls: endpoints.urls,
      };
      return [['shared', hop(brokers, 'shared', args)]];
    }
    return separate.map(([name, role, args]) => [name, hop(brokers, role, args)]);
  };
  const pki = await createPki();
  const bodies = Array.from({ length: count }, (_, i) => {
    const n = notification('DID_RENEW', undefined, { tx: { originalTransactionId: `8000${i}` } });
    return { id: randomUUID(), body: signedBody(n, pki).toString() };
  });
  const bodiesFile = join(tmpdir(), `storeline-bench-floor-${process.pid}.jsonl`);
  writeFileSync(bodiesFile, bodies.map((b) => JSON.stringify(b)).join('\n') + '\n');
  try {
    const hops: [string, Promise<ChildProcess>][] = [
      ['receiver', hop(brokers, 'receive', { port, to: raw })],
      ['normalizer', hop(brokers, 'relay', { from: raw, to: events, group: group('norm'), bytes: 400 })],
      ...consumers(),
    ];
    // All awaited at once: a hop that fails to start while another is still starting is then handled, and
    // `finally` stops the ones that did start.
    const started = await Promise.all(hops.map(([, p]) => p));
    const children = new Map(hops.map(([name], i): [string, ChildProcess] => [name, started[i]!]));
    const pids: [string, number | undefined][] = [
      ...[...children].map(([n, c]): [string, number | undefined] => [n, c.pid]),
      ['kafka', stackPid('kafka')],
    ];
    const cpuOf = () => Object.fromEntries(pids.map(([n, pid]) => [n, pid ? (cpuMs(pid) ?? NaN) : NaN]));
    const cpu0 = cpuOf();
    const load = JSON.parse(
      await runTs('bench/paced.ts', [`http://127.0.0.1:${port}/`, bodiesFile, String(rate)]),
    ) as { accepted: [string, number][]; rejected: number };
    const accepted = load.accepted.length;
    // Endpoint 0 gets each canonical record, endpoint 1 each canonical and each trigger record.
    const done = ([a, b]: number[]) => a! >= accepted && b! >= 2 * accepted;
    // A hop that exits once running ends the run instead of leaving it to time out with figures.
    await untilExit(
      [...children],
      (async () => {
        for (let i = 0; i < 1200 && !done(await endpoints.counts()); i++) await sleep(100);
      })(),
    );
    const cpu1 = cpuOf();
    const [first, second] = await endpoints.counts();
    if (!done([first!, second!]))
      throw new Error(`deliveries ${first}, ${second} of ${accepted}, ${2 * accepted}`);
    const per = Object.fromEntries(
      Object.keys(cpu0).map((k) => [k, Number(((cpu1[k]! - cpu0[k]!) / accepted).toFixed(2))]),
    );
    const total = Object.values(per).reduce((a, b) => a + b, 0);
    console.log(
      JSON.stringify(
        {
          bench: 'floor',
          machine: machine(),
          rate,
          count,
          endpointDelayMs: delayMs,
          accepted,
          rejected: load.rejected,
          deliveries: [first, second],
          cpuMsPerNotification: { ...per, total: Number(total.toFixed(2)) },
        },
        null,
        2,
      ),
    );
  } finally {
    rmSync(bodiesFile, { force: true });
    endpoints.close();
    for (const c of spawned) c.kill('SIGTERM');
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
