/**
 * The receivers' body reader and answer: the request body as the exact bytes received, and a small JSON
 * answer written directly. The App Store receiver's hot route runs on node:http's request and response
 * (lib/platform/frontRoute.ts), so it reads and answers without express.raw and res.json; the Play receiver
 * uses the same reader as express middleware. A receiver publishes the bytes as they came, so it needs none
 * of body-parser's charset handling; bodies with a Content-Encoding still go through express.raw, which
 * inflates them as before. Errors are body-parser's (`entity.too.large` 413, 400), so `bodyErrorHandler`
 * answers both the same way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import express from 'express';

/** What body-parser raises, so `bodyErrorHandler` answers these the same way (413, 400). */
class BodyReadError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly type: 'entity.too.large' | 'request.aborted' | 'stream.error',
  ) {
    super(message);
  }
}

/**
 * The body of `req`, at most `limit` bytes: rejects with a BodyReadError (413 `entity.too.large` beyond the
 * limit, 400 when the client goes away), the errors body-parser raises, so `bodyErrorHandler` answers both.
 */
export function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return inflated(req, limit);
  if (Number(req.headers['content-length']) > limit) {
    req.resume();
    return Promise.reject(new BodyReadError('request entity too large', 413, 'entity.too.large'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (err: BodyReadError) => {
      if (done) return;
      done = true;
      req.resume(); // discard the rest; the error answer ends the exchange
      reject(err);
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) return fail(new BodyReadError('request entity too large', 413, 'entity.too.large'));
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks, size));
    });
    req.on('close', () => {
      if (!req.complete) fail(new BodyReadError('request aborted', 400, 'request.aborted'));
    });
    req.on('error', (err) => fail(new BodyReadError(err.message, 400, 'stream.error')));
  });
}

/** A compressed body, inflated by express.raw as before. */
function inflated(req: IncomingMessage, limit: number): Promise<Buffer> {
  const parse = express.raw({ type: () => true, limit });
  return new Promise((resolve, reject) => {
    parse(req as Request, {} as Response, (err?: unknown) => {
      if (err) return reject(err instanceof Error ? err : new Error(String(err)));
      const body = (req as { body?: unknown }).body;
      resolve(Buffer.isBuffer(body) ? body : Buffer.alloc(0));
    });
  });
}

/** readRawBody as express middleware: `req.body` is the Buffer, errors go to the error handler. */
export function rawBody(limit: number): RequestHandler {
  return (req, _res, next) => {
    readRawBody(req, limit).then((body) => {
      req.body = body;
      next();
    }, next);
  };
}

/** `res.status(status).json(body)` without res.send's charset, ETag and freshness work. */
export function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    })
    .end(text);
}
