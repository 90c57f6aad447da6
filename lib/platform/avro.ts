/**
 * Avro in the Confluent wire format: magic byte 0, the 4-byte big-endian schema id, then the Avro binary.
 * Schemas come from schemas/*.avsc (embedded by the generator) and are registered under `<topic>-value`
 * with FULL_TRANSITIVE compatibility (docs/consuming.md, "Schema evolution"). Decoding always resolves the writer's schema (fetched by id, cached) against
 * our committed reader schema, so records written by a newer schema (new enum symbols -> UNKNOWN, new
 * optional fields ignored) decode safely.
 */
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro, { type Resolver, type Schema, type Type } from 'avsc';
import { DependencyError, PipelineError, PoisonMessageError, errorMessage } from '../core/errors';
import { TOPICS, type TopicNames } from '../core/topics';

/**
 * Every Storeline subject is FULL_TRANSITIVE: each new version must be readable by every older reader and
 * must read every older record. Downstream teams upgrade their readers when they like, and a sink
 * connector can replay the whole topic with any version (docs/consuming.md).
 */
export const COMPATIBILITY_POLICY = COMPATIBILITY.FULL_TRANSITIVE;

/** The registry client, knowing its own URL for the few calls the client library does not make. */
export class RegistryClient extends SchemaRegistry {
  constructor(readonly url: string) {
    super({ host: url, clientId: 'storeline', retry: { retries: 3 } });
  }

  /**
   * Sets the subject's compatibility to `level` unless it is already (the registry accepts the setting
   * before the subject's first version). A subject an earlier Storeline registered as BACKWARD is
   * tightened here: FULL_TRANSITIVE only adds the forward checks, which every released version passes.
   */
  async ensureCompatibility(subject: string, level: COMPATIBILITY = COMPATIBILITY_POLICY): Promise<void> {
    if ((await this.compatibilityOf(subject)) === level) return;
    const put = await fetch(this.configUrl(subject), {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: level }),
      signal: AbortSignal.timeout(5000),
    });
    if (put.ok) return;
    // Instances starting together race to create the rule; the loser's 409 is fine once the rule is ours.
    if (put.status === 409 && (await this.compatibilityOf(subject)) === level) return;
    throw registryAnswer('set compatibility of', subject, put);
  }

  /** The subject's own compatibility level; undefined when it has none. */
  private async compatibilityOf(subject: string): Promise<string | undefined> {
    const r = await fetch(this.configUrl(subject), { signal: AbortSignal.timeout(5000) });
    if (r.status === 404) return undefined;
    if (!r.ok) throw registryAnswer('read config of', subject, r);
    return ((await r.json()) as { compatibilityLevel?: string }).compatibilityLevel;
  }

  private configUrl(subject: string): string {
    return `${this.url}/config/${encodeURIComponent(subject)}`;
  }
}

function registryAnswer(what: string, subject: string, r: Response): Error & { status: number } {
  return Object.assign(new Error(`registry could not ${what} ${subject}: HTTP ${r.status}`), {
    status: r.status,
  });
}

export type AvroTopicId = 'subscriptionEvents' | 'subscriptionState' | 'engagementTriggers';

const MAGIC = 0;

function parseWireHeader(buf: Buffer): { schemaId: number; payload: Buffer } {
  if (buf.length < 5 || buf[0] !== MAGIC) {
    throw new PoisonMessageError('decode', 'not Confluent wire format (missing magic byte 0 or too short)');
  }
  return { schemaId: buf.readInt32BE(1), payload: buf.subarray(5) };
}

function frame(schemaId: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = MAGIC;
  out.writeInt32BE(schemaId, 1);
  payload.copy(out, 5);
  return out;
}

export class AvroCodec<T> {
  readonly type: Type;
  /** Per writer schema id: the resolver to our reader schema, or null when the writer is our schema. */
  private readonly resolvers = new Map<number, Resolver | null>();

  constructor(
    private readonly registry: RegistryClient,
    readonly subject: string,
    readonly schema: Schema,
    private schemaId?: number,
  ) {
    this.type = avro.Type.forSchema(schema);
  }

