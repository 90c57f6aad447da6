/**
 * Trigger rules: which moments fire, with what delays and thresholds. A JSON file validated with zod at
 * start (TRIGGERS_RULES_FILE); unknown keys and bad values stop start-up with a message naming them.
 * Durations are in seconds so tests and demos can use short delays.
 */
import { z } from 'zod';
import { TRIGGER_KIND_SYMBOLS } from '../generated/avro';

const DAY = 86_400;
const on = { enabled: z.boolean().default(true) };
const seconds = (max: number) => z.number().int().min(0).max(max);

/**
 * How far an event's cancellation of a pending trigger reaches: only the subscription the event is about,
 * or every subscription of the same appUserId (an event without an appUserId stays on its subscription).
 * `user` fits win-backs, which a return on any subscription makes pointless; an offer or reminder about one
 * subscription must survive what happens to the user's others.
 */
export const CANCEL_SCOPES = ['subscription', 'user'] as const;
export type CancelScope = (typeof CANCEL_SCOPES)[number];
const cancelScope = (fallback: CancelScope) => z.enum(CANCEL_SCOPES).default(fallback);

export const Rules = z
  .object({
    /** Sandbox events fire nothing unless this is true. */
    fireInSandbox: z.boolean().default(false),
    welcome: z.object(on).strict().default({ enabled: true }),
    renewalThanks: z.object(on).strict().default({ enabled: true }),
    paymentFailed: z.object(on).strict().default({ enabled: true }),
    accessLost: z.object(on).strict().default({ enabled: true }),
    cancellationSaveOffer: z
      .object({ ...on, delaySeconds: seconds(90 * DAY).default(0), cancelScope: cancelScope('subscription') })
      .strict()
      .default({ enabled: true, delaySeconds: 0, cancelScope: 'subscription' }),
    winbackOffer: z
      .object({
        ...on,
        delaySeconds: seconds(365 * DAY).default(7 * DAY),
        /** Expiration reasons that qualify (canonical `reason` of EXPIRED). */
        reasons: z
          .array(
            z.enum(['VOLUNTARY', 'BILLING_ERROR', 'PRICE_INCREASE_DECLINED', 'PRODUCT_UNAVAILABLE', 'OTHER']),
          )
          .min(1)
          .default(['VOLUNTARY', 'BILLING_ERROR']),
        cancelScope: cancelScope('user'),
      })
      .strict()
      .default({
        enabled: true,
        delaySeconds: 7 * DAY,
        reasons: ['VOLUNTARY', 'BILLING_ERROR'],
        cancelScope: 'user',
      }),
    planChangeConfirmation: z.object(on).strict().default({ enabled: true }),
    priceIncreaseConsentReminder: z
      .object({
        ...on,
        secondsBeforeDeadline: seconds(60 * DAY).default(3 * DAY),
        cancelScope: cancelScope('subscription'),
      })
      .strict()
      .default({ enabled: true, secondsBeforeDeadline: 3 * DAY, cancelScope: 'subscription' }),
    refundRequestResponseDue: z
      .object({
        ...on,
        appleDeadlineSeconds: seconds(7 * DAY).default(12 * 3600),
        googleDeadlineSeconds: seconds(7 * DAY).default(24 * 3600),
      })
      .strict()
      .default({ enabled: true, appleDeadlineSeconds: 12 * 3600, googleDeadlineSeconds: 24 * 3600 }),
    refundAbuseSuspected: z
      .object({
        ...on,
        /** A refund within this many days of the purchase ... */
        maxDaysFromPurchase: z.number().min(0).max(365).default(7),
        /** ... of a period at least this long (e.g. a yearly plan) is suspicious. */
        minPeriodDays: z.number().min(0).max(3650).default(180),
        /** Or this many refunds for one appUserId ... */
        maxRefundsPerUser: z.number().int().min(1).default(3),
        /** ... within this window. */
        windowDays: z.number().min(1).max(3650).default(90),
      })
      .strict()
      .default({
        enabled: true,
        maxDaysFromPurchase: 7,
        minPeriodDays: 180,
        maxRefundsPerUser: 3,
        windowDays: 90,
      }),
    /** At most `max` triggers of a kind per user (or subscription without a user) within `windowSeconds`. */
    frequencyCaps: z
      .partialRecord(
        z.enum(TRIGGER_KIND_SYMBOLS),
        z.object({ max: z.number().int().min(1), windowSeconds: seconds(365 * DAY) }).strict(),
      )
      .default({}),
  })
  .strict();

export type Rules = z.output<typeof Rules>;

export const DEFAULT_RULES: Rules = Rules.parse({});

export type RulesResult = { ok: true; rules: Rules } | { ok: false; problems: string[] };

export function parseRules(text: string, source = 'rules'): RulesResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      problems: [`${source}: not JSON: ${err instanceof Error ? err.message : String(err)}`],
    };
  }
  const r = Rules.safeParse(json);
  if (r.success) return { ok: true, rules: r.data };
  return {
    ok: false,
    problems: r.error.issues.map((i) => `${source}: ${i.path.join('.') || '(root)'}: ${i.message}`),
  };
}
