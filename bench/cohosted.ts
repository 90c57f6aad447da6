/**
 * Several services' main.ts in one process, for `PIPELINE_COHOSTED=1 npm run bench:pipeline`: what the
 * consumers of the canonical topic cost when one process hosts them, each still with its own config,
 * clients, consumer group, port and shutdown. COHOST holds `[[entry, env], …]`; each entry's env is
 * applied before it is loaded, because runService reads its config synchronously on load (a bench harness,
 * not a deployable: the services' later reads of process.env, such as pg's PGAPPNAME, see the last env).
 */
import { resolve } from 'node:path';

const parts = JSON.parse(process.env.COHOST ?? '[]') as [string, Record<string, string>][];
for (const [entry, env] of parts) {
  Object.assign(process.env, env);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(resolve(__dirname, '..', entry));
}
