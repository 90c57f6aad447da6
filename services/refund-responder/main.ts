/** refund-responder: answers Apple's refund requests (opt-in); the logic is app.ts (the runner does the rest). */
import { runService } from '../../lib/platform/service';
import { startRefundResponder } from './app';
import { RefundResponderConfig } from './config';

runService({ name: 'refund-responder', config: RefundResponderConfig, start: startRefundResponder });
