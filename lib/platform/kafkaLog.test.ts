import { logLevel } from 'kafkajs';
import { kafkajsLevel } from './kafkaLog';

describe('kafkajsLevel', () => {
  it.each([
    [
      'a coordinator not yet available (first start)',
      'Response InitProducerId(key: 22, version: 1)',
      { error: 'The group coordinator is not available' },
      'warn',
    ],
    [
      'a leader election',
      'Response Metadata(key: 3, version: 6)',
      {
        error: 'There is no leader for this topic-partition as we are in the middle of a leadership election',
      },
      'warn',
    ],
    [
      'a retry kafkajs scheduled',
      'Restarting the consumer in 300ms',
      { retryCount: 1, retryTime: 300 },
      'warn',
    ],
    ['a consumer crash', 'Crash: KafkaJSNonRetriableError: boom', { retryCount: undefined }, 'error'],
    [
      'a non-retriable response',
      'Response Produce(key: 0, version: 7)',
      { error: 'The request included a message larger than the max message size the server will accept' },
      'error',
    ],
  ])('%s → %s', (_what, message, entry, expected) => {
    expect(kafkajsLevel(logLevel.ERROR, message, entry)).toBe(expected);
  });

  it('keeps the other levels as kafkajs rated them', () => {
    expect(kafkajsLevel(logLevel.WARN, 'x', {})).toBe('warn');
    expect(kafkajsLevel(logLevel.INFO, 'x', {})).toBe('info');
    expect(kafkajsLevel(logLevel.DEBUG, 'x', {})).toBe('debug');
  });
});
