/**
 * The local demo's stand-in for Apple's signing chain: a test PKI shaped like Apple's (test/kit/appleSigning),
 * made once per machine under .stack/demo-pki/ (never committed). `npm start` trusts its root in the App
 * Store receiver beside Apple's, so `npm run demo:backfill` can sign notifications the way Apple would and
 * show some reaching the receiver and the rest recovered by a backfill. Local use only.
 */
import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createPki, type SigningPki } from '../../test/kit/appleSigning';

export const DEMO_PKI_DIR = resolve(__dirname, '../../.stack/demo-pki');
export const DEMO_ROOT_FILE = resolve(DEMO_PKI_DIR, 'root.der');

const file = (name: string) => resolve(DEMO_PKI_DIR, name);

export async function demoPki(): Promise<SigningPki> {
  if (!existsSync(DEMO_ROOT_FILE)) {
    const pki = await createPki();
    mkdirSync(DEMO_PKI_DIR, { recursive: true });
    writeFileSync(file('intermediate.der'), pki.intermediateDer);
    writeFileSync(file('leaf.der'), pki.leafDer);
    writeFileSync(file('leaf-key.pem'), pki.leafKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });
    writeFileSync(DEMO_ROOT_FILE, pki.rootDer); // last: its presence means the set is complete
  }
  return {
    rootDer: readFileSync(DEMO_ROOT_FILE),
    intermediateDer: readFileSync(file('intermediate.der')),
    leafDer: readFileSync(file('leaf.der')),
    leafKey: createPrivateKey(readFileSync(file('leaf-key.pem'))),
  };
}
