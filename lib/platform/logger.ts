import pino from 'pino';

export type Logger = pino.Logger;

/**
 * JSON logs. Secrets never reach a log line: known secret-bearing fields are redacted as a backstop,
 * and code never logs config objects whole.
 */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    redact: {
      paths: [
        'password',
        '*.password',
        'secret',
        '*.secret',
        'sharedSecret',
        '*.sharedSecret',
        'token',
        '*.token',
        'headers.authorization',
        '*.headers.authorization',
      ],
      censor: '[redacted]',
    },
  });
}
