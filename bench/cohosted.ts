/**
 * Several services' main.ts in one process, for `PIPELINE_COHOSTED=1 npm run bench:pipeline`: what the
 * consumers of the canonical topic cost when one process hosts them, each still with its own config,
 * clients, consumer group, port and shutdown. COHOST holds `[[entry, env], …]`; each entry's env is
 * applied before it is loaded, because runService reads its config synchronously on load (a bench harness,
 * not a deployable: the services' later reads of process.env, such as pg's PGAPPNAME, see the last env).
 * Also unlike separate processes: on SIGTERM the first guest to finish its shutdown exits the process, and
 * with BENCH_LOG_DIR the guests share one log file.
 */
import { resolve } from 'node:path';
import { shareOneFetch } from './sharedFetch';

const parts = JSON.parse(process.env.COHOST ?? '[]') as [string, Record<string, string>][];
// COHOST_SHARED_FETCH=<group id>: the guests' canonical consumers share one fetch (bench/sharedFetch.ts).
if (process.env.COHOST_SHARED_FETCH) shareOneFetch(parts.length, process.env.COHOST_SHARED_FETCH);
const base = { ...process.env };
for (const [entry, env] of parts) {
  // Each guest sees the common env and its own, never a previous guest's variables.
  process.env = { ...base, ...env };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(resolve(__dirname, '..', entry));
}
