/** `npm run topics:create`: the same as `storeline topics create`, without a build. */
import { runTopics } from '../services/cli/topics';

runTopics(['create']).then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(`topics:create failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
