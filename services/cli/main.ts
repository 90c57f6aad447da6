/** The `storeline` command. Subcommands: normalize. */
import { runNormalize } from './normalize';

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'normalize':
    process.exitCode = runNormalize(rest);
    break;
  default:
    process.stderr.write(
      'usage: storeline <command>\n  normalize   verify and map notification files to canonical events\n',
    );
    process.exitCode = command === undefined || command === '--help' ? 0 : 2;
}
