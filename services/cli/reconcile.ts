/** `storeline reconcile …`: compare Storeline's state with the store's own truth and emit what differs. */
import { runReconcileAppStore } from './reconcileAppStore';
import { runReconcilePlayStore } from './reconcilePlayStore';

const USAGE =
  'usage: storeline reconcile play-store (--subscription KEY | --all-active [--older-than D]) …\n' +
  '       storeline reconcile app-store (--subscription KEY | --all-active [--older-than D]) …\n' +
  '  --help after the store names its options\n';

export async function runReconcile(args: string[]): Promise<number> {
  const [store, ...rest] = args;
  if (store === 'play-store') return runReconcilePlayStore(rest);
  if (store === 'app-store') return runReconcileAppStore(rest);
  process.stderr.write(USAGE);
  return 2;
}
