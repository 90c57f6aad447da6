/**
 * Endpoint management shared by the admin API and the seed file: validation of what a customer sends,
 * SSRF check of the URL, secret generation and rotation.
 */
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { z } from 'zod';
import { inTransaction } from '../../platform/db';
import { ENVIRONMENT_SYMBOLS } from '../../core/generated/avro';
import { isTypePattern } from '../../core/webhooks/messages';
import { generateSecret, secretBytes } from '../../core/webhooks/signing';
import type { SsrfGuard } from './ssrf';
import { type Endpoint, getEndpoint, insertEndpoint, saveEndpoint } from './store/endpoints';

const list = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(100).nullable();

const EndpointFields = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048),
  description: z.string().max(500).nullable(),
  eventTypes: list(
    z.string().refine(isTypePattern, 'must be subscription.<EventType>, trigger.<TriggerKind>, or ns.*'),
  ),
  environments: list(z.enum(ENVIRONMENT_SYMBOLS)),
  appIds: list(z.string().min(1).max(255)),
  maxConcurrency: z.number().int().min(1).max(256),
  timeoutMs: z.number().int().min(100).max(60_000),
  enabled: z.boolean(),
});

export const CreateEndpoint = EndpointFields.partial()
  .required({ url: true })
  .extend({
    /** Optional caller-chosen id (seed files); generated otherwise. */
    id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - (at most 64)')
      .optional(),
    /** Optional caller-provided secret; generated otherwise. */
    secret: z
      .string()
      .refine((s) => typeof secretBytes(s) !== 'string', 'must be whsec_ + base64 of 24-64 bytes')
      .optional(),
  });
export type CreateEndpoint = z.output<typeof CreateEndpoint>;
export const UpdateEndpoint = EndpointFields.partial();
export type UpdateEndpoint = z.output<typeof UpdateEndpoint>;

export class EndpointError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

export interface EndpointDefaults {
  maxConcurrency: number;
  timeoutMs: number;
}

export class EndpointManager {
  constructor(
    private readonly pool: Pool,
    private readonly guard: SsrfGuard,
    private readonly defaults: EndpointDefaults,
    private readonly now: () => number = Date.now,
  ) {}

  private async checkUrl(url: string): Promise<void> {
    const why = await this.guard.check(url);
    if (why) throw new EndpointError(400, `url refused: ${why}`);
  }

  /** Creates the endpoint; returns it with its secret (shown this once). */
  async create(input: CreateEndpoint): Promise<{ endpoint: Endpoint; secret: string }> {
    await this.checkUrl(input.url);
    const at = this.now();
    const secret = input.secret ?? generateSecret();
    const endpoint: Endpoint = {
      id: input.id ?? `ep_${randomBytes(12).toString('base64url')}`,
      url: input.url,
      description: input.description ?? null,
      eventTypes: input.eventTypes ?? null,
      environments: input.environments ?? null,
      appIds: input.appIds ?? null,
      enabled: input.enabled ?? true,
      disabledReason: input.enabled === false ? 'created disabled' : null,
      disabledAt: input.enabled === false ? at : null,
      failingSince: null,
      maxConcurrency: input.maxConcurrency ?? this.defaults.maxConcurrency,
      timeoutMs: input.timeoutMs ?? this.defaults.timeoutMs,
      secrets: [{ secret, expiresAt: null }],
      createdAt: at,
      updatedAt: at,
    };
    if (!(await insertEndpoint(this.pool, endpoint))) {
      throw new EndpointError(409, `endpoint ${endpoint.id} already exists`);
    }
    return { endpoint, secret };
  }

  async update(id: string, change: UpdateEndpoint): Promise<Endpoint> {
    if (change.url) await this.checkUrl(change.url);
    return this.mutate(id, (e, at) => {
      const { enabled, ...fields } = change;
      Object.assign(e, fields);
      if (enabled !== undefined) setEnabled(e, enabled, 'disabled by API', at);
    });
  }

  setEnabled(id: string, enabled: boolean, reason: string): Promise<Endpoint> {
    return this.mutate(id, (e, at) => setEnabled(e, enabled, reason, at));
  }

  /**
   * Rotates the secret: the new one signs from now on, and the previous one keeps signing too (a second
   * `v1,` entry) until `overlapMs` has passed, so receivers can switch without rejecting anything.
   */
  async rotateSecret(
    id: string,
    overlapMs: number,
    secret?: string,
  ): Promise<{ endpoint: Endpoint; secret: string }> {
    const next = secret ?? generateSecret();
    const endpoint = await this.mutate(id, (e, at) => {
      e.secrets = [
        { secret: next, expiresAt: null },
        ...e.secrets
          .map((s) => ({ secret: s.secret, expiresAt: s.expiresAt ?? at + overlapMs }))
          .filter((s) => s.expiresAt > at),
      ];
    });
    return { endpoint, secret: next };
  }

  private mutate(id: string, change: (e: Endpoint, at: number) => void): Promise<Endpoint> {
    return inTransaction(this.pool, async (c) => {
      const e = await getEndpoint(c, id, true);
      if (!e) throw new EndpointError(404, `no endpoint ${id}`);
      const at = this.now();
      change(e, at);
      e.updatedAt = at;
      await saveEndpoint(c, e);
      return e;
    });
  }
}

function setEnabled(e: Endpoint, enabled: boolean, reason: string, at: number): void {
  if (e.enabled === enabled) return;
  e.enabled = enabled;
  e.disabledReason = enabled ? null : reason;
  e.disabledAt = enabled ? null : at;
  // A re-enabled endpoint starts with a clean record, or the next failure would disable it again at once.
  if (enabled) e.failingSince = null;
}

/** Seed file: `{"endpoints": [{"id", "url", "secretEnv"?, ...}]}`; secrets come from the environment. */
export const SeedFile = z.strictObject({
  endpoints: z.array(
    CreateEndpoint.omit({ secret: true }).extend({
      id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
      /** Name of the environment variable holding this endpoint's whsec_ secret. */
      secretEnv: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/)
        .optional(),
    }),
  ),
});
export type SeedFile = z.output<typeof SeedFile>;

/** Creates missing seeded endpoints and brings existing ones' settings in line with the file. */
export async function applySeed(
  manager: EndpointManager,
  pool: Pool,
  seed: SeedFile,
  env: Record<string, string | undefined>,
): Promise<{ created: string[]; updated: string[] }> {
  const out = { created: [] as string[], updated: [] as string[] };
  for (const { secretEnv, ...e } of seed.endpoints) {
    const secret = secretEnv ? env[secretEnv] : undefined;
    if (secretEnv && !secret) throw new EndpointError(400, `endpoint ${e.id}: ${secretEnv} is not set`);
    if (secret && typeof secretBytes(secret) === 'string') {
      throw new EndpointError(400, `endpoint ${e.id}: ${secretEnv} is not a whsec_ secret`);
    }
    const existing = await getEndpoint(pool, e.id);
    if (!existing) {
      await manager.create({ ...e, ...(secret ? { secret } : {}) });
      out.created.push(e.id);
      continue;
    }
    const { id, ...fields } = e;
    await manager.update(id, fields);
    if (secret && !existing.secrets.some((s) => s.secret === secret && s.expiresAt === null)) {
      await manager.rotateSecret(id, 86_400_000, secret);
    }
    out.updated.push(id);
  }
  return out;
}
