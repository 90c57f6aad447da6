/**
 * `storeline normalize [options] FILE...` — reads each file as an HTTP request body exactly as received,
 * verifies it as the receiver would, and prints every canonical event as one JSON line (Avro field names,
 * enums as strings, times as epoch ms).
 *   Apple V2 `{"signedPayload": …}`, Apple V1 JSON (`notification_type`), Google Pub/Sub push envelope.
 * Exit status: 0 every file mapped; 3 a file failed authentication (stderr names the file and the check,
 * nothing is printed for it); 2 a file is malformed. 3 wins over 2 when both happen.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { APPLE_ROOT_CA_G3_DER } from '../../lib/core/app-store/appleRoot';
import { loadCertificates } from '../../lib/core/app-store/certs';
import type { RawContext } from '../../lib/core/rawContext';
import { AppleVerifier, NotificationRejected } from '../../lib/core/app-store/verify';
import { acceptAppStore } from '../../lib/core/ingest/acceptAppStore';
import { sniffFormat, type RawFormat } from '../../lib/core/ingest/format';
import { normalize, type PlayNormalize } from '../../lib/core/ingest/normalize';
import { errorMessage, PoisonMessageError } from '../../lib/core/errors';
import {
  HttpPlayApi,
  serviceAccountToken,
  staticToken,
  type AccessTokenProvider,
} from '../../lib/adapters/play/api';
import { createPlayProcessor } from '../../lib/core/play/processor';
import { MemoryPlayRepo } from '../../lib/adapters/play/repo';
import { createLogger } from '../../lib/platform/logger';
import { subscriptionEventSchema, type SubscriptionEvent } from '../../lib/core/generated/avro';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  readFile: (path: string) => Buffer;
  now: () => number;
}

const nodeIo: CliIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
  readFile: (p) => readFileSync(p),
  now: Date.now,
};

const USAGE = `usage: storeline normalize [options] FILE...
  --apple-root FILE        trusted Apple root, DER or PEM (repeatable; default: bundled Apple Root CA - G3)
  --bundle-id ID           allowed bundleId (repeatable; default: any, with a warning)
  --verify-at MODE         signed-date (default) or now: the date certificates must be valid at
  --shared-secret S        Apple V1 shared secret
  --play-api-url URL       root replacing https://androidpublisher.googleapis.com (Pub/Sub envelopes)
  --play-api-token TOKEN   static bearer token for the Play Developer API
  --play-service-account F service-account JSON key for the Play Developer API
Pub/Sub envelopes are processed in the order given; snapshots and seen message ids are kept for the run.
`;

const FIELD_ORDER = (subscriptionEventSchema as { fields: { name: string }[] }).fields.map((f) => f.name);

/** One JSON line per event, fields in the Avro schema's order. */
function eventJson(e: SubscriptionEvent): string {
  const rec = e as unknown as Record<string, unknown>;
  return JSON.stringify(Object.fromEntries(FIELD_ORDER.map((k) => [k, rec[k]])));
}

/** The file is fine; the command line lacks what processing it needs. */
class MissingOption extends Error {}

/** Ends the command with an exit status; what to say was already said on the way. */
class Exit {
  constructor(readonly status: number) {}
}

type Values = ReturnType<typeof parseOptions>['values'];

export async function runNormalize(argv: string[], io: CliIo = nodeIo): Promise<number> {
  try {
    const { values, positionals } = parseOptions(argv, io);
    const verifier = appleVerifier(values, io);
    const play = playNormalizer(values, io);
    let status = 0;
    for (const [index, file] of positionals.entries()) {
      status = Math.max(
        status,
        await normalizeFile(file, index, { verifier, play, secret: values['shared-secret'], io }),
      );
    }
    return status;
  } catch (err) {
    if (err instanceof Exit) return err.status;
    throw err;
  }
}

function parseOptions(argv: string[], io: CliIo) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'apple-root': { type: 'string', multiple: true },
        'bundle-id': { type: 'string', multiple: true },
        'verify-at': { type: 'string', default: 'signed-date' },
        'shared-secret': { type: 'string' },
        'play-api-url': { type: 'string' },
        'play-api-token': { type: 'string' },
        'play-service-account': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`${errorMessage(err)}\n${USAGE}`);
    throw new Exit(2);
  }
  if (parsed.values.help) {
    io.out(USAGE);
    throw new Exit(0);
  }
  if (parsed.positionals.length === 0) {
    io.err(USAGE);
    throw new Exit(2);
  }
  return parsed;
}

