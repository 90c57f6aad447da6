/**
 * Webhook endpoints for the benchmarks, in their own process so their event loop is not the load
 * generator's. Usage: tsx bench/endpoint.ts '<json spec>' where the spec is an array of
 * `{ "delayMs"?: number, "hang"?: boolean }`, one server each on 127.0.0.1. Prints `{"urls":[…]}` once
 * listening, then answers one JSON line per command read on stdin:
 * - `counts`: `{"counts":[distinct webhook-ids per server]}`
 * - `dump`: `{"servers":[{"arrivals":[[webhookId, epochMs], …], "maxConcurrent": n}]}` (first arrival of
 *   each id, wall clock with sub-ms resolution, comparable across processes on the same machine)
 * It exits when stdin closes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

interface Spec {
  delayMs?: number;
  hang?: boolean;
}

const now = () => performance.timeOrigin + performance.now();

async function serve(spec: Spec) {
  const arrivals = new Map<string, number>();
  let concurrent = 0;
  let maxConcurrent = 0;
  const server = createServer((req, res) => {
    concurrent += 1;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    res.on('close', () => (concurrent -= 1));
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      if (!arrivals.has(id)) arrivals.set(id, now());
      if (spec.hang) return;
      if (spec.delayMs) setTimeout(() => res.writeHead(204).end(), spec.delayMs);
      else res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, arrivals, maxConcurrent: () => maxConcurrent };
}

async function main(): Promise<void> {
  const specs = JSON.parse(process.argv[2] ?? '[{}]') as Spec[];
  const servers = await Promise.all(specs.map(serve));
  const say = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
  say({ urls: servers.map((s) => s.url) });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (cmd) => {
    if (cmd === 'counts') say({ counts: servers.map((s) => s.arrivals.size) });
    else if (cmd === 'dump')
      say({ servers: servers.map((s) => ({ arrivals: [...s.arrivals], maxConcurrent: s.maxConcurrent() })) });
  });
  lines.on('close', () => process.exit(0));
}

void main();
