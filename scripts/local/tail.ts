/**
 * The live view of `npm start`: one line per canonical event (type, subscription, store, receive-to-event
 * latency) from the canonical topic, and one per webhook delivery received by the demo endpoint, verified
 * with the independent standardwebhooks library.
 */
import { createServer, type Server } from 'node:http';
import { Kafka, logLevel } from 'kafkajs';
import { Webhook } from 'standardwebhooks';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { TopicNames } from '../../lib/core/topics';

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const time = () => new Date().toISOString().slice(11, 23);

export async function tailCanonical(opts: { brokers: string[]; registryUrl: string; prefix?: string }) {
  const names = new TopicNames(opts.prefix ?? '');
  const codec = codecFor<SubscriptionEvent>(createRegistry(opts.registryUrl), names, 'subscriptionEvents');
  const kafka = new Kafka({
    clientId: 'storeline-local-tail',
    brokers: opts.brokers,
    logLevel: logLevel.NOTHING,
  });
  // A fresh group per run, starting at the end: the tail shows what happens from now on.
  const consumer = kafka.consumer({ groupId: `storeline-local-tail-${process.pid}-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [names.name('subscriptionEvents')], fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      try {
        const e = await codec.decode(message.value);
        const latency = Number(message.timestamp) - e.receivedAt;
        console.log(
          `${time()}  event    ${pad(e.type, 34)} ${pad(e.subscriptionKey, 40)} ${pad(e.store, 10)} receive→event ${latency} ms`,
        );
      } catch (err) {
        console.log(`${time()}  event    (undecodable: ${err instanceof Error ? err.message : String(err)})`);
      }
    },
  });
  return () => consumer.disconnect();
}

/** A customer endpoint for the demo: verifies every delivery and prints one line for it. */
export function demoEndpoint(port: number, secret: string): Promise<Server> {
  const verifier = new Webhook(secret);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      try {
        const payload = verifier.verify(body, headers) as {
          type: string;
          data: { subscriptionKey?: string };
        };
        console.log(
          `${time()}  webhook  ${pad(payload.type, 34)} ${pad(payload.data.subscriptionKey ?? '', 40)} verified   webhook-id ${headers['webhook-id']}`,
        );
        res.writeHead(204).end();
      } catch (err) {
        console.log(`${time()}  webhook  REJECTED (${err instanceof Error ? err.message : String(err)})`);
        res.writeHead(400).end();
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
