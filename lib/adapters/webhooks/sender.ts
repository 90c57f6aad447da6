/**
 * One HTTP attempt: POST the body with the signature headers, through the SSRF guard, with a hard deadline
 * covering connect, headers and body. The response body is read up to a small cap (for the delivery log)
 * and the rest discarded. Never throws: every way an attempt can end is an AttemptResult.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { AttemptResult } from '../../core/webhooks/policy';
import { SsrfError, type SsrfGuard } from './ssrf';

export interface SendResult {
  result: AttemptResult;
  latencyMs: number;
  /** First bytes of the response body, for the delivery log. */
  responseExcerpt?: string;
}

const EXCERPT_BYTES = 1024;

export class WebhookSender {
  // Keep-alive pools per scheme: most deliveries go to few hosts, and a TLS handshake per event is waste.
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
  };

  constructor(
    private readonly guard: SsrfGuard,
    private readonly userAgent: string,
  ) {}

  send(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<SendResult> {
    const started = performance.now();
    const done = (result: AttemptResult, responseExcerpt?: string): SendResult => ({
      result,
      latencyMs: Math.round(performance.now() - started),
      ...(responseExcerpt === undefined ? {} : { responseExcerpt }),
    });
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return Promise.resolve(done({ kind: 'refused', error: 'endpoint URL is not a URL' }));
    }
    const protocol = u.protocol;
    if (protocol !== 'http:' && protocol !== 'https:') {
      return Promise.resolve(done({ kind: 'refused', error: `scheme ${protocol} is not allowed` }));
    }
    // An IP literal skips DNS, so the socket's lookup never sees it: judge it here.
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const why = this.guard.refusal(host, protocol);
      if (why) return Promise.resolve(done({ kind: 'refused', error: `refused ${host}: ${why}` }));
    }
    const payload = Buffer.from(body);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(r);
      };
      const req = (protocol === 'http:' ? http : https).request(
        u,
        {
          method: 'POST',
          agent: this.agents[protocol],
          lookup: this.guard.lookup(protocol),
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': String(payload.length),
            'user-agent': this.userAgent,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size < EXCERPT_BYTES) chunks.push(c);
            size += c.length;
          });
          res.on('end', () => {
            const retryAfter = res.headers['retry-after'];
            finish(
              done(
                { kind: 'response', status: res.statusCode ?? 0, retryAfter },
                Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8'),
              ),
            );
          });
          res.on('error', (err) => finish(done({ kind: 'network', error: `response: ${err.message}` })));
        },
      );
      const deadline = setTimeout(() => {
        finish(done({ kind: 'timeout' }));
        req.destroy();
      }, timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof SsrfError) finish(done({ kind: 'refused', error: err.message }));
        else finish(done({ kind: 'network', error: err.code ? `${err.code}: ${err.message}` : err.message }));
      });
      req.end(payload);
    });
  }

  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }
}
