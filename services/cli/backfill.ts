/** `storeline backfill app-store|play-store …`: recover notifications the receivers never got, from the stores' APIs. */
import { runBackfillAppStore } from './backfillAppStore';
import { runBackfillPlayStore } from './backfillPlayStore';

const USAGE =
  'usage: storeline backfill app-store --since T [--until T] …   (App Store Server API notification history)\n' +
  '       storeline backfill play-store --since T [--until T] …  (Play Developer API voided purchases)\n' +
  '  --help after the store names its options\n';

export async function runBackfill(args: string[]): Promise<number> {
  const [store, ...rest] = args;
  if (store === 'app-store') return runBackfillAppStore(rest);
  if (store === 'play-store') return runBackfillPlayStore(rest);
  process.stderr.write(USAGE);
  return 2;
}
