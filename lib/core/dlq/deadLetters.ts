/**
 * Dead letters as the operator tools see them, pure: which DLQ a name means, which records a filter selects,
 * how a record is listed and summarised, where a re-drive writes it and with which headers, and how its value
 * reads. Reading and writing Kafka is lib/platform/dlqReader.ts; the command is services/cli/dlq.ts.
 * Header names mirror DLQ_HEADERS (lib/platform/dlq.ts), which lib/core may not import.
 */
import { RAW_HEADERS } from '../rawHeaders';
import { TOPICS, type TopicId, type TopicNames } from '../topics';
import { decodeJwsPayload } from '../app-store/jws';
import { errorMessage } from '../errors';

export type Headers = Record<string, string>;

export interface DeadLetter {
  topic: string;
  partition: number;
  offset: string;
  /** When the record was written to the DLQ, epoch ms. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

/** A DLQ of the catalog: its id, its name under the prefix, and the catalog topic it is the DLQ of. */
export interface DlqTopic {
  id: TopicId;
  name: string;
  /** The catalog topic whose dead letters it holds; undefined for the webhooks DLQ (deliveries, not records). */
  source?: TopicId;
  /** The source topic's name under the prefix. */
  sourceName?: string;
}

const DLQ_PREFIX = 'dlq.';
const H = {
  stage: 'dlq.stage',
  reason: 'dlq.reason',
  sourceTopic: 'dlq.source-topic',
} as const;

/** Every DLQ of the catalog, each with its source topic. */
export function catalogDlqs(names: TopicNames): DlqTopic[] {
  const sources = new Map<string, TopicId>();
  for (const t of names.all()) if (t.spec.dlq) sources.set(t.spec.dlq, t.id);
  return names
    .all()
    .filter((t) => sources.has(t.id) || t.id === 'webhooksDlq')
    .map((t) => {
      const source = sources.get(t.id);
      return { id: t.id, name: t.name, source, sourceName: source && names.name(source) };
    });
}

/** The DLQs a `--topic` argument names (catalog id or topic name, with or without the prefix); all without one. */
export function resolveDlqs(names: TopicNames, arg: string | undefined): DlqTopic[] {
  const all = catalogDlqs(names);
  if (arg === undefined) return all;
  const hit = all.find((d) => d.id === arg || d.name === arg || TOPICS[d.id].name === arg);
  if (!hit)
    throw new Error(`unknown DLQ "${arg}"; one of: ${all.map((d) => `${d.id} (${d.name})`).join(', ')}`);
  return [hit];
}

export interface DeadLetterFilter {
  reason?: RegExp;
  stage?: string;
  /** Epoch ms, on the time the record was dead-lettered. */
  since?: number;
  until?: number;
  /** `partition@offset` of the records to take; all when absent. */
  positions?: Set<string>;
}

export const positionOf = (d: DeadLetter): string => `${d.partition}@${d.offset}`;

export function selects(f: DeadLetterFilter, d: DeadLetter): boolean {
  return (
    (!f.reason || f.reason.test(d.headers[H.reason] ?? '')) &&
    (!f.stage || d.headers[H.stage] === f.stage) &&
    (f.since === undefined || d.timestamp >= f.since) &&
    (f.until === undefined || d.timestamp <= f.until) &&
    (!f.positions || f.positions.has(positionOf(d)))
  );
}

/** `p@o,p@o` -> the set; throws on anything else. */
export function parsePositions(s: string): Set<string> {
  const list = s.split(',').map((p) => p.trim());
  for (const p of list) if (!/^\d+@\d+$/.test(p)) throw new Error(`not partition@offset: "${p}"`);
  return new Set(list);
}

/** One line per record: topic, partition@offset, time, stage, reason, key. */
export function listLine(d: DeadLetter): string {
  const reason = (d.headers[H.reason] ?? '-').replace(/\s+/g, ' ').slice(0, 200);
  return [
    d.topic,
    positionOf(d),
    new Date(d.timestamp).toISOString(),
    d.headers[H.stage] ?? '-',
    JSON.stringify(reason),
    `key=${d.key?.toString('utf8') ?? '-'}`,
  ].join('  ');
}

/** Counts per DLQ, then per reason within it (reasons cut to their first line and 120 characters). */
export function summaryLines(records: DeadLetter[]): string[] {
  const per = new Map<string, Map<string, number>>();
  for (const d of records) {
    const reasons = per.get(d.topic) ?? new Map<string, number>();
    const reason = (d.headers[H.reason] ?? '-').split('\n')[0]!.slice(0, 120);
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    per.set(d.topic, reasons);
  }
  const lines = [`${records.length} dead letter(s)`];
  for (const [topic, reasons] of per) {
    lines.push(`${topic}: ${[...reasons.values()].reduce((a, b) => a + b, 0)}`);
    for (const [reason, n] of [...reasons].sort((a, b) => b[1] - a[1])) lines.push(`  ${n}  ${reason}`);
  }
  return lines;
}

/**
 * Why a DLQ's records may not be re-driven, or undefined when they may. Raw notifications keep their identity
 * (notificationUUID, Pub/Sub messageId or the voided orderId) and the normalizer claims it, so a re-driven
 * raw record yields its events once however often it is re-driven.
 */
export function redriveRefusal(dlq: DlqTopic): string | undefined {
  if (dlq.source === 'rawAppStore' || dlq.source === 'rawPlayStore') return undefined;
  if (dlq.id === 'webhooksDlq') {
    return 'webhook dead letters are deliveries an endpoint refused, not records of a topic: redeliver them through the webhook admin API';
  }
  // Storeline's own consumers of the canonical topic all dedupe by eventId (state: subscription_events
  // primary key; triggers: trigger_events; the fan-out: one delivery per endpoint and eventId; the warehouse
  // sink upserts by eventId). But a record one group could not decode is still on the topic, and the topic
  // promises every consumer, downstream teams included, one record per eventId (docs/consuming.md).
  if (dlq.source === 'subscriptionEvents') {
    return `${dlq.name}: each record is still on ${dlq.sourceName}, whose consumers are promised one record per eventId (docs/consuming.md); re-appending it would break that. Fix the consumer and rewind its group instead`;
  }
  // The trigger topic is at-least-once by contract: consumers dedupe on triggerId (docs/triggers.md), and the
  // one consumer here, the webhook fan-out, keeps one delivery per endpoint and triggerId.
  return undefined;
}

/** The topic a dead letter goes back to: its `dlq.source-topic` header, else the catalog source of its DLQ. */
export function redriveTarget(dlq: DlqTopic, names: TopicNames, d: DeadLetter): string {
  const header = d.headers[H.sourceTopic];
  if (header) return header;
  if (!dlq.source) throw new Error(`${dlq.name} has no source topic`);
  return names.name(dlq.source);
}

/** The record's own headers (without the dlq.* ones) and where it was re-driven from. */
export function redriveHeaders(d: DeadLetter): Headers {
  const own = Object.fromEntries(Object.entries(d.headers).filter(([k]) => !k.startsWith(DLQ_PREFIX)));
  return { ...own, [RAW_HEADERS.redrivenFrom]: `${d.topic}@${d.partition}:${d.offset}` };
}

/**
 * A raw value as readable text: JSON pretty-printed, with an App Store V2 `signedPayload` and a Pub/Sub
 * envelope's `message.data` decoded alongside (the JWS NOT verified: this is for reading, not trusting);
 * else UTF-8 when it is text, else hex.
 */
export function describeRawValue(value: Buffer | null): string {
  if (!value || value.length === 0) return '(empty value)';
  const text = value.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return isText(value) ? `utf8: ${text}` : `hex: ${value.toString('hex')}`;
  }
  const parts = [`json:\n${JSON.stringify(json, null, 2)}`];
  const body = json as { signedPayload?: unknown; message?: { data?: unknown } } | null;
  if (typeof body?.signedPayload === 'string') parts.push(decodedSignedPayload(body.signedPayload));
  if (typeof body?.message?.data === 'string') parts.push(decodedPubSubData(body.message.data));
  return parts.join('\n');
}

