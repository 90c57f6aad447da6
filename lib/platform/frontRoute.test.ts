import express from 'express';
import { frontRoutes } from './frontRoute';
import { closeServer, listen } from './http';
import { sendJson } from './rawBody';

describe('frontRoutes', () => {
  it('serves its routes before express (query string ignored) and leaves every other request to express', async () => {
    const app = express();
    app.post('/fast', (_req, res) => void res.json({ by: 'express' }));
    app.get('/other', (_req, res) => void res.json({ by: 'express' }));
    frontRoutes(app, { 'POST /fast': (_req, res) => sendJson(res, 200, { by: 'front' }) });
    const server = await listen(app, 0, '127.0.0.1');
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const by = async (path: string, method = 'GET') => {
        const res = await fetch(url + path, { method });
        return [res.status, ((await res.json()) as { by?: string; error?: string }).by ?? 'none'];
      };
      expect(await by('/fast', 'POST')).toEqual([200, 'front']);
      expect(await by('/fast?x=1', 'POST')).toEqual([200, 'front']);
      expect(await by('/other')).toEqual([200, 'express']);
      expect(await by('/fast')).toEqual([404, 'none']); // GET: not a front route, and express has none
    } finally {
      await closeServer(server, 100);
    }
  });
});
