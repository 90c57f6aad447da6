/**
 * `storeline dlq list|show|redrive`: the catalog's dead-letter topics for an operator. Every read goes from a
 * DLQ's start to its end at the time of the call (read_committed, a throwaway group that never commits).
 *   list     one line per dead letter, then counts per DLQ and reason
 *   show     one dead letter: headers and its value decoded
 *   redrive  selected dead letters back to their source topic, with their key and headers (minus dlq.*) and
 *            `redriven-from`; raw notifications keep their identity, so the normalizer's dedupe makes a
 *            record re-driven twice yield its events once. See redriveRefusal for the DLQs that refuse.
 */
import { parseArgs } from 'node:util';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import { z } from 'zod';
import {
  describeRawValue,
  listLine,
  parsePositions,
  positionOf,
  redriveHeaders,
  redriveRefusal,
  redriveTarget,
  resolveDlqs,
  selects,
  summaryLines,
  type DeadLetter,
  type DeadLetterFilter,
  type DlqTopic,
} from '../../lib/core/dlq/deadLetters';
import { errorMessage } from '../../lib/core/errors';
import { TopicNames } from '../../lib/core/topics';
import { codecFor, createRegistry, type AvroTopicId } from '../../lib/platform/avro';
import { kafkaEnv, parseConfig } from '../../lib/platform/config';
import { existingTopics, readDeadLetters, writeRedrives, type Redrive } from '../../lib/platform/dlqReader';
import { createKafka } from '../../lib/platform/kafka';

const USAGE = `usage: storeline dlq list [--topic DLQ] [--reason REGEX] [--stage S] [--since T] [--until T]
       storeline dlq show DLQ PARTITION@OFFSET
       storeline dlq redrive [--topic DLQ] [--offsets P@O,…] [--reason REGEX] [--stage S] [--since T] [--until T] [--dry-run]
  DLQ: a catalog id (rawAppStoreDlq, rawPlayStoreDlq, subscriptionEventsDlq, engagementTriggersDlq, webhooksDlq)
       or a topic name; default: every DLQ. T: ISO 8601 or epoch ms, on the time a record was dead-lettered.
  Re-drive writes to the record's dlq.source-topic (else its DLQ's catalog source) and refuses the canonical
  events DLQ and the webhooks DLQ (see the message).
  (reads KAFKA_BROKERS, SCHEMA_REGISTRY_URL, TOPIC_PREFIX; defaults: the embedded local stack)
`;

const LOCAL_STACK = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
};

export interface DlqIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const nodeIo: DlqIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

interface Ctx {
  kafka: Kafka;
  names: TopicNames;
  registryUrl: string;
  io: DlqIo;
}

class UsageError extends Error {}

