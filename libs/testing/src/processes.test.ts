import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralLow, sparePort } from './processes.ts';

describe('sparePort', () => {
  it('gives a port below the ephemeral range that a server can listen on', async () => {
    const low = await ephemeralLow();
    const port = await sparePort();
    expect(port).toBeLessThan(low);
    expect(port).toBeGreaterThanOrEqual(10_000);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});
