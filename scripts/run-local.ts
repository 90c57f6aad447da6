/**
 * Runs every Storeline service as its own process against the local stack, prefixes their output, and
 * stops them all on Ctrl-C / SIGTERM. The stack itself keeps running (`npm run stack:down` stops it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

interface ServiceDef {
  name: string;
  entry: string;
  env: Record<string, string>;
}

const ROOT = resolve(__dirname, '..');
const services: ServiceDef[] = [];

const children: ChildProcess[] = [];
function start(def: ServiceDef): void {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', resolve(ROOT, def.entry)], {
    env: { ...process.env, ...def.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `[${def.name}] `;
  child.stdout?.on('data', (d: Buffer) =>
    process.stdout.write(prefix + d.toString().replace(/\n(?=.)/g, `\n${prefix}`)),
  );
  child.stderr?.on('data', (d: Buffer) =>
    process.stderr.write(prefix + d.toString().replace(/\n(?=.)/g, `\n${prefix}`)),
  );
  child.on('exit', (code, signal) => console.log(`${prefix}exited (${signal ?? code})`));
  children.push(child);
}

let stopping = false;
function stopAll(): void {
  if (stopping) return;
  stopping = true;
  console.log('stopping services…');
  for (const c of children) c.kill('SIGTERM');
  const done = () => children.every((c) => c.exitCode !== null || c.signalCode !== null);
  const timer = setInterval(() => {
    if (done()) {
      clearInterval(timer);
      process.exit(0);
    }
  }, 100);
}
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);

for (const s of services) start(s);
console.log(
  `Storeline local stack: KAFKA_BROKERS=${process.env.KAFKA_BROKERS} SCHEMA_REGISTRY_URL=${process.env.SCHEMA_REGISTRY_URL}`,
);
if (services.length === 0) {
  console.log('no services to run yet: topics and schemas are in place.');
  process.exit(0);
}
