import { DependencyError, PoisonMessageError, isRetriable, unavailableDependency } from './errors';

describe('unavailableDependency', () => {
  it.each([
    [{ code: '57P01', message: 'terminating connection due to administrator command' }, 'database'],
    [{ code: '57P05', message: 'terminating connection due to idle-session timeout' }, 'database'],
    [{ code: '08006', message: 'connection failure' }, 'database'],
    [{ code: '53300', message: 'too many connections' }, 'database'],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'database'],
    [new Error('Connection terminated unexpectedly'), 'database'],
    [new DependencyError('registry', 'registry down'), 'registry'],
  ])('%j is %s unavailable', (err, dep) => {
    expect(unavailableDependency(err)).toBe(dep);
  });

  it.each([
    [{ code: '23505', message: 'duplicate key value violates unique constraint' }],
    [{ code: '42P01', message: 'relation does not exist' }],
    [new PoisonMessageError('decode', 'bad')],
    [new TypeError('x is undefined')],
    // Found by the three-broker chaos test: a kafkajs connection error has the socket's code too.
    [
      Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:29093'), {
        name: 'KafkaJSConnectionError',
        code: 'ECONNREFUSED',
        retriable: true,
      }),
    ],
  ])('%j is a statement or input error, not an outage', (err) => {
    expect(unavailableDependency(err)).toBeUndefined();
  });

  it('a dependency error is retriable', () => {
    expect(isRetriable(new DependencyError('database', 'down'))).toBe(true);
  });

  it('a terminated backend is retriable, so the record is retried, never dead-lettered', () => {
    // Found by the chaos suite: pg errors carry no retriable flag, and the normalizer dead-lettered
    // authentic notifications whose claim query met a terminated backend.
    const err = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    expect(isRetriable(err)).toBe(true);
    expect(isRetriable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
  });
});
