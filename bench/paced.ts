/**
 * An open-loop load generator at a fixed rate, in its own process: POSTs each body of a JSON-lines file
 * (`{"id": …, "body": …}`) to the URL at `rate` per second (not waiting for answers before the next is
 * due), and prints `{"accepted":[[id, epochMs], …], "rejected": n}`: when each 2xx answer arrived, wall
 * clock with sub-ms resolution, comparable with the endpoint process's arrival times.
 * Usage: tsx bench/paced.ts <url> <bodies.jsonl> <rate/s>
 */
import { readFileSync } from 'node:fs';

const [url, file, rate] = process.argv.slice(2);
const perSecond = Number(rate ?? 200);
const items = readFileSync(file!, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { id: string; body: string });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const accepted: [string, number][] = [];
  let rejected = 0;
  const send = async ({ id, body }: { id: string; body: string }) => {
    const res = await fetch(url!, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await res.arrayBuffer();
    if (res.ok) accepted.push([id, performance.timeOrigin + performance.now()]);
    else rejected += 1;
  };
  const t0 = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < items.length; i++) {
    const wait = t0 + (i * 1000) / perSecond - performance.now();
    if (wait > 0) await sleep(wait);
    inFlight.push(send(items[i]!).catch(() => void (rejected += 1)));
  }
  await Promise.all(inFlight);
  process.stdout.write(JSON.stringify({ accepted, rejected }) + '\n');
}

void main();
