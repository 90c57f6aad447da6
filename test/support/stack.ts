/**
 * Fault injection for chaos tests on the embedded local stack (scripts/stack/stack.sh): stop, kill and
 * restart one Kafka node or the schema registry while the test keeps running (the calls are async).
 *
 * The script runs with this process's environment, so STORELINE_STACK_DIR, STORELINE_BROKERS and the
 * STORELINE_*_PORT variables must be the ones the stack was brought up with (globalSetup passes them on
 * to `stack.sh up`). It cannot touch a stack it did not start (CI services, testcontainers): check
 * `controllable()` first and skip otherwise.
 *
 * Node ids: 1..3 with STORELINE_BROKERS=3; leave the id out (or pass 1) with a single node.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

const SCRIPT = resolve(__dirname, '..', '..', 'scripts', 'stack', 'stack.sh');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Stack settings (STORELINE_*) layered over this process's environment for every script call. */
let overrides: Record<string, string> = {};

/** Points the helpers at another stack than the environment's (the chaos suite runs stacks of its own). */
export function setStackEnv(env: Record<string, string>): void {
  overrides = env;
}

function run(args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((res, rej) => {
    execFile(
      'bash',
      [SCRIPT, ...args],
      { env: { ...process.env, ...overrides }, timeout: timeoutMs, encoding: 'utf8', maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number')
          rej(err); // not started, or killed by the timeout
        else res({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** Runs `stack.sh ...args`; resolves with its stdout, rejects (with its stderr) when it exits non-zero. */
export async function stackScript(args: string[], timeoutMs = 300_000): Promise<string> {
  const r = await run(args, timeoutMs);
  if (r.code !== 0) throw new Error(`stack.sh ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

const nodeArg = (node?: number): string[] => (node === undefined ? [] : [String(node)]);

/** SIGKILL one Kafka node (a crash); resolves once its process is gone. */
export async function killBroker(node?: number): Promise<void> {
  await stackScript(['kafka-kill', ...nodeArg(node)]);
}

/** Starts a stopped Kafka node; resolves once it answers and sees every running node. */
export async function startBroker(node?: number): Promise<void> {
  await stackScript(['kafka-start', ...nodeArg(node)]);
}

export async function stopRegistry(): Promise<void> {
  await stackScript(['registry-stop']);
}

/** Starts the schema registry; resolves once it answers. */
export async function startRegistry(): Promise<void> {
  await stackScript(['registry-start']);
}
