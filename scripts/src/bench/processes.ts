import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { QueueName, WorkerServiceName } from '@mediaflow/domain';
import { QueueRepository, type Redis } from '@mediaflow/queue';
import { type ServiceProcess, sparePort, spawnNode, spawnService } from '@mediaflow/testing';
import type { BaselineMode } from './baseline-server.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

/** One of this folder's bare baseline programs as its own process, spawned as spawnService spawns a service. */
function spawnScript(
  file: 'baseline-server.ts' | 'noop-worker.ts',
  args: string[],
  env: Record<string, string>,
): ServiceProcess {
  return spawnNode(path.join(HERE, file), args, env);
}

export interface HttpServer {
  url: string;
  process: ServiceProcess;
}

/** The gateway as its own process on a spare loopback port, once it answers /readyz. */
export async function startGateway(env: Record<string, string>): Promise<HttpServer> {
  const port = await sparePort();
  const url = `http://127.0.0.1:${port}`;
  const gateway = spawnService('gateway', { ...env, PORT: String(port), PUBLIC_URL: url });
  await untilReady(gateway, 'gateway', async () => (await fetch(`${url}/readyz`)).ok);
  return { url, process: gateway };
}

/** A bare Fastify baseline as its own process, once it listens. */
export async function startBaselineServer(mode: BaselineMode, env: Record<string, string>): Promise<HttpServer> {
  const port = await sparePort();
  const url = `http://127.0.0.1:${port}`;
  const server = spawnScript('baseline-server.ts', [mode], { ...env, PORT: String(port) });
  // Any answer will do: fetch only fails while nothing listens.
  await untilReady(server, `${mode} baseline`, async () => Boolean(await fetch(url)));
  return { url, process: server };
}

/** The Node flags a worker service is deployed with (its command in infra/k8s and docker-compose.yml). */
export const DEPLOYED_NODE_FLAGS: Partial<Record<WorkerServiceName, string>> = {
  generator: '--max-semi-space-size=4',
};

/**
 * The product's worker services, `perQueue` processes each, every one serving its metrics on a port of its
 * own and started with the Node flags it is deployed with.
 */
export async function spawnServiceWorkers(
  services: WorkerServiceName[],
  perQueue: number,
  env: Record<string, string>,
): Promise<Array<ServiceProcess & { metricsUrl: string }>> {
  const started: Array<ServiceProcess & { metricsUrl: string }> = [];
  for (const service of services) {
    const flags = DEPLOYED_NODE_FLAGS[service];
    for (let i = 0; i < perQueue; i++) {
      const port = await sparePort();
      const worker = spawnService(service, {
        ...env,
        METRICS_PORT: String(port),
        ...(flags ? { NODE_OPTIONS: flags } : {}),
      });
      started.push(Object.assign(worker, { metricsUrl: `http://127.0.0.1:${port}/metrics` }));
    }
  }
  return started;
}

/** The mean of a histogram of a worker's /metrics, over the series whose labels include `labels`. */
export async function meanOf(metricsUrl: string, histogram: string, labels: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const total = (suffix: 'sum' | 'count') =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${histogram}_${suffix}{`) && line.includes(labels))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return total('sum') / total('count');
}

/** Bare BullMQ workers that do nothing with their jobs, `perQueue` processes for each queue. */
export function spawnNoopWorkers(queues: QueueName[], perQueue: number, env: Record<string, string>): ServiceProcess[] {
  return queues.flatMap((queue) => Array.from({ length: perQueue }, () => spawnScript('noop-worker.ts', [queue], env)));
}

/** Waits until BullMQ lists `perQueue` workers on each queue: start-up is not part of what is timed. */
export async function untilWorkersReady(
  workers: ServiceProcess[],
  queues: QueueName[],
  perQueue: number,
  redis: Redis,
  prefix: string,
): Promise<void> {
  const repository = new QueueRepository({ connection: redis, prefix, retry: { attempts: 1, backoffMs: 1 } });
  try {
    await untilReady(workers, `${queues.join(', ')} workers`, async () => {
      const counts = await Promise.all(queues.map((queue) => repository.workerCount(queue)));
      return counts.every((count) => count >= perQueue);
    });
  } finally {
    await repository.close();
  }
}

/** SIGTERM, as a deployment stops a process, and wait for it to exit; SIGKILL if it will not. */
export async function stop(processes: ServiceProcess | ServiceProcess[]): Promise<void> {
  await Promise.all(
    [processes].flat().map(async (service) => {
      if (service.child.exitCode !== null || service.child.signalCode !== null) return;
      service.child.kill('SIGTERM');
      // Unreferenced: the deadline must not keep this process alive once the child has exited.
      const deadline = sleep(STOP_TIMEOUT_MS, false, { ref: false });
      const stopped = await Promise.race([service.exited.then(() => true), deadline]);
      if (!stopped) service.child.kill('SIGKILL');
    }),
  );
}

async function untilReady(
  processes: ServiceProcess | ServiceProcess[],
  what: string,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const dead = [processes].flat().find((service) => service.child.exitCode !== null);
    if (dead) throw new Error(`${what} exited during start-up:\n${dead.output()}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${READY_TIMEOUT_MS} ms`);
    await sleep(100);
  }
}

/** A /proc/<pid>/status memory line of a process, in MB: VmRSS now, or VmHWM, its peak so far. */
export async function processMemoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  if (kb === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(kb) / 1024;
}