  /**
   * Registers the schema (idempotent: an identical schema returns its existing id). Instances starting
   * together race to create a new subject and set its compatibility: a loser sees "rule already exists"
   * (409) or, between the subject's creation and the rule, "Compatibility does not match the configuration
   * (FULL_TRANSITIVE != NONE)". Both are retried: a later try finds the subject with its rule and gets
   * the id. Setting the policy first means the first version is never registered without it.
   */
  async register(attempts = 6): Promise<number> {
    try {
      await this.registry.ensureCompatibility(this.subject);
      const { id } = await this.registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(this.schema) },
        { subject: this.subject, compatibility: COMPATIBILITY_POLICY },
      );
      this.schemaId = id;
      return id;
    } catch (err) {
      const status = (err as { status?: number } | null)?.status;
      const message = `schema registration for ${this.subject} failed: ${errorMessage(err)}`;
      if (attempts > 1 && /already exists|compatibility does not match/i.test(errorMessage(err))) {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
        return this.register(attempts - 1);
      }
      // 409 incompatible / 422 invalid: the schema itself is wrong, retrying cannot help.
      if (status === 409 || status === 422)
        throw new PipelineError(message, { retriable: false, cause: err });
      throw new DependencyError('registry', message, { cause: err });
    }
  }

  get id(): number {
    if (this.schemaId === undefined) throw new Error(`schema for ${this.subject} is not registered yet`);
    return this.schemaId;
  }

  encode(value: T): Buffer {
    return frame(this.id, this.type.toBuffer(value));
  }

  async decode(buf: Buffer): Promise<T> {
    const { schemaId, payload } = parseWireHeader(buf);
    const cached = this.resolvers.get(schemaId);
    const resolver = cached === undefined ? await this.resolverFor(schemaId) : cached;
    try {
      return (resolver ? this.type.fromBuffer(payload, resolver, true) : this.type.fromBuffer(payload)) as T;
    } catch (err) {
      throw new PoisonMessageError(
        'decode',
        `Avro payload does not match schema ${schemaId}: ${errorMessage(err)}`,
      );
    }
  }

  private async resolverFor(schemaId: number): Promise<Resolver | null> {
    if (schemaId === this.schemaId) {
      this.resolvers.set(schemaId, null);
      return null;
    }
    const writer = await fetchWriter(this.registry, schemaId);
    // Same canonical form: no resolution needed.
    const resolver = writer.equals(this.type) ? null : this.type.createResolver(writer);
    this.resolvers.set(schemaId, resolver);
    return resolver;
  }
}

/** Network failures surface from the registry client as a ResponseError with status 400 and the socket error. */
const NETWORK_FAILURE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|ENOTFOUND|socket hang up|timeout|network/i;

/**
 * The writer schema of a record. A definitive answer that the id is unusable (404: the registry has no
 * such id; any other 4xx; a schema that is not Avro) makes the record poison: it goes to the DLQ with the
 * reason. A registry that is down, slow or failing (5xx, 408, 429, network) is a DependencyError: the
 * consumer pauses and probes it, and the record is read again once it answers.
 */
async function fetchWriter(registry: SchemaRegistry, schemaId: number): Promise<Type> {
  let raw: Type;
  try {
    // The registry client returns its own avsc Type for Avro schemas.
    raw = (await registry.getSchema(schemaId)) as unknown as Type;
  } catch (err) {
    const status = (err as { status?: unknown } | null)?.status;
    const message = errorMessage(err);
    const definitive =
      typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
    if (definitive && !NETWORK_FAILURE.test(message)) {
      throw new PoisonMessageError(
        'decode',
        status === 404
          ? `unknown schema id ${schemaId}: ${message}`
          : `schema id ${schemaId} refused: ${message}`,
        { cause: err },
      );
    }
    throw new DependencyError('registry', `cannot fetch writer schema ${schemaId}: ${message}`, {
      cause: err,
    });
  }
  try {
    return avro.Type.forSchema(raw.schema({ exportAttrs: true }));
  } catch (err) {
    throw new PoisonMessageError(
      'decode',
      `schema id ${schemaId} is not an Avro schema: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
}

export function createRegistry(url: string): RegistryClient {
  return new RegistryClient(url);
}

/** The codec of a catalog topic's values: its subject under the naming prefix and its schema. */
export function codecFor<T>(registry: RegistryClient, names: TopicNames, id: AvroTopicId): AvroCodec<T> {
  const value = TOPICS[id].value as { format: 'avro'; schema: Schema };
  return new AvroCodec<T>(registry, names.subject(id), value.schema);
}

/** For pause probes and readiness: the registry answers now. */
export async function probeRegistry(url: string): Promise<void> {
  const r = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
  if (!r.ok) throw new Error(`registry answered ${r.status}`);
}
