/**
 * Console access, pure: operators and their roles, in-memory sessions with a CSRF token each, cookie
 * parsing and formatting. Sessions live in this process's memory: a restart signs everyone out, and two
 * console instances behind a balancer need sticky sessions (stated in docs/console.md).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type Role = 'admin' | 'read-only';

export interface Operator {
  name: string;
  key: string;
  role: Role;
}

export interface Session {
  id: string;
  /** Synchronizer token: every POST form carries it; compared with `sameToken`. */
  csrf: string;
  operator: string;
  role: Role;
  expiresAt: number;
  /** A one-time message for the next page (post/redirect/get); never a secret. */
  flash?: string | undefined;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant time on digests, so neither content nor length leaks through timing. */
export function sameToken(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string' || a.length === 0) return false;
  return timingSafeEqual(digest(a), digest(b));
}

/** The operator whose key this is; every key is compared, so timing does not tell which one matched. */
export function findOperator(operators: readonly Operator[], key: string | undefined): Operator | undefined {
  let hit: Operator | undefined;
  for (const op of operators) if (sameToken(key, op.key) && !hit) hit = op;
  return hit;
}

export const canAct = (role: Role): boolean => role === 'admin';

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly opts: { ttlMs: number; now: () => number; random: () => string; max?: number },
  ) {}

  create(op: Pick<Operator, 'name' | 'role'>): Session {
    this.sweep();
    const max = this.opts.max ?? 10_000;
    // Bounded: the oldest session goes first, so a flood of sign-ins cannot exhaust memory.
    while (this.sessions.size >= max) this.sessions.delete(this.sessions.keys().next().value!);
    const s: Session = {
      id: this.opts.random(),
      csrf: this.opts.random(),
      operator: op.name,
      role: op.role,
      expiresAt: this.opts.now() + this.opts.ttlMs,
    };
    this.sessions.set(s.id, s);
    return s;
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= this.opts.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.opts.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      // A malformed cookie is ignored, as a missing one would be.
    }
  }
  return out;
}

/** HttpOnly (no script reads it), SameSite=Strict (no cross-site request carries it), Path=/. */
export function cookie(
  name: string,
  value: string,
  opts: { maxAgeSeconds: number; secure: boolean },
): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(opts.maxAgeSeconds))}`,
    ...(opts.secure ? ['Secure'] : []),
  ].join('; ');
}

/** A `next` target after sign-in: a local path only, never another origin (`//evil`, `/\evil`, schemes). */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !/^\/(?![/\\])[^\s]*$/.test(next)) return '/';
  return next;
}
