import { envelope, PACKAGE, rtdn } from '../../../test/kit/builders/play';
import { acceptPlay } from './acceptPlay';

const json = 'application/json';
const body = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('acceptPlay', () => {
  const push = envelope(rtdn(2, 'tok-1'), 'm-1');

  it('accepts a push for a served package, keyed by its purchase token', () => {
    const v = acceptPlay({ body: body(push), contentType: json, requestId: 'r' }, [PACKAGE]);
    expect(v).toEqual({
      accepted: { key: 'tok-1', id: 'm-1', publishTime: push.message.publishTime ?? null },
    });
  });

  it('dead-letters a push for a package not served here, with what it knows of it', () => {
    const v = acceptPlay({ body: body(push), contentType: json, requestId: 'r' }, ['other.app']);
    expect(v).toMatchObject({ poison: { key: 'tok-1', id: 'm-1', error: { stage: 'package' } } });
  });

  it('refuses what is not JSON, or not a push envelope', () => {
    expect(
      acceptPlay({ body: body(push), contentType: 'text/plain', requestId: 'r' }, [PACKAGE]),
    ).toMatchObject({
      rejected: { check: 'content_type', status: 400 },
    });
    expect(
      acceptPlay({ body: body({ hello: 1 }), contentType: json, requestId: 'r' }, [PACKAGE]),
    ).toMatchObject({
      rejected: { check: 'envelope', status: 400 },
    });
  });
});
