import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENV_VARIABLES, loadConfig } from '@mediaflow/config';
import { QUEUE_NAMES, SERVICE_QUEUES, type WorkerServiceName } from '@mediaflow/domain';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { DEPLOYED_NODE_FLAGS } from '../scripts/src/bench/processes.ts';

// The deployment files (Dockerfile, docker-compose.yml, infra/k8s) against the code they run: config
// variable names, entry points, ports and probe paths, and the queues KEDA watches.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const K8S_DIR = path.join(ROOT, 'infra/k8s');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

const SERVICES = readdirSync(path.join(ROOT, 'services'));
const WORKER_QUEUES: Record<string, string> = SERVICE_QUEUES;
const WORKERS = Object.keys(SERVICE_QUEUES);
const GATEWAY = 'gateway';
const MIGRATE = 'scripts/src/migrate.ts';
// Credentials belong in the Secret, never in the ConfigMap or a manifest's literal env.
const SECRET_VARIABLES = [
  'JWT_SECRET',
  'EVENTS_TOKEN_SECRET',
  'DATABASE_URL',
  'REDIS_URL',
  'GEMINI_API_KEY',
  'CLOUDINARY_URL',
  'IMAGEKIT_PRIVATE_KEY',
];

type Labels = Record<string, string>;
interface Probe {
  httpGet: { path: string; port: number | string };
}
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
}
interface PodTemplate {
  metadata: { labels: Labels; annotations?: Labels };
  spec: { containers: Container[] };
}
interface Manifest {
  kind: string;
  metadata: { name: string };
}
interface Workload extends Manifest {
  spec: { template: PodTemplate };
}
interface KeyValues extends Manifest {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
interface Service extends Manifest {
  spec: { selector: Labels; ports: { port: number; targetPort: number | string }[] };
}
interface ScaledObject extends Manifest {
  spec: {
    scaleTargetRef: { name: string; kind?: string };
    minReplicaCount?: number;
    triggers: { type: string; metadata: Labels; authenticationRef?: { name: string } }[];
  };
}
interface Autoscaler extends Manifest {
  spec: { scaleTargetRef: { kind: string; name: string } };
}
interface DisruptionBudget extends Manifest {
  spec: { selector: { matchLabels: Labels } };
}
interface ComposeService {
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  ports?: unknown;
  container_name?: string;
  hostname?: string;
  healthcheck?: { test: string[] };
}

const manifestFiles = readdirSync(K8S_DIR).filter((file) => file.endsWith('.yaml'));
const manifests: Manifest[] = manifestFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(path.join(K8S_DIR, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.join('; ')}`);
    return doc.toJS() as Manifest;
  }),
);
const ofKind = <T extends Manifest>(kind: string) => manifests.filter((m) => m.kind === kind) as T[];
const named = <T extends Manifest>(kind: string, name: string) => {
  const found = ofKind<T>(kind).find((m) => m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in infra/k8s`);
  return found;
};
const deployments = ofKind<Workload>('Deployment');
const jobs = ofKind<Workload>('Job');
const configMaps = ofKind<KeyValues>('ConfigMap');
const scaledObjects = ofKind<ScaledObject>('ScaledObject');

// YAML merge keys (<<) are how the compose file shares its settings between services.
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };
// Our own image's services; postgres and redis are third-party images with their own variables.
const ownServices = Object.entries(compose.services).filter(([, service]) => service.build !== undefined);

const dockerfile = read('Dockerfile');
const defaultCommand = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];

const keysOf = (m: KeyValues) => Object.keys({ ...m.data, ...m.stringData });
const containersOf = (workload: Workload) => workload.spec.template.spec.containers;
const entryPoint = (command: string[]) => command.find((arg) => arg.endsWith('.ts'));
const k8sCommand = (container: Container) =>
  container.command || container.args ? [...(container.command ?? []), ...(container.args ?? [])] : defaultCommand;

/** What a container's environment says, for the variables that move ports (PORT, METRICS_PORT). */
function k8sEnvironment(container: Container): Record<string, string | undefined> {
  const fromConfigMaps = (container.envFrom ?? [])
    .flatMap((source) => (source.configMapRef ? [named<KeyValues>('ConfigMap', source.configMapRef.name)] : []))
    .map((configMap) => configMap.data ?? {});
  const literal = Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value]));
  return Object.assign({}, ...fromConfigMaps, literal);
}

/** The port and metrics port a service listens on, as the code reads them from its environment. */
function listens(env: Record<string, string | undefined>) {
  const config = loadConfig({ PORT: env.PORT, METRICS_PORT: env.METRICS_PORT });
  return { port: config.port, metricsPort: config.metricsPort };
}

function portNumber(container: Container, port: number | string): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
}

