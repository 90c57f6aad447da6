/** backfill: the scheduled store backfills (off unless enabled); the logic is app.ts (the runner does the rest). */
import { runService } from '../../lib/platform/service';
import { startBackfill } from './app';
import { BackfillConfig } from './config';

runService({ name: 'backfill', config: BackfillConfig, start: startBackfill });
