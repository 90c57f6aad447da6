/** Headers receivers put on raw records (docs/architecture.md: format, received-at, request id, environment). */
export const RAW_HEADERS = {
  format: 'format',
  receivedAt: 'received-at',
  requestId: 'request-id',
  environment: 'environment',
  notificationId: 'notification-id',
} as const;
