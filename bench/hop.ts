/**
 * One hop of the pipeline's skeleton (bench/floor.ts), as its own process: only the Kafka and HTTP work
 * of the real service at that place, with plain kafkajs defaults and no Storeline code (no verification,
 * decoding, Avro, PostgreSQL or transactions).
 * Usage: tsx bench/hop.ts <brokers> <role> <json args>, role one of
 * - `receive` {port, to}: node:http; each POST's body sent to `to` (acks=all) before answering 200;
 * - `relay` {from, to, group, bytes}: consume `from`, send a `bytes`-long record per record to `to`;
 * - `consume` {from, group}: consume and commit, nothing else;
 * - `deliver` {from: string[], group, urls}: POST each record to every URL (the first only for records
 *   of `from[0]`, as the real fan-out sends renewals to one endpoint and everything to the other);
 * - `shared` {from, group, stateTo, triggersTo, urls}: state, triggers and deliver in one process sharing
 *   one fetch of `from` (one send to both topics, POSTs to every URL), and a second consumer delivering
 *   `triggersTo` to the last URL: what the three consumers of the canonical topic would cost as one;
 * - `cohosted` {parts: [{role, args}]}: several of the roles above in one process, each with its own
 *   client, producer, consumer and group, as separate services would be if one process hosted them.
 */
import { createServer, request, Agent } from 'node:http';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';

const [brokers, role, json] = process.argv.slice(2);

interface Args {
  port?: number;
  from?: string | string[];
  to?: string;
  group?: string;
  bytes?: number;
  urls?: string[];
  stateTo?: string;
  triggersTo?: string;
  parts?: { role: string; args: Args }[];
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function post(url: string, id: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'webhook-id': id } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * FLOOR_WAIT_MS > 0 batches across time the kafkajs way: the broker holds each fetch until 1 MB or that
 * many ms (Storeline's consumers linger 20 ms after a small batch instead: CONSUMER_LINGER_MS).
 */
const waitMs = Number(process.env.FLOOR_WAIT_MS ?? 0);

async function consumer(kafka: Kafka, topics: string[], groupId: string): Promise<Consumer> {
  const c = kafka.consumer({
    groupId,
    ...(waitMs > 0 && { minBytes: 1024 * 1024, maxWaitTimeInMs: waitMs }),
  });
  await c.connect();
  await c.subscribe({ topics, fromBeginning: true });
  return c;
}

async function main(): Promise<void> {
  const args = JSON.parse(json ?? '{}') as Args;
  if (role === 'cohosted') for (const part of args.parts!) await start(part.role, part.args);
  else await start(role!, args);
  console.log('ready');
}

/** One role's clients, started; resolves once it consumes (or listens). */
async function start(part: string, args: Args): Promise<void> {
  const kafka = new Kafka({
    clientId: `bench-hop-${part}`,
    brokers: brokers!.split(','),
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer();
  await producer.connect();
  if (part === 'receive') {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        producer.send({ topic: args.to!, acks: -1, messages: [{ value: Buffer.concat(chunks) }] }).then(
          () => res.writeHead(200).end(),
          () => res.writeHead(503).end(),
        );
      });
    });
    await new Promise<void>((ok) => server.listen(args.port!, '127.0.0.1', ok));
    return;
  }
  if (part === 'shared') return shared(kafka, producer, args);
  const from = Array.isArray(args.from) ? args.from : [args.from!];
  const c = await consumer(kafka, from, args.group!);
  const filler = Buffer.alloc(args.bytes ?? 0, 1);
  // FLOOR_COMMIT_MS > 0: offsets committed at most that often instead of after every partition's batch
  // (kafkajs' eachBatch default); an experiment, not what Storeline's consumers do. Not in `shared`.
  const commitMs = Number(process.env.FLOOR_COMMIT_MS ?? 0);
  await c.run({
    ...(commitMs > 0 && { autoCommit: false, autoCommitInterval: commitMs }),
    // Without FLOOR_COMMIT_MS no interval is set, so commitOffsetsIfNecessary commits nothing and kafkajs
    // commits after the batch as it always does.
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
      await work(batch);
      resolveOffset(batch.lastOffset());
      await commitOffsetsIfNecessary();
    },
  });

  async function work(batch: {
    topic: string;
    partition: number;
    messages: { offset: string; value: Buffer | null }[];
  }) {
    if (part === 'relay') {
      await producer.send({
        topic: args.to!,
        acks: -1,
        messages: batch.messages.map((m) => ({ key: m.offset, value: filler })),
      });
    } else if (part === 'deliver') {
      const urls = batch.topic === from[0] ? args.urls! : args.urls!.slice(1);
      await Promise.all(
        batch.messages.flatMap((m) =>
          urls.map((u) => post(u, `${batch.topic}:${batch.partition}:${m.offset}`, m.value ?? filler)),
        ),
      );
    }
  }
}

async function shared(kafka: Kafka, producer: Producer, args: Args): Promise<void> {
  const state = Buffer.alloc(300, 1);
  const trigger = Buffer.alloc(200, 1);
  const id = (topic: string, partition: number, offset: string) => `${topic}:${partition}:${offset}`;
  const events = await consumer(kafka, [args.from as string], args.group!);
  await events.run({
    eachBatch: async ({ batch }) => {
      const keyed = (value: Buffer) => batch.messages.map((m) => ({ key: m.offset, value }));
      await producer.sendBatch({
        acks: -1,
        topicMessages: [
          { topic: args.stateTo!, messages: keyed(state) },
          { topic: args.triggersTo!, messages: keyed(trigger) },
        ],
      });
      await Promise.all(
        batch.messages.flatMap((m) =>
          args.urls!.map((u) => post(u, id(batch.topic, batch.partition, m.offset), m.value ?? trigger)),
        ),
      );
    },
  });
  const triggers = await consumer(kafka, [args.triggersTo!], `${args.group!}-triggers`);
  await triggers.run({
    eachBatch: async ({ batch }) => {
      await Promise.all(
        batch.messages.map((m) =>
          post(args.urls!.at(-1)!, id(batch.topic, batch.partition, m.offset), trigger),
        ),
      );
    },
  });
}

process.on('SIGTERM', () => process.exit(0));
void main();
