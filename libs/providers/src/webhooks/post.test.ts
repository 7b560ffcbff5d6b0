import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { postWebhook, WebhookCallFailed } from './post.ts';
import type { CheckedWebhookUrl } from './ssrf.ts';

// Every server here listens on a loopback address, and every call goes to one: nothing leaves the machine.

interface Received {
  host: string | undefined;
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function receiver(
  host: string,
  answer: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<{ port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      received.push({
        host: request.headers.host,
        method: request.method,
        url: request.url,
        headers: request.headers,
        body,
      });
      answer(request, response);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { port: (server.address() as AddressInfo).port, received };
}

/** A URL whose host is `hostname`, checked (as checkWebhookUrl would) at `address`. */
function target(url: string, address: string): CheckedWebhookUrl {
  const parsed = new URL(url);
  return { url: parsed, hostname: parsed.hostname, addresses: [{ address, family: 4 }] };
}

const request = {
  headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1' },
  body: '{"a":1}',
  timeoutMs: 2_000,
};

describe('postWebhook', () => {
  it('connects to the checked address, not to what the name resolves to now, with the name as Host', async () => {
    // localhost resolves to 127.0.0.1 (or ::1); the check pinned it to 127.0.0.2, where alone the receiver listens.
    const { port, received } = await receiver('127.0.0.2', (_request, response) => response.writeHead(204).end());
    const answer = await postWebhook(target(`http://localhost:${port}/in?x=1`, '127.0.0.2'), request);
    expect(answer).toEqual({ statusCode: 204, durationMs: expect.any(Number) });
    expect(received).toEqual([
      {
        host: `localhost:${port}`,
        method: 'POST',
        url: '/in?x=1',
        headers: expect.objectContaining({
          'content-type': 'application/json',
          'webhook-id': 'msg_1',
          'content-length': '7',
        }),
        body: '{"a":1}',
      },
    ]);
  });

  it('answers a redirect as it is, without following it', async () => {
    const elsewhere = await receiver('127.0.0.1', (_request, response) => response.writeHead(200).end());
    const { port, received } = await receiver('127.0.0.1', (_request, response) =>
      response.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/` }).end(),
    );
    const answer = await postWebhook(target(`http://127.0.0.1:${port}/`, '127.0.0.1'), request);
    expect(answer.statusCode).toBe(302);
    expect(received).toHaveLength(1);
    expect(elsewhere.received).toEqual([]);
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    const { port } = await receiver('127.0.0.1', () => {
      // Never answers.
    });
    const failure = await postWebhook(target(`http://127.0.0.1:${port}/`, '127.0.0.1'), {
      ...request,
      timeoutMs: 200,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WebhookCallFailed);
    expect(failure).toMatchObject({ timedOut: true, message: 'no answer within 0.2 s' });
    expect((failure as WebhookCallFailed).durationMs).toBeGreaterThanOrEqual(190);
  });

  it('reports a receiver that cannot be reached', async () => {
    const { port } = await receiver('127.0.0.1', () => {});
    const closed = servers.pop();
    await new Promise((resolve) => closed?.close(resolve));
    const failure = await postWebhook(target(`http://127.0.0.1:${port}/`, '127.0.0.1'), request).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ timedOut: false, message: 'could not reach the receiver: ECONNREFUSED' });
  });
});
