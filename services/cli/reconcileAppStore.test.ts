import { runReconcileAppStore } from './reconcileAppStore';

async function usage(args: string[], env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runReconcileAppStore(args, env, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    now: () => 1_770_000_000_000,
  });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

const CREDS = {
  APPLE_ISSUER_ID: 'issuer',
  APPLE_KEY_ID: 'key',
  APPLE_PRIVATE_KEY_FILE: '/nonexistent/key.p8',
  APPLE_BUNDLE_ID: 'com.example.app',
};

describe('storeline reconcile app-store: usage', () => {
  it.each<[string, string[], RegExp]>([
    ['neither target', [], /either --subscription KEY or --all-active/],
    ['both targets', ['--all-active', '--subscription', 'app_store:1'], /either --subscription/],
    ['a key of another store', ['--subscription', 'play_store:abc'], /app_store:<originalTransactionId>/],
    [
      'an app-level key',
      ['--subscription', 'app_store:app:com.example.app'],
      /app_store:<originalTransactionId>/,
    ],
    ['--older-than alone', ['--subscription', 'app_store:1', '--older-than', '1d'], /goes with --all-active/],
    ['an unreadable age', ['--all-active', '--older-than', 'soon'], /--older-than: cannot read/],
    ['an unknown environment', ['--all-active', '--environment', 'staging'], /production or sandbox/],
    ['an unknown option', ['--all-active', '--bogus'], /bogus/],
  ])('%s: exit 2 with the usage', async (_name, args, message) => {
    const r = await usage(args, CREDS);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('usage: storeline reconcile app-store');
  });

  it('missing credentials name their options', async () => {
    const r = await usage(['--all-active']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/APPLE_ISSUER_ID.*\(or --issuer-id\)/);
  });

  it('an unreadable key file: exit 2, the file named', async () => {
    const r = await usage(['--all-active'], CREDS);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read the private key file \/nonexistent\/key.p8: ENOENT/);
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await usage(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--all-active/);
  });
});
