/**
 * The app's hook: what only the app knows about a refund request (the customer's consent to share
 * consumption data, play time, ...). Storeline POSTs the request's context as JSON and expects, within the
 * timeout, a 2xx with `{customerConsented, ...}` (docs/toolkit.md). Any failure is retriable: the app may
 * be deploying, and Apple's deadline is hours away.
 */
import { z } from 'zod';
import { DELIVERY_STATUSES, REFUND_PREFERENCES, type AppAnswer } from '../../core/app-store/consumption';
import { PipelineError, errorMessage } from '../../core/errors';
import type { SubscriptionEvent } from '../../core/generated/avro';

export interface HookOptions {
  url: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token: string | undefined;
  timeoutMs: number;
}

export class HookError extends PipelineError {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message, { retriable: true });
  }
}

const Answer = z.object({
  customerConsented: z.boolean(),
  playTimeMs: z.number().int().min(0).optional(),
  consumptionPercentage: z.number().int().min(0).max(100_000).optional(),
  deliveryStatus: z.enum(DELIVERY_STATUSES).optional(),
  refundPreference: z.enum(REFUND_PREFERENCES).optional(),
  sampleContentProvided: z.boolean().optional(),
  consumptionStatus: z.number().int().min(0).max(3).optional(),
  platform: z.number().int().min(0).max(2).optional(),
  userStatus: z.number().int().min(0).max(4).optional(),
});

/** What the hook receives. */
function hookRequest(e: SubscriptionEvent, deadlineAt: number) {
  return {
    eventId: e.eventId,
    transactionId: e.transactionId,
    subscriptionKey: e.subscriptionKey,
    appUserId: e.appUserId,
    appId: e.appId,
    productId: e.productId,
    environment: e.environment,
    reason: e.reason,
    requestedAt: e.occurredAt,
    deadlineAt,
  };
}

export async function askApp(
  opts: HookOptions,
  e: SubscriptionEvent,
  deadlineAt: number,
): Promise<AppAnswer> {
  let res: Response;
  try {
    res = await fetch(opts.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
      body: JSON.stringify(hookRequest(e, deadlineAt)),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    throw new HookError(`app hook unreachable: ${errorMessage(err)}`, undefined);
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new HookError(`app hook answered HTTP ${res.status}`, res.status);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HookError('app hook answered something other than JSON', res.status);
  }
  const parsed = Answer.safeParse(json);
  if (!parsed.success)
    throw new HookError(
      `app hook answer invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      res.status,
    );
  return parsed.data;
}
