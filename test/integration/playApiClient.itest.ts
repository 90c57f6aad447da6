/**
 * The real Play Developer API client against the local fake over real HTTP: documented paths under a replaced
 * root, retries on 429/5xx, 404/410 read as gone, acknowledgement, and the service-account JWT-bearer flow.
 */
import { generateKeyPairSync } from 'node:crypto';
import { HttpPlayApi, serviceAccountToken, staticToken } from '../../lib/adapters/play/api';
import { sub, PACKAGE } from '../kit/builders/play';
import { PLAY_TOKEN, startFakePlay } from '../support/play';

describe('HttpPlayApi against the fake Play Developer API', () => {
  it('reads, retries, treats 410 as gone, acknowledges, and authenticates with a service account', async () => {
    const fake = await startFakePlay();
    try {
      const api = new HttpPlayApi({
        rootUrl: fake.url,
        accessToken: staticToken(PLAY_TOKEN),
        initialBackoffMs: 5,
      });
      fake.state.subscriptions.set(
        'tok-1',
        sub('ACTIVE', { acknowledgementState: 'ACKNOWLEDGEMENT_STATE_PENDING' }),
      );
      fake.state.failures.set('tok-1', { status: 503, times: 2 });
      expect((await api.getSubscriptionV2(PACKAGE, 'tok-1'))?.subscriptionState).toBe(
        'SUBSCRIPTION_STATE_ACTIVE',
      );
      expect(fake.state.reads.get('tok-1')).toBe(3); // two 503s, then the answer
      fake.state.failures.set('tok-1', { status: 429, times: 10 });
      await expect(api.getSubscriptionV2(PACKAGE, 'tok-1')).rejects.toMatchObject({ retriable: true });
      fake.state.failures.delete('tok-1');
      expect(await api.getSubscriptionV2(PACKAGE, 'tok-expired-long-ago')).toBeNull();
      await api.acknowledgeSubscription(PACKAGE, 'tok-1', 'premium');
      expect(fake.state.acknowledged).toEqual(['tok-1']);
      const unauth = new HttpPlayApi({ rootUrl: fake.url, accessToken: staticToken('wrong') });
      await expect(unauth.getSubscriptionV2(PACKAGE, 'tok-1')).rejects.toMatchObject({
        status: 401,
        retriable: false,
      });

      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const key = {
        client_email: 'play@storeline-test.iam.gserviceaccount.com',
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        token_uri: `${fake.url}/token`,
      };
      const viaSa = new HttpPlayApi({ rootUrl: fake.url, accessToken: serviceAccountToken(key) });
      expect((await viaSa.getSubscriptionV2(PACKAGE, 'tok-1'))?.acknowledgementState).toBe(
        'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
      );
    } finally {
      await fake.close();
    }
  });
});
