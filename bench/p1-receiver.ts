/**
 * P1: App Store V2 receiver throughput and latency with full verification (x5c chain to a trusted root,
 * ES256 over the notification) and a publish acknowledged with acks=all, next to a bare express + kafkajs
 * publish of the same bodies, measured in the same run against the same broker; and, to see what express
 * costs, the receiver's publisher without verification behind express and behind plain node:http.
 * Usage: npm run bench:p1 [-- <concurrency> <seconds>]
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import { notification } from '../test/kit/builders/appStore';
import { AppleVerifier } from '../lib/core/app-store/verify';
import { createAppStoreReceiver } from '../services/receiver-app-store/app';
import { createIdempotentProducer } from '../lib/platform/kafka';
import { createLogger } from '../lib/platform/logger';
import { KafkaPublisher } from '../lib/platform/publisher';
import { rawBody, sendJson } from '../lib/platform/rawBody';
import { createPki, signedBody } from '../test/kit/appleSigning';
import { serve } from '../test/support/http';
import { cpuMs, freshTopics, kafkaClient, machine, runTs, stack, stackPid } from './common';

async function main(): Promise<void> {
  const [concurrency = '64', seconds = '15'] = process.argv.slice(2);
  const { brokers } = stack();
  const kafka = kafkaClient(brokers);
  const names = await freshTopics(kafka);
  const topic = names.name('rawAppStore');
  const pki = await createPki();
  // Distinct notifications (distinct signatures), as the store sends them.
  const bodies = Array.from({ length: 5000 }, (_, i) => {
    const n = notification('DID_RENEW', undefined, { tx: { originalTransactionId: `4000${i}` } });
    n.payload.notificationUUID = randomUUID();
    return signedBody(n, pki).toString();
  });
  const file = join(tmpdir(), `storeline-p1-${process.pid}.jsonl`);
  writeFileSync(file, bodies.join('\n'));

  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const publisher = new KafkaPublisher({
    createProducer: () => createIdempotentProducer(kafka),
    timeoutMs: 5000,
    logger: createLogger('bench', 'warn'),
  });
  await publisher.start();
  const full = createAppStoreReceiver({
    verifier: new AppleVerifier({
      trustedRoots: [pki.rootDer],
      bundleIds: ['com.example.app'],
      environments: ['Sandbox', 'Production'],
      appAppleIds: [1234567890],
      effectiveDate: 'now',
    }),
    publish: publisher.publish,
    rawTopic: topic,
    logger: createLogger('bench', 'silent'),
    metrics: new Registry(),
    bodyLimitBytes: 256 * 1024,
  });
  // The baseline: the same bodies, no verification, one acks=all publish each.
  const bare = express();
  bare.post('/', express.raw({ type: () => true, limit: '256kb' }), async (req, res) => {
    await producer.send({ topic, acks: -1, messages: [{ key: randomUUID(), value: req.body as Buffer }] });
    res.status(200).end();
  });

  // What express itself costs the receiver: the same publisher (grouped sends, acks=all) without
  // verification, behind express.raw and behind a plain node:http handler.
  const viaExpress = express();
  viaExpress.post('/', express.raw({ type: () => true, limit: '256kb' }), async (req, res) => {
    await publisher.publish({ topic, key: randomUUID(), value: req.body as Buffer, headers: {} });
    res.status(200).json({ status: 'accepted' });
  });
  const viaLean = express();
  viaLean.post('/', rawBody(256 * 1024), async (req, res) => {
    await publisher.publish({ topic, key: randomUUID(), value: req.body as Buffer, headers: {} });
    sendJson(res, 200, { status: 'accepted' });
  });
  const viaHttp = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void publisher
        .publish({ topic, key: randomUUID(), value: Buffer.concat(chunks), headers: {} })
        .then(() => {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"accepted"}');
        });
    });
  });

  // Issue 15's reference for goal 4: node:http alone, reading each body and answering, no Kafka at all.
  const httpOnly = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
  });

  const results: Record<string, unknown> = {};
  // P1_ONLY=receiver runs the receiver alone, e.g. under `--cpu-prof` (see bench/profiles/).
  const variants = [
    ['storeline receiver', full, '/app-store/v2'],
    ['bare express + kafkajs', bare, '/'],
    ['express + publisher, no verification', viaExpress, '/'],
    ['express + rawBody/sendJson + publisher, no verification', viaLean, '/'],
    ['node:http + publisher, no verification', viaHttp, '/'],
    ['bare node:http, no Kafka', httpOnly, '/'],
  ] as const;
  for (const [name, app, path] of variants.filter(
    ([n]) => !process.env.P1_ONLY || n === 'storeline receiver',
  )) {
    const server = await serve(app);
    // The server runs in this process, Kafka in its own: CPU over the whole load run, per answered request.
    const kafkaPid = stackPid('kafka');
    const before = { server: cpuMs(process.pid), kafka: kafkaPid && cpuMs(kafkaPid) };
    const out = JSON.parse(await runTs('bench/load.ts', [server.url + path, file, concurrency, seconds]));
    const after = { server: cpuMs(process.pid), kafka: kafkaPid && cpuMs(kafkaPid) };
    const perRequest = (a?: number, b?: number) =>
      a === undefined || b === undefined ? undefined : Number(((b - a) / out.allRequests).toFixed(3));
    results[name] = {
      ...out,
      serverCpuMsPerRequest: perRequest(before.server, after.server),
      kafkaCpuMsPerRequest: perRequest(before.kafka || undefined, after.kafka || undefined),
    };
    await server.close();
  }
  await producer.disconnect();
  await publisher.stop();
  const r = results as Record<string, { rps: number; p50: number; p99: number; errors: number }>;
  const ratio = r['storeline receiver']!.rps / (r['bare express + kafkajs']?.rps ?? NaN);
  const toHttp = r['storeline receiver']!.rps / (r['bare node:http, no Kafka']?.rps ?? NaN);
  console.log(
    JSON.stringify(
      {
        bench: 'P1',
        machine: machine(),
        concurrency: Number(concurrency),
        seconds: Number(seconds),
        results,
        ratioToBare: Number(ratio.toFixed(2)),
        ratioToNodeHttp: Number(toHttp.toFixed(2)),
      },
      null,
      2,
    ),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
