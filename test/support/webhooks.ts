/**
 * Customer endpoints for webhook tests: real HTTP servers on loopback that record every request (raw body
 * bytes and headers) and answer as scripted, and a shared journal so tests can assert the order in which
 * things happened across endpoints.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Hit {
  headers: Record<string, string>;
  body: string;
  id: string;
}

/** A status to answer, optionally with headers, or 'hang' to never answer. */
export type Reply = number | { status: number; headers?: Record<string, string>; delayMs?: number } | 'hang';

export class Journal {
  readonly entries: string[] = [];
  add(entry: string): void {
    this.entries.push(entry);
  }
}

export class Endpoint {
  readonly hits: Hit[] = [];
  /** Requests whose connection ended before an answer (the sender gave up). */
  aborted = 0;
  url = '';
  private server?: Server;
  private readonly open = new Set<ServerResponse>();

  constructor(
    readonly name: string,
    /** Answer for the n-th request (0-based). */
    public reply: (n: number, hit: Hit) => Reply = () => 200,
    private readonly journal?: Journal,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/hooks`;
    return this;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
      );
      const hit: Hit = {
        headers,
        body: Buffer.concat(chunks).toString('utf8'),
        id: headers['webhook-id'] ?? '',
      };
      const n = this.hits.length;
      this.hits.push(hit);
      this.journal?.add(`${this.name}:received`);
      const reply = this.reply(n, hit);
      if (reply === 'hang') {
        this.open.add(res);
        res.on('close', () => {
          this.open.delete(res);
          this.aborted += 1;
          this.journal?.add(`${this.name}:aborted`);
        });
        return;
      }
      const { status, headers: extra, delayMs } = typeof reply === 'number' ? { status: reply } : reply;
      const answer = () =>
        res.writeHead(status, { 'content-type': 'text/plain', ...extra }).end(`status ${status}`);
      if (delayMs) setTimeout(answer, delayMs);
      else answer();
    });
  }

  /** Ids of the requests received, in order. */
  ids(): string[] {
    return this.hits.map((h) => h.id);
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** Verifies a hit with the independent standardwebhooks library; returns the parsed payload. */
export function verified(
  secret: string,
  hit: Hit,
): { type: string; timestamp: string; data: Record<string, unknown> } {
  return new Webhook(secret).verify(hit.body, hit.headers) as {
    type: string;
    timestamp: string;
    data: Record<string, unknown>;
  };
}
