import { PoisonMessageError } from '../core/errors';
import { DLQ_HEADERS, deadLetter, dlqHeaders } from './dlq';

const input = {
  topic: 'raw',
  partition: 2,
  offset: '7',
  key: Buffer.from('k'),
  value: Buffer.from('v'),
  headers: { format: 'app-store-v2' },
  timestamp: 0,
};

describe('dead letters', () => {
  it('are the record plus why, then where it was consumed from, in that order', () => {
    const d = deadLetter(input, 'raw.dlq', new PoisonMessageError('decode', 'bad'), Date.UTC(2026, 0, 1));
    expect(d).toMatchObject({ topic: 'raw.dlq', key: input.key, value: input.value });
    expect(Object.entries(d.headers ?? {})).toEqual([
      ['format', 'app-store-v2'],
      [DLQ_HEADERS.stage, 'decode'],
      [DLQ_HEADERS.reason, 'PoisonMessageError: bad'],
      [DLQ_HEADERS.retriable, 'false'],
      [DLQ_HEADERS.firstSeen, '2026-01-01T00:00:00.000Z'],
      [DLQ_HEADERS.sourceTopic, 'raw'],
      [DLQ_HEADERS.sourcePartition, '2'],
      [DLQ_HEADERS.sourceOffset, '7'],
    ]);
  });

  it('keep when a record first failed, and cut long reasons', () => {
    const again = { ...input, headers: { [DLQ_HEADERS.firstSeen]: 'then' } };
    const d = deadLetter(again, 'raw.dlq', new Error('x'.repeat(5000)), 0);
    expect(d.headers?.[DLQ_HEADERS.firstSeen]).toBe('then');
    expect(d.headers?.[DLQ_HEADERS.reason]).toHaveLength(2000);
  });

  it('of records not consumed carry no source', () => {
    const h = dlqHeaders({ a: '1' }, { stage: 's', reason: 'r', retriable: false, firstSeen: 'f' });
    expect(Object.keys(h)).toEqual([
      'a',
      DLQ_HEADERS.stage,
      DLQ_HEADERS.reason,
      DLQ_HEADERS.retriable,
      DLQ_HEADERS.firstSeen,
    ]);
  });
});