const matches = (selector: Labels, labels: Labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('environment variables', () => {
  // Read by the C library, not the app: MALLOC_ARENA_MAX (the Dockerfile says why).
  const known = new Set<string>([...ENV_VARIABLES, 'MALLOC_ARENA_MAX']);

  it('every variable docker-compose.yml and the Dockerfile set is a config variable', () => {
    const set = [
      ...ownServices.flatMap(([name, service]) =>
        Object.keys(service.environment ?? {}).map((variable) => ({ where: `compose ${name}`, variable })),
      ),
      ...[...dockerfile.matchAll(/^ENV (.+)$/gm)].flatMap((line) =>
        (line[1] ?? '').split(/\s+/).map((pair) => ({ where: 'Dockerfile', variable: pair.split('=')[0] ?? '' })),
      ),
    ];
    expect(set.length).toBeGreaterThan(0);
    expect(set.filter(({ variable }) => !known.has(variable))).toEqual([]);
  });

  it('every variable a Kubernetes container gets (env, ConfigMap, Secret) is a config variable', () => {
    const set = [...deployments, ...jobs].flatMap((workload) =>
      containersOf(workload).flatMap((container) => [
        ...(container.env ?? []).map((variable) => variable.name),
        ...(container.envFrom ?? []).flatMap((source) => {
          if (source.configMapRef) return keysOf(named<KeyValues>('ConfigMap', source.configMapRef.name));
          if (source.secretRef) return keysOf(named<KeyValues>('Secret', source.secretRef.name));
          return [];
        }),
      ]),
    );
    expect(set.length).toBeGreaterThan(0);
    expect(set.filter((variable) => !known.has(variable))).toEqual([]);
  });

  it('credentials come from the Secret, not from the ConfigMap or literal env', () => {
    const secret = named<KeyValues>('Secret', 'mediaflow-secrets');
    expect(keysOf(secret)).toEqual(expect.arrayContaining(SECRET_VARIABLES));
    const inTheOpen = [
      ...configMaps.flatMap(keysOf),
      ...[...deployments, ...jobs].flatMap(containersOf).flatMap((c) => (c.env ?? []).map((v) => v.name)),
    ];
    expect(inTheOpen.filter((variable) => SECRET_VARIABLES.includes(variable))).toEqual([]);
    for (const workload of [...deployments, ...jobs]) {
      for (const container of containersOf(workload)) {
        expect(container.envFrom, workload.metadata.name).toContainEqual({ secretRef: { name: 'mediaflow-secrets' } });
      }
    }
  });
});

describe('entry points', () => {
  it('the Dockerfile runs the gateway by default', () => {
    expect(entryPoint(defaultCommand)).toBe(`services/${GATEWAY}/src/main.ts`);
  });

  it('every service has a compose service and a Deployment that run its main.ts', () => {
    expect(SERVICES.toSorted()).toEqual([GATEWAY, ...WORKERS].toSorted());
    for (const name of SERVICES) {
      const service = compose.services[name];
      expect(service, `compose service ${name}`).toBeDefined();
      expect(entryPoint(service?.command ?? defaultCommand), `compose ${name}`).toBe(`services/${name}/src/main.ts`);
      const [container] = containersOf(named<Workload>('Deployment', name));
      expect(container && entryPoint(k8sCommand(container)), `Deployment ${name}`).toBe(`services/${name}/src/main.ts`);
    }
  });

  it('migrations run as a compose service and a Kubernetes Job', () => {
    expect(entryPoint(compose.services.migrate?.command ?? [])).toBe(MIGRATE);
    expect(jobs.flatMap(containersOf).map((container) => entryPoint(k8sCommand(container)))).toEqual([MIGRATE]);
  });

  it('starts each worker with the same Node flags in compose and Kubernetes, and the benchmark with them too', () => {
    const flags = (command: string[]) =>
      command
        .slice(
          1,
          command.findIndex((arg) => arg.endsWith('.ts')),
        )
        .join(' ');
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const [container] = containersOf(deployment);
      if (!container || name === GATEWAY) continue;
      const k8s = flags(k8sCommand(container));
      expect(flags(compose.services[name]?.command ?? defaultCommand), `compose ${name}`).toBe(k8s);
      expect(DEPLOYED_NODE_FLAGS[name as WorkerServiceName] ?? '', `benchmark ${name}`).toBe(k8s);
    }
    expect(DEPLOYED_NODE_FLAGS.generator).toBe('--max-semi-space-size=4');
  });

  it('every command points at a file that exists', () => {
    const commands = [
      defaultCommand,
      ...ownServices.map(([, service]) => service.command ?? defaultCommand),
      ...[...deployments, ...jobs].flatMap(containersOf).map(k8sCommand),
    ];
    for (const command of commands) {
      const file = entryPoint(command);
      expect(file && existsSync(path.join(ROOT, file)), command.join(' ')).toBe(true);
    }
  });
});

