/**
 * A closed-loop HTTP load generator, run as its own process so it does not share the server's event loop:
 * `concurrency` workers POST bodies (round robin from a file of JSON lines) over keep-alive connections for
 * `seconds`, after a warm-up, and it prints {requests, errors, rps, p50, p95, p99} as JSON.
 * Usage: tsx bench/load.ts <url> <bodies.jsonl> <concurrency> <seconds> [warmupSeconds]
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';

const [url, file, c, s, w] = process.argv.slice(2);
const bodies = readFileSync(file!, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => Buffer.from(l));
const concurrency = Number(c ?? 32);
const seconds = Number(s ?? 10);
const warmup = Number(w ?? 2);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const target = new URL(url!);

function post(body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      target,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function main(): Promise<void> {
  let next = 0;
  const latencies: number[] = [];
  let errors = 0;
  let all = 0; // every answered request, warm-up included
  let measuring = false;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const body = bodies[next++ % bodies.length]!;
      const t0 = performance.now();
      const status = await post(body);
      const ms = performance.now() - t0;
      all += 1;
      if (!measuring) continue;
      if (status >= 200 && status < 300) latencies.push(ms);
      else errors += 1;
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  await new Promise((r) => setTimeout(r, warmup * 1000));
  measuring = true;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  stop = true;
  await Promise.all(workers);
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    Number((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN).toFixed(1));
  process.stdout.write(
    JSON.stringify({
      requests: latencies.length,
      allRequests: all,
      errors,
      rps: Math.round(latencies.length / elapsed),
      p50: q(0.5),
      p95: q(0.95),
      p99: q(0.99),
      // This process's own CPU per request: on a shared machine, what the load takes from the server.
      loadCpuMsPerRequest: Number(((cpu.user + cpu.system) / 1000 / latencies.length).toFixed(3)),
    }) + '\n',
  );
  agent.destroy();
}

void main();
