import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { socketTimeouts } from './timeouts.ts';

const IDLE_MS = 300;

describe('socketTimeouts: what the idle timeout (CONNECTION_TIMEOUT_MS) may cut', () => {
  let server: FastifyInstance | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(guarded: boolean): Promise<number> {
    server = Fastify({ connectionTimeout: IDLE_MS });
    if (guarded) await server.register(socketTimeouts);
    // Work that takes longer than the idle timeout, on a request already read whole.
    server.post('/slow', async () => {
      await sleep(IDLE_MS * 3);
      return { done: true };
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const address = server.server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    return address.port;
  }

  /** Sends `text` and waits for the connection to close: what came back, and after how long. */
  async function exchange(port: number, text: string): Promise<{ answer: string; ms: number }> {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    const started = Date.now();
    socket.write(text);
    await new Promise((resolve) => socket.on('close', resolve));
    return { answer: Buffer.concat(chunks).toString('latin1'), ms: Date.now() - started };
  }

  const SLOW_REQUEST =
    'POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}';

  it('lets the server work past it on a request it has read whole', async () => {
    const port = await start(true);
    const { answer } = await exchange(port, SLOW_REQUEST);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('{"done":true}');
  });

  it('(without the guard, Node would cut that request off)', async () => {
    const port = await start(false);
    const { answer } = await exchange(port, SLOW_REQUEST);
    expect(answer).toBe('');
  });

  it('closes a connection whose client stalls mid-body', async () => {
    const port = await start(true);
    const { answer, ms } = await exchange(
      port,
      'POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    );
    expect(answer).toBe('');
    expect(ms).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(ms).toBeLessThan(IDLE_MS * 3);
  });

  it('closes a connection that never sends a request', async () => {
    const port = await start(true);
    const { ms } = await exchange(port, 'GET /slow HTTP/1.1\r\nHost:');
    expect(ms).toBeLessThan(IDLE_MS * 3);
  });
});
