import { createServer, type Server } from 'node:http';
import { registry } from './metrics.ts';

const CHECK_TIMEOUT_MS = 2_000;

export type CheckState = 'ok' | 'down';
export interface Readiness {
  ready: boolean;
  checks: Record<string, CheckState>;
}

/** Runs each dependency check with a short deadline: ready when every one answered. */
export async function checkReadiness(checks: Record<string, () => Promise<unknown>>): Promise<Readiness> {
  const names = Object.keys(checks);
  const states = await Promise.all(names.map((name) => probe(checks[name] as () => Promise<unknown>)));
  return {
    ready: states.every((state) => state === 'ok'),
    checks: Object.fromEntries(names.map((name, i) => [name, states[i] as CheckState])),
  };
}

async function probe(check: () => Promise<unknown>): Promise<CheckState> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A worker's small HTTP side door for its orchestrator and Prometheus: GET /healthz (alive), /readyz
 * (its dependencies answer; 503 otherwise) and /metrics. Answers once it listens.
 */
export async function startOpsServer(options: {
  port: number;
  host: string;
  checks: Record<string, () => Promise<unknown>>;
}): Promise<Server> {
  const server = createServer((request, response) => {
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type }).end(body);
    };
    const path = request.url?.split('?')[0];
    if (request.method !== 'GET') return send(405, 'application/json', error('method_not_allowed', 'Use GET.'));
    if (path === '/healthz') return send(200, 'application/json', JSON.stringify({ status: 'ok' }));
    if (path === '/readyz') {
      return void checkReadiness(options.checks).then(({ ready, checks }) =>
        send(
          ready ? 200 : 503,
          'application/json',
          JSON.stringify({ status: ready ? 'ready' : 'unavailable', checks }),
        ),
      );
    }
    if (path === '/metrics') {
      return void registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        (failure: Error) => send(500, 'application/json', error('metrics_failed', failure.message)),
      );
    }
    send(404, 'application/json', error('not_found', 'This port serves /healthz, /readyz and /metrics.'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return server;
}

function error(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}