function decodedSignedPayload(jws: string): string {
  try {
    const payload = decodeJwsPayload<{ data?: Record<string, unknown> }>(jws);
    const nested: Record<string, unknown> = {};
    for (const k of ['signedTransactionInfo', 'signedRenewalInfo']) {
      const v = payload.data?.[k];
      if (typeof v === 'string') nested[k] = safe(() => decodeJwsPayload(v));
    }
    return `signedPayload (decoded, UNVERIFIED):\n${JSON.stringify({ ...payload, decoded: nested }, null, 2)}`;
  } catch (err) {
    return `signedPayload does not decode: ${errorMessage(err)}`;
  }
}

function decodedPubSubData(data: string): string {
  const bytes = Buffer.from(data, 'base64');
  try {
    return `message.data (base64 JSON):\n${JSON.stringify(JSON.parse(bytes.toString('utf8')), null, 2)}`;
  } catch {
    return `message.data is not base64 JSON: ${isText(bytes) ? `utf8: ${bytes.toString('utf8')}` : `hex: ${bytes.toString('hex')}`}`;
  }
}

const safe = (f: () => unknown): unknown => {
  try {
    return f();
  } catch (err) {
    return `does not decode: ${errorMessage(err)}`;
  }
};

/** Printable UTF-8: no replacement characters and no control bytes other than whitespace. */
function isText(b: Buffer): boolean {
  const s = b.toString('utf8');
  if (s.includes('\uFFFD')) return false;
  for (const c of s) {
    const code = c.charCodeAt(0);
    if (code < 0x20 && c !== '\n' && c !== '\r' && c !== '\t') return false;
  }
  return true;
}