describe('ports and probes', () => {
  const expectedPort = (name: string, env: Record<string, string | undefined>) =>
    name === GATEWAY ? listens(env).port : listens(env).metricsPort;

  it('Deployments probe /healthz and /readyz, and Prometheus scrapes /metrics, on the port the service serves them', () => {
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const [container] = containersOf(deployment);
      if (!container) throw new Error(`Deployment ${name} has no container`);
      const port = expectedPort(name, k8sEnvironment(container));
      const { livenessProbe, readinessProbe } = container;
      expect(livenessProbe?.httpGet.path, name).toBe('/healthz');
      expect(readinessProbe?.httpGet.path, name).toBe('/readyz');
      expect(livenessProbe && portNumber(container, livenessProbe.httpGet.port), name).toBe(port);
      expect(readinessProbe && portNumber(container, readinessProbe.httpGet.port), name).toBe(port);
      expect(deployment.spec.template.metadata.annotations, name).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(port),
        'prometheus.io/path': '/metrics',
      });
    }
  });

  it("compose health checks ask /readyz on the service's port", () => {
    for (const name of SERVICES) {
      const service = compose.services[name];
      const url = /http:\/\/127\.0\.0\.1:(\d+)(\/[a-z]+)/.exec(service?.healthcheck?.test.join(' ') ?? '');
      const port = expectedPort(name, service?.environment ?? {});
      expect(url?.slice(1), name).toEqual([String(port), '/readyz']);
    }
  });

  it("the gateway's Service sends port 80 to the gateway's port", () => {
    const service = named<Service>('Service', GATEWAY);
    const gateway = named<Workload>('Deployment', GATEWAY);
    const [container] = containersOf(gateway);
    if (!container) throw new Error('the gateway Deployment has no container');
    expect(matches(service.spec.selector, gateway.spec.template.metadata.labels)).toBe(true);
    const [port] = service.spec.ports;
    expect(port?.port).toBe(80);
    expect(port && portNumber(container, port.targetPort)).toBe(listens(k8sEnvironment(container)).port);
  });
});

describe('scaling', () => {
  it('worker compose services have no fixed port, name or hostname, so --scale works', () => {
    for (const name of WORKERS) {
      const service = compose.services[name];
      expect(service, name).toBeDefined();
      expect(service?.ports, name).toBeUndefined();
      expect(service?.container_name, name).toBeUndefined();
      expect(service?.hostname, name).toBeUndefined();
    }
  });

  it("each worker has a ScaledObject on its queue's BullMQ wait list", () => {
    const prefix = loadConfig({
      QUEUE_PREFIX: named<KeyValues>('ConfigMap', 'mediaflow-config').data?.QUEUE_PREFIX,
    }).queuePrefix;
    expect([...new Set(Object.values(WORKER_QUEUES))].toSorted()).toEqual([...QUEUE_NAMES].toSorted());
    expect(scaledObjects.map((s) => s.spec.scaleTargetRef.name).toSorted()).toEqual(WORKERS.toSorted());
    for (const scaledObject of scaledObjects) {
      const target = scaledObject.spec.scaleTargetRef;
      const queue = WORKER_QUEUES[target.name];
      expect(target.kind ?? 'Deployment').toBe('Deployment');
      named<Workload>('Deployment', target.name);
      expect(scaledObject.spec.minReplicaCount ?? 0, target.name).toBeGreaterThanOrEqual(1);
      for (const trigger of scaledObject.spec.triggers) {
        expect(trigger.type, target.name).toBe('redis');
        expect(trigger.metadata.listName, target.name).toBe(`${prefix}:${queue}:wait`);
        if (trigger.authenticationRef) named('TriggerAuthentication', trigger.authenticationRef.name);
      }
    }
  });

  it('the HorizontalPodAutoscaler scales the gateway; each PodDisruptionBudget covers one Deployment', () => {
    const autoscalers = ofKind<Autoscaler>('HorizontalPodAutoscaler');
    expect(autoscalers.map((hpa) => hpa.spec.scaleTargetRef)).toEqual([
      { apiVersion: 'apps/v1', kind: 'Deployment', name: GATEWAY },
    ]);
    const budgets = ofKind<DisruptionBudget>('PodDisruptionBudget');
    expect(budgets.length).toBeGreaterThan(0);
    for (const budget of budgets) {
      const { matchLabels } = budget.spec.selector;
      const covered = deployments.filter((d) => matches(matchLabels, d.spec.template.metadata.labels));
      expect(covered.length, budget.metadata.name).toBe(1);
    }
  });
});

describe('files', () => {
  it('kustomization.yaml lists every manifest except the example Secret', () => {
    const kustomization = parse(readFileSync(path.join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    const expected = manifestFiles.filter((file) => file !== 'kustomization.yaml' && file !== 'secret.example.yaml');
    expect(kustomization.resources.toSorted()).toEqual(expected.toSorted());
  });

  it('the Dockerfile installs without dev dependencies, runs as a non-root user and copies every workspace manifest', () => {
    expect(dockerfile).toMatch(/npm ci [^\n]*--omit=dev/);
    const users = [...dockerfile.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    const { workspaces } = JSON.parse(read('package.json')) as { workspaces: string[] };
    for (const workspace of workspaces) expect(dockerfile).toContain(`${workspace}/package.json`);
  });
});