/** The verifier the receiver would use, from --apple-root, --bundle-id and --verify-at. */
function appleVerifier(values: Values, io: CliIo): AppleVerifier {
  const verifyAt = values['verify-at'];
  if (verifyAt !== 'signed-date' && verifyAt !== 'now') {
    io.err(`--verify-at must be signed-date or now\n${USAGE}`);
    throw new Exit(2);
  }
  let roots: Buffer[];
  try {
    const extra = values['apple-root'] ?? [];
    roots = extra.length
      ? loadCertificates(extra.map((f) => ({ name: f, bytes: io.readFile(f) })))
      : [APPLE_ROOT_CA_G3_DER];
  } catch (err) {
    io.err(`cannot read --apple-root: ${errorMessage(err)}`);
    throw new Exit(2);
  }
  const bundleIds = values['bundle-id'] ?? null;
  if (!bundleIds) io.err('warning: no --bundle-id given; notifications for any bundleId are accepted');
  return new AppleVerifier({
    trustedRoots: roots,
    bundleIds,
    environments: ['Production', 'Sandbox', 'Xcode', 'LocalTesting'],
    appAppleIds: [],
    effectiveDate: verifyAt,
  });
}

/** The Play path when a token or service account is given; else one that refuses Pub/Sub envelopes. */
function playNormalizer(values: Values, io: CliIo): PlayNormalize {
  let accessToken: AccessTokenProvider | undefined;
  if (values['play-api-token']) accessToken = staticToken(values['play-api-token']);
  else if (values['play-service-account']) {
    try {
      accessToken = serviceAccountToken(
        JSON.parse(io.readFile(values['play-service-account']).toString('utf8')),
      );
    } catch (err) {
      io.err(`cannot read --play-service-account: ${errorMessage(err)}`);
      throw new Exit(2);
    }
  }
  if (!accessToken) {
    return async () => {
      throw new MissingOption(
        'a Google Play Pub/Sub envelope: the events come from the Play Developer API, so it needs --play-api-token or --play-service-account (and --play-api-url for a fake)',
      );
    };
  }
  return createPlayProcessor({
    api: new HttpPlayApi({ rootUrl: values['play-api-url'], accessToken, maxAttempts: 2 }),
    repo: new MemoryPlayRepo(),
    logger: createLogger('storeline-cli', 'silent'),
    acknowledge: false, // inspecting files must not change purchases
  });
}

/** One file: its events on stdout, or why not on stderr. Exit status 0, 2 (malformed) or 3 (unauthentic). */
async function normalizeFile(
  file: string,
  index: number,
  deps: { verifier: AppleVerifier; play: PlayNormalize; secret: string | undefined; io: CliIo },
): Promise<number> {
  const { io } = deps;
  let body: Buffer;
  try {
    body = io.readFile(file);
  } catch (err) {
    io.err(`${file}: cannot read: ${errorMessage(err)}`);
    return 2;
  }
  const ctx: RawContext = {
    receivedAt: io.now(),
    rawTopic: `file:${basename(file)}`,
    rawPartition: 0,
    rawOffset: index,
  };
  let events: SubscriptionEvent[];
  try {
    const format = formatOf(body, deps.secret);
    if (format !== 'play-store-pubsub') verify(format, body, deps.verifier, deps.secret, io.now());
    events = await normalize(format, body, ctx, deps.play);
  } catch (err) {
    if (err instanceof MissingOption) {
      io.err(`${file}: not processed: ${err.message}`);
      return 2;
    }
    if (err instanceof NotificationRejected && err.status === 401) {
      io.err(`${file}: authentication failed (${err.check}): ${err.message}`);
      return 3;
    }
    const kind =
      err instanceof PoisonMessageError || err instanceof NotificationRejected ? 'malformed' : 'failed';
    io.err(`${file}: ${kind}: ${errorMessage(err)}`);
    return 2;
  }
  for (const e of events) io.out(eventJson(e));
  return 0;
}

/** The file's format; refused when it is none, or a V1 body comes without the secret to check it. */
function formatOf(body: Buffer, secret: string | undefined): RawFormat {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new NotificationRejected('body', 'not JSON');
  }
  const format = sniffFormat(json);
  if (format === undefined)
    throw new NotificationRejected('body', 'not an App Store V2, App Store V1 or Pub/Sub push body');
  if (format === 'app-store-v1' && secret === undefined)
    throw new NotificationRejected('secret', 'V1 notification and no --shared-secret');
  return format;
}

/** Verifies an App Store file as the receiver would; throws the failed check. */
function verify(
  format: 'app-store-v2' | 'app-store-v1',
  body: Buffer,
  verifier: AppleVerifier,
  v1SharedSecret: string | undefined,
  now: number,
): void {
  const verdict = acceptAppStore(
    { format, body, contentType: 'application/json', now },
    { verifier, v1SharedSecret },
  );
  if (!('rejected' in verdict)) return;
  const { check, message } = verdict.rejected;
  if (check === 'content_type') throw new Error(message); // cannot happen: the content type is given
  throw new NotificationRejected(check, message);
}