export async function runDlq(args: string[], env = process.env, io: DlqIo = nodeIo): Promise<number> {
  const [sub, ...rest] = args;
  const parsed = parseConfig(z.object(kafkaEnv), { ...LOCAL_STACK, ...env });
  if (!parsed.ok) {
    io.err(`storeline dlq: invalid configuration\n${parsed.problems.map((p) => `  - ${p}`).join('\n')}`);
    return 2;
  }
  const { config } = parsed;
  const logger = pino({ name: 'storeline-dlq', level: 'error' }, pino.destination(2));
  const ctx: Ctx = {
    kafka: createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'storeline-dlq', logger }),
    names: new TopicNames(config.TOPIC_PREFIX),
    registryUrl: config.SCHEMA_REGISTRY_URL,
    io,
  };
  try {
    if (sub === 'list') return await list(ctx, rest);
    if (sub === 'show') return await show(ctx, rest);
    if (sub === 'redrive') return await redrive(ctx, rest);
    if (sub === '--help' || sub === 'help') {
      io.out(USAGE);
      return 0;
    }
    throw new UsageError(sub === undefined ? 'a subcommand is required' : `unknown subcommand "${sub}"`);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`storeline dlq: ${errorMessage(err)}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

const filterOptions = {
  topic: { type: 'string' },
  reason: { type: 'string' },
  stage: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
} as const;

function time(name: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(t)) throw new UsageError(`${name}: not a time: ${s}`);
  return t;
}

function filterOf(v: { reason?: string; stage?: string; since?: string; until?: string }): DeadLetterFilter {
  let reason: RegExp | undefined;
  try {
    reason = v.reason === undefined ? undefined : new RegExp(v.reason);
  } catch (err) {
    throw new UsageError(`--reason: ${errorMessage(err)}`);
  }
  return { reason, stage: v.stage, since: time('--since', v.since), until: time('--until', v.until) };
}

function dlqsOf(ctx: Ctx, topic: string | undefined): DlqTopic[] {
  try {
    return resolveDlqs(ctx.names, topic);
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

async function read(
  ctx: Ctx,
  dlqs: DlqTopic[],
  filter: DeadLetterFilter,
  at?: { partition: number; offset: number },
): Promise<DeadLetter[]> {
  const wanted = dlqs.map((d) => d.name);
  const topics = await existingTopics(ctx.kafka, wanted);
  for (const t of wanted.filter((w) => !topics.includes(w)))
    ctx.io.err(`${t} does not exist (storeline topics create makes the catalog); skipped`);
  const all = await readDeadLetters(ctx.kafka, topics, { at });
  return all.filter((d) => selects(filter, d));
}

async function list(ctx: Ctx, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: filterOptions });
  const records = await read(ctx, dlqsOf(ctx, values.topic), filterOf(values));
  for (const d of records) ctx.io.out(listLine(d));
  for (const l of summaryLines(records)) ctx.io.out(l);
  return 0;
}

async function show(ctx: Ctx, args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true });
  const [topic, at] = positionals;
  if (!topic || !at || positionals.length !== 2) throw new UsageError('show needs DLQ PARTITION@OFFSET');
  const [dlq] = dlqsOf(ctx, topic);
  let positions: Set<string>;
  try {
    positions = parsePositions(at);
    if (positions.size !== 1) throw new Error('show takes one PARTITION@OFFSET');
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const [partition, offset] = [...positions][0]!.split('@').map(Number) as [number, number];
  const [d] = await read(ctx, [dlq!], { positions }, { partition, offset });
  if (!d) {
    ctx.io.err(`no record at ${at} in ${dlq!.name}`);
    return 1;
  }
  ctx.io.out(`${d.topic} ${positionOf(d)}  ${new Date(d.timestamp).toISOString()}`);
  ctx.io.out(`key: ${d.key?.toString('utf8') ?? '(none)'}`);
  ctx.io.out('headers:');
  for (const [k, v] of Object.entries(d.headers).sort(([a], [b]) => a.localeCompare(b)))
    ctx.io.out(`  ${k}: ${v}`);
  ctx.io.out(`value (${d.value?.length ?? 0} bytes):`);
  ctx.io.out(await describeValue(ctx, dlq!, d));
  return 0;
}

/** Avro values of the canonical and trigger topics through the registry; anything else as raw bytes. */
async function describeValue(ctx: Ctx, dlq: DlqTopic, d: DeadLetter): Promise<string> {
  const avroSource: AvroTopicId | undefined =
    dlq.source === 'subscriptionEvents' || dlq.source === 'engagementTriggers' ? dlq.source : undefined;
  if (avroSource && d.value && d.value[0] === 0) {
    try {
      const codec = codecFor<unknown>(createRegistry(ctx.registryUrl), ctx.names, avroSource);
      const decoded = await codec.decode(d.value);
      return `avro (schema id ${d.value.readInt32BE(1)}):\n${JSON.stringify(decoded, bigints, 2)}`;
    } catch (err) {
      return `avro does not decode (${errorMessage(err)}); ${describeRawValue(d.value)}`;
    }
  }
  return describeRawValue(d.value);
}

const bigints = (_k: string, v: unknown) =>
  typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('hex') : v;

async function redrive(ctx: Ctx, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...filterOptions,
      offsets: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  if (values.offsets && !values.topic) throw new UsageError('--offsets needs --topic (offsets are per DLQ)');
  const filter = filterOf(values);
  try {
    if (values.offsets) filter.positions = parsePositions(values.offsets);
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const dlqs = dlqsOf(ctx, values.topic);
  const refused = dlqs.filter((d) => redriveRefusal(d));
  if (values.topic && refused.length > 0) {
    ctx.io.err(`storeline dlq redrive: refused: ${redriveRefusal(refused[0]!)}`);
    return 2;
  }
  const records = await read(ctx, dlqs, filter);
  const plan: Redrive[] = [];
  let skipped = 0;
  for (const d of records) {
    const dlq = dlqs.find((q) => q.name === d.topic)!;
    const refusal = redriveRefusal(dlq);
    if (refusal || !d.value) {
      skipped += 1;
      ctx.io.err(`skip ${d.topic} ${positionOf(d)}: ${refusal ?? 'no value'}`);
      continue;
    }
    const target = redriveTarget(dlq, ctx.names, d);
    plan.push({ topic: target, key: d.key, value: d.value, headers: redriveHeaders(d) });
    ctx.io.out(
      `${values['dry-run'] ? 'would re-drive' : 're-drive'} ${d.topic} ${positionOf(d)} -> ${target}`,
    );
  }
  if (!values['dry-run']) await writeRedrives(ctx.kafka, plan);
  ctx.io.out(
    `selected ${records.length}, re-driven ${values['dry-run'] ? 0 : plan.length}, skipped ${skipped}${values['dry-run'] ? ` (dry run: ${plan.length} would be re-driven)` : ''}`,
  );
  return 0;
}
