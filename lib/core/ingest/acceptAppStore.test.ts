import { createPki, signedBody, type Pki } from '../../../test/kit/appleSigning';
import { notification } from '../../../test/kit/builders/appStore';
import { AppleVerifier } from '../app-store/verify';
import { acceptAppStore } from './acceptAppStore';

describe('acceptAppStore', () => {
  let pki: Pki;
  let verifier: AppleVerifier;
  beforeAll(async () => {
    pki = await createPki();
    verifier = new AppleVerifier({
      trustedRoots: [pki.rootDer],
      bundleIds: ['com.example.app'],
      environments: ['Sandbox'],
      appAppleIds: [],
      effectiveDate: 'now',
    });
  });
  const request = (body: Buffer, contentType = 'application/json') =>
    ({ format: 'app-store-v2', body, contentType, now: Date.now() }) as const;

  it('accepts a verified V2 body: key, notification id, environment', () => {
    const n = notification('DID_RENEW');
    const v = acceptAppStore(request(signedBody(n, pki)), { verifier });
    expect(v).toEqual({
      accepted: { key: expect.any(String), id: n.payload.notificationUUID, env: 'Sandbox' },
    });
  });

  it('refuses a body that is not JSON by content type, 400', () => {
    const v = acceptAppStore(request(signedBody(notification('DID_RENEW'), pki), 'text/plain'), { verifier });
    expect(v).toEqual({
      rejected: { check: 'content_type', status: 400, message: 'content-type must be application/json' },
    });
  });

  it('names the failed check of an unverifiable body, 401', () => {
    const v = acceptAppStore(request(Buffer.from('{"signedPayload":"a.b.c"}')), { verifier });
    expect(v).toMatchObject({ rejected: { check: 'jws', status: 401 } });
  });

  it('refuses a V1 body when no shared secret is configured', () => {
    const v = acceptAppStore({ ...request(Buffer.from('{}')), format: 'app-store-v1' }, { verifier });
    expect(v).toMatchObject({ rejected: { check: 'secret', status: 401 } });
  });
});
