/** The `storeline` command. Subcommands: normalize, state rebuild, topics create. */
import { runNormalize } from './normalize';
import { runState } from './state';
import { runTopics } from './topics';

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'normalize':
    runNormalize(rest).then(
      (code) => (process.exitCode = code),
      (err) => {
        process.stderr.write(`storeline normalize: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      },
    );
    break;
  case 'state':
    runState(rest).then(
      (code) => (process.exitCode = code),
      (err) => {
        process.stderr.write(`storeline state: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      },
    );
    break;
  case 'topics':
    runTopics(rest).then(
      (code) => (process.exitCode = code),
      (err) => {
        process.stderr.write(`storeline topics: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      },
    );
    break;
  default:
    process.stderr.write(
      'usage: storeline <command>\n  normalize   verify and map notification files to canonical events\n  state       rebuild the state read model (state rebuild)\n  topics      create catalog topics and register schemas (topics create)\n',
    );
    process.exitCode = command === undefined || command === '--help' ? 0 : 2;
}
