/** Headers receivers put on raw records (docs/architecture.md: format, received-at, request id, environment). */
export const RAW_HEADERS = {
  format: 'format',
  receivedAt: 'received-at',
  requestId: 'request-id',
  environment: 'environment',
  notificationId: 'notification-id',
  /** Set on records an operator tool wrote, not a store push: `<store>:<source>` (e.g. app-store:notification-history). */
  backfill: 'backfill',
  /** Set on records `storeline reconcile` wrote: `<store>:<what was compared>` (e.g. play-store:subscriptionsv2). */
  reconcile: 'reconcile',
  /** Set on a dead letter re-driven to its source topic: `<dlq topic>@<partition>:<offset>`. */
  redrivenFrom: 'redriven-from',
} as const;
