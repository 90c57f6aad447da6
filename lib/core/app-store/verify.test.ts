import { createPki, signJws, signedBody, type Pki } from '../../../test/kit/appleSigning';
import { notification } from '../../../test/kit/builders/appStore';
import { AppleVerifier, NotificationRejected } from './verify';

const b64url = (json: string) => Buffer.from(json).toString('base64url');
const body = (signedPayload: string) => Buffer.from(JSON.stringify({ signedPayload }));

/** What verifyNotificationV2 threw, or undefined. */
function rejection(verifier: AppleVerifier, b: Buffer): unknown {
  try {
    verifier.verifyNotificationV2(b, Date.now());
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('AppleVerifier: JWS segments that are JSON but not objects', () => {
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

  it('verifies a well-formed notification (the baseline the cases below break)', () => {
    const payload = verifier.verifyNotificationV2(signedBody(notification('DID_RENEW'), pki), Date.now());
    expect(payload.notificationType).toBe('DID_RENEW');
  });

  // A JOSE header is a JSON object (RFC 7515 section 4); anything else is not a JWS we can verify.
  it.each(['null', '5', '"ES256"', '[]', 'true'])('refuses a header of %s as jws, 401', (header) => {
    const [, p, s] = signJws(notification('DID_RENEW').payload, pki).split('.') as [string, string, string];
    const err = rejection(verifier, body(`${b64url(header)}.${p}.${s}`));
    expect(err).toBeInstanceOf(NotificationRejected);
    expect(err).toMatchObject({ check: 'jws', status: 401, message: expect.stringMatching(/header/) });
  });

  // Correctly signed, so only the payload's shape can refuse it.
  it.each([null, 5, 'DID_RENEW', [], [{ notificationType: 'DID_RENEW' }]])(
    'refuses a signed payload of %j as jws, 401',
    (payload) => {
      const err = rejection(verifier, body(signJws(payload, pki)));
      expect(err).toBeInstanceOf(NotificationRejected);
      expect(err).toMatchObject({ check: 'jws', status: 401 });
    },
  );

  it('refuses, not crashes on, a non-string externalPurchaseId', () => {
    const payload = {
      notificationType: 'EXTERNAL_PURCHASE_TOKEN',
      notificationUUID: '0f0e0d0c-1111-4222-8333-444455556666',
      externalPurchaseToken: { externalPurchaseId: 5, bundleId: 'com.example.app' },
    };
    const err = rejection(verifier, body(signJws(payload, pki)));
    expect(err).toBeInstanceOf(NotificationRejected);
    expect(err).toMatchObject({ check: 'environment', status: 401 });
  });
});
