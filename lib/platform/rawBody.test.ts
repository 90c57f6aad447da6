import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import express, { type ErrorRequestHandler } from 'express';
import { closeServer, listen } from './http';
import { rawBody, sendJson } from './rawBody';

/** An app that echoes what rawBody read (length and sha-free bytes), and reports body errors. */
async function echo(limit: number) {
  const app = express();
  app.post('/', rawBody(limit), (req, res) => {
    const body = req.body as Buffer;
    sendJson(res, 200, { length: body.length, text: body.toString('utf8') });
  });
  const onError: ErrorRequestHandler = (err: { status?: number; type?: string }, _req, res, _next) => {
    sendJson(res, err.status ?? 500, { type: err.type });
  };
  app.use(onError);
  const server = await listen(app, 0, '127.0.0.1');
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => closeServer(server, 100) };
}

/** A POST whose body is sent in chunks without a Content-Length (chunked transfer encoding). */
function chunked(url: string, parts: Buffer[]): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    for (const p of parts) req.write(p);
    req.end();
  });
}

describe('rawBody', () => {
  it('reads the exact bytes, chunked or not, and answers JSON with its length', async () => {
    const s = await echo(1024);
    try {
      const res = await fetch(s.url, { method: 'POST', body: '{"signedPayload":"é"}' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await res.json()).toEqual({ length: 22, text: '{"signedPayload":"é"}' });
      const parts = [Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')];
      expect(await chunked(s.url, parts)).toEqual({ status: 200, json: { length: 6, text: 'abcdef' } });
      expect(await (await fetch(s.url, { method: 'POST' })).json()).toEqual({ length: 0, text: '' });
    } finally {
      await s.close();
    }
  });

  it('refuses a body over the limit as body-parser does (413, entity.too.large), declared or streamed', async () => {
    const s = await echo(8);
    try {
      const declared = await fetch(s.url, { method: 'POST', body: 'x'.repeat(9) });
      expect(declared.status).toBe(413);
      expect(await declared.json()).toEqual({ type: 'entity.too.large' });
      const streamed = await chunked(s.url, [Buffer.from('x'.repeat(5)), Buffer.from('x'.repeat(5))]);
      expect(streamed).toEqual({ status: 413, json: { type: 'entity.too.large' } });
      // Exactly the limit is fine.
      expect((await fetch(s.url, { method: 'POST', body: 'x'.repeat(8) })).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('leaves a compressed body to express.raw, which inflates it', async () => {
    const s = await echo(1024);
    try {
      const res = await fetch(s.url, {
        method: 'POST',
        body: gzipSync(Buffer.from('{"a":1}')),
        headers: { 'content-encoding': 'gzip' },
      });
      expect(await res.json()).toEqual({ length: 7, text: '{"a":1}' });
    } finally {
      await s.close();
    }
  });
});
