/** The `storeline` command: normalize, state rebuild, topics create, tail, backfill, reconcile, dlq, renormalize. */
import { runBackfill } from './backfill';
import { runDlq } from './dlq';
import { runNormalize } from './normalize';
import { runReconcile } from './reconcile';
import { runRenormalize } from './renormalize';
import { runState } from './state';
import { runTail } from './tail';
import { runTopics } from './topics';

const COMMANDS: Record<string, { run: (args: string[]) => Promise<number>; help: string }> = {
  normalize: { run: runNormalize, help: 'verify and map notification files to canonical events' },
  state: { run: runState, help: 'rebuild the state read model (state rebuild)' },
  topics: { run: runTopics, help: 'create catalog topics and register schemas (topics create)' },
  tail: { run: runTail, help: 'print canonical events as JSON (--from-beginning, --type, --until-end)' },
  backfill: {
    run: runBackfill,
    help: 'recover missed notifications from the stores (app-store | play-store)',
  },
  reconcile: {
    run: runReconcile,
    help: 'compare state with the store and emit what differs (play-store | app-store)',
  },
  dlq: { run: runDlq, help: 'list, show and re-drive dead letters (list | show | redrive)' },
  renormalize: {
    run: runRenormalize,
    help: 'run the current mapping over a range of raw records and correct what differs',
  },
};

const USAGE = `usage: storeline <command>\n${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(11)} ${c.help}\n`)
  .join('')}`;

const [command, ...rest] = process.argv.slice(2);
const chosen = command === undefined ? undefined : COMMANDS[command];
if (chosen) {
  chosen.run(rest).then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`storeline ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
} else if (command === '--help' || command === 'help') {
  process.stdout.write(USAGE);
} else {
  // No command is a usage error too: scripts that call `storeline` without one must not pass silently.
  process.stderr.write(command === undefined ? USAGE : `storeline: unknown command "${command}"\n${USAGE}`);
  process.exitCode = 2;
}
