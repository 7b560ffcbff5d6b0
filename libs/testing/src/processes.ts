import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerServiceName } from '@mediaflow/domain';
import { Redis } from 'ioredis';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface ServiceProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
}

/** Runs a service's main.ts as its own process, as a deployment would, with exactly this environment. */
export function spawnService(service: 'gateway' | WorkerServiceName, env: Record<string, string>): ServiceProcess {
  return spawnNode(path.join(ROOT, 'services', service, 'src', 'main.ts'), [], env);
}

/** Runs a TypeScript file with this Node as its own process, with exactly this environment, its output kept. */
export function spawnNode(file: string, args: string[], env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [file, ...args], {
    env: { PATH: path.dirname(process.execPath), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/** A TCP proxy a test can cut and restore: PostgreSQL "going down" for one service only. */
export interface CuttableProxy {
  port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<CuttableProxy> {
  let up = true;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (!up) return client.destroy();
    const upstream = connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    cut: () => {
      up = false;
      for (const socket of sockets) socket.destroy();
    },
    restore: () => {
      up = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A redis-server of the test's own on a spare port, which it may kill and start again (empty, like a restart without persistence). */
export interface PrivateRedis {
  url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
}

/**
 * With `cluster`, a one-node Redis Cluster holding every hash slot: it refuses multi-key commands across
 * slots (CROSSSLOT) exactly as a many-node cluster does.
 */
export async function startPrivateRedis(options: { cluster?: boolean } = {}): Promise<PrivateRedis> {
  const port = await sparePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'mediaflow-redis-'));
  let child: ChildProcess | undefined;
  const redis: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    start: async () => {
      const clusterArgs = options.cluster
        ? ['--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1', '--dir', dir]
        : [];
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...clusterArgs],
        { stdio: 'ignore' },
      );
      for (let i = 0; i < 100; i++) {
        if (await canConnect(port)) return options.cluster ? assignAllSlots(port) : undefined;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`redis-server did not start on port ${port}`);
    },
    kill: async () => {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child?.kill('SIGKILL');
      await exited;
    },
  };
  await redis.start();
  return redis;
}

async function assignAllSlots(port: number): Promise<void> {
  const node = new Redis(port, '127.0.0.1');
  try {
    await node.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; i < 100; i++) {
      if (String(await node.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the Redis Cluster on port ${port} did not come up`);
  } finally {
    node.disconnect();
  }
}

/** Where spare ports are drawn from when the kernel's ephemeral range cannot be read. */
const DEFAULT_EPHEMERAL_LOW = 32_768;
/**
 * Spare ports are drawn between this and the ephemeral range: wide, so that test files drawing at once
 * seldom draw the same one, and above the ports services are usually configured on.
 */
const SPARE_FLOOR = 10_000;

/**
 * A TCP port free on loopback right now, for a child process to listen on. It is drawn below the kernel's
 * ephemeral range: a port the kernel chose (listen on 0) and that was then freed for the child could be
 * handed to an outgoing connection as its source port before the child listened on it, and a benchmark
 * run's worker failed with EADDRINUSE so. Ports below the range are only ever taken by a listen.
 */
export async function sparePort(): Promise<number> {
  const low = await ephemeralLow();
  for (;;) {
    const port = SPARE_FLOOR + Math.floor(Math.random() * (low - SPARE_FLOOR));
    if (await isFree(port)) return port;
  }
}

/** The lowest port the kernel gives outgoing connections (Linux: /proc/sys/net/ipv4/ip_local_port_range). */
export async function ephemeralLow(): Promise<number> {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const low = Number(range.trim().split(/\s+/)[0]);
  // Too low a range leaves no room below it: then the default, as on most systems.
  return Number.isInteger(low) && low > 2 * SPARE_FLOOR ? low : DEFAULT_EPHEMERAL_LOW;
}

function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
