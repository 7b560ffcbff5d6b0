import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedWebhookUrl } from './ssrf.ts';

/** What a webhook's receiver answered, and how long it took to answer. */
export interface WebhookResponse {
  statusCode: number;
  durationMs: number;
}

/** The call got no answer: the connection failed, or no answer came within the timeout. */
export class WebhookCallFailed extends Error {
  readonly durationMs: number;
  readonly timedOut: boolean;
  constructor(message: string, options: { durationMs: number; timedOut: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'WebhookCallFailed';
    this.durationMs = options.durationMs;
    this.timedOut = options.timedOut;
  }
}

/**
 * POSTs a webhook to the addresses its URL was checked at (checkWebhookUrl), never resolving its name again:
 * the connection is pinned to them, while the Host header and the TLS server name (so the certificate
 * check) stay the URL's host. Redirects are not followed: a 3xx is an answer like any other. Resolves with
 * the status once the answer's headers arrive (its body is not read); rejects with WebhookCallFailed when
 * there is no answer within `timeoutMs`.
 */
export function postWebhook(
  target: CheckedWebhookUrl,
  request: { headers: Record<string, string>; body: string; timeoutMs: number },
): Promise<WebhookResponse> {
  const { url, addresses } = target;
  const client = url.protocol === 'https:' ? https : http;
  // Called only for a host name (a literal address is connected to as it is): answers the checked addresses.
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) {
      callback(null, addresses);
      return;
    }
    const [first] = addresses;
    if (!first) callback(new Error('no checked address'), '', 4);
    else callback(null, first.address, first.family);
  };
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve, reject) => {
    const call = client.request(
      url,
      {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
        // A connection of its own, closed after the answer: no pooled socket to another address.
        agent: false,
        lookup: pinned,
        signal: AbortSignal.timeout(request.timeoutMs),
      },
      (response) => {
        const durationMs = elapsed();
        response.destroy();
        resolve({ statusCode: response.statusCode ?? 0, durationMs });
      },
    );
    call.on('error', (error: NodeJS.ErrnoException) => {
      const durationMs = elapsed();
      const timedOut = error.name === 'AbortError' || error.name === 'TimeoutError';
      const message = timedOut
        ? `no answer within ${request.timeoutMs / 1000} s`
        : `could not reach the receiver: ${error.code ?? error.message}`;
      reject(new WebhookCallFailed(message, { durationMs, timedOut, cause: error }));
    });
    call.end(request.body);
  });
}
