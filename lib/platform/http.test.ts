import express from 'express';
import { closeServer, listen } from './http';

describe('listen', () => {
  it('answers an unknown route with a JSON 404 and leaves known routes alone', async () => {
    const app = express();
    app.get('/known', (_req, res) => void res.json({ ok: true }));
    const server = await listen(app, 0, '127.0.0.1');
    try {
      const { port } = server.address() as { port: number };
      const missing = await fetch(`http://127.0.0.1:${port}/v1/nope?x=1`, { method: 'POST' });
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await missing.json()).toEqual({ error: 'not found', method: 'POST', path: '/v1/nope' });
      expect(await (await fetch(`http://127.0.0.1:${port}/known`)).json()).toEqual({ ok: true });
    } finally {
      await closeServer(server, 100);
    }
  });
});
