import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The one typed view of the environment. Every service builds it once at start with
 * `loadConfigOrExit()`; nothing else in the project reads `process.env`.
 * The variable names are a contract with deployments: see the table in docs/configuration.md.
 */
export interface Config {
  nodeEnv: 'development' | 'production' | 'test';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  port: number;
  host: string;
  /**
   * Fastify's `trustProxy` (TRUST_PROXY): which proxies in front may say, in X-Forwarded-*, what the
   * client's address and protocol were. false trusts none; a list trusts those addresses/CIDRs; true trusts
   * every hop and a number that many hops nearest the gateway, whoever connects directly (so only when
   * nothing but the proxies can reach the gateway).
   */
  trustProxy: boolean | number | string[];
  /** Longest a client may take to send a whole request, headers and body (REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** Longest a socket may sit with nothing sent either way while the client owes data (CONNECTION_TIMEOUT_MS). */
  connectionTimeoutMs: number;
  /** Workers serve /metrics, /healthz and /readyz here (the gateway serves them on `port`); 0 picks a free port. */
  metricsPort: number;
  /** OTLP/HTTP endpoint for traces; tracing is off (and costs nothing) when unset. */
  otlpEndpoint: string | undefined;
  /** service.name on traces; each service defaults to its own name. */
  otelServiceName: string | undefined;
  /** Base of the URLs the local disk store hands out (the gateway serves them under /media/). */
  publicUrl: string;
  /**
   * Origins whose browser pages may call the API (CORS_ORIGINS): each exactly as a browser sends it in
   * `Origin` (scheme, host, port). Empty in production unless set; otherwise the web app's dev server
   * (http://localhost:5173) and the gateway's own origin.
   */
  corsOrigins: string[];
  databaseUrl: string;
  redisUrl: string;
  /** REDIS_URL is one node of a Redis Cluster. */
  redisCluster: boolean;
  queuePrefix: string;
  jwt: {
    /** HS256 secret; undefined when only JWKS (RS256) tokens are accepted. */
    secret: string | undefined;
    isDevelopmentDefault: boolean;
    /** RS256 keys come from here when set (JWT_JWKS_URL). */
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    /**
     * Claims that grant the admin role when their value is "admin" or a list containing it
     * (JWT_ADMIN_CLAIM). A name is looked up as a top-level claim first; if the token has none by that
     * name, its dots walk into nested objects (`realm_access.roles`, as Keycloak puts it).
     */
    adminClaims: string[];
  };
  /**
   * Signs the short-lived tokens in a 202 answer's `eventsUrl` (EVENTS_TOKEN_SECRET): by default
   * JWT_SECRET (or, in development, its built-in stand-in); required in production when only a JWKS is set.
   */
  eventsTokenSecret: string;
  /** Requests per user per minute, by class; kept in Redis so they hold across gateway replicas. */
  rateLimits: { generate: number; write: number; read: number };
  /** Generations one user may have queued or running at once. */
  maxGenerationsInFlight: number;
  /** Gemini calls per minute across every generator process (BullMQ's queue limiter); unset: no cap. */
  geminiMaxRpm: number | undefined;
  /** Absent when GEMINI_API_KEY is unset: the local generator stands in. */
  gemini: { apiKey: string; model: string; baseUrl: string | undefined; timeoutMs: number } | undefined;
  /** Absent when CLOUDINARY_URL is unset. */
  cloudinary: CloudinaryConfig | undefined;
  /** Absent when the ImageKit variables are unset. */
  imagekit: { privateKey: string; urlEndpoint: string; baseUrl: string | undefined } | undefined;
  uploadTimeoutMs: number;
  mediaDir: string;
  /** The gateway serves the web app (apps/web) at /app/ (SERVE_WEB_APP; on by default in development). */
  serveWebApp: boolean;
  /** The built web app's folder (WEB_APP_DIR; apps/web/dist by default). */
  webAppDir: string;
  tempAssetTtlMs: number;
  /** How often the reconciler looks for accepted jobs that Redis lost (run by the storage worker). */
  reconcileIntervalMs: number;
  /** How often expired temporary assets are deleted from their store (run by the storage worker). */
  cleanupIntervalMs: number;
  maxImageBytes: number;
  /** Images larger than this many pixels are refused (decompression bombs). */
  maxImagePixels: number;
  maxVideoBytes: number;
  /** Largest multipart request (MAX_SUBMISSION_BYTES): 413 from its Content-Length, or as soon as its body passes it. */
  maxSubmissionBytes: number;
  /** Uploads (multipart submissions and tus transfers) one user may have in flight at once, across replicas. */
  maxUploadsInFlight: number;
  /** Where request files and resumable uploads wait on local disk (SPOOL_DIR). */
  spoolDir: string;
  /** Most bytes the spool may hold (SPOOL_MAX_BYTES): a new upload that would pass it is 503. */
  spoolMaxBytes: number;
  /** A resumable upload not used by a submission within this is deleted (UPLOAD_TTL). */
  uploadTtlMs: number;
  /** Tries per job, the first retry's delay, and how long a worker's hold on a job lasts without renewal
   *  (a worker that dies mid-job loses it after this and another worker runs the job again). */
  jobs: {
    attempts: number;
    backoffMs: number;
    lockMs: number;
    /** A webhook delivery's first retry delay (WEBHOOK_BACKOFF_MS); it doubles up to 4 h, 15 tries in all. */
    webhookBackoffMs: number;
  };
  generatorConcurrency: number;
  storageConcurrency: number;
  persistenceConcurrency: number;
  notifierConcurrency: number;
  webhooks: {
    /**
     * WEBHOOK_ALLOW_PRIVATE: webhook URLs may be http: and point at loopback addresses (development and
     * tests only; refused when NODE_ENV=production). Otherwise only https: URLs whose every address is public.
     */
    allowPrivate: boolean;
  };
}

export interface CloudinaryConfig {
  cloudName: string;
  apiKey: string;
  apiSecret: string;
  /** From the `upload_prefix` query parameter: another API base, e.g. a local fake. */
  uploadPrefix: string | undefined;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

/**
 * Every variable the services read, and nothing else: `loadConfig` can read only these names, and the
 * deployment files (docker-compose.yml, infra/k8s) are checked against this list by a test.
 */
export const ENV_VARIABLES = [
  'NODE_ENV',
  'LOG_LEVEL',
  'PORT',
  'HOST',
  'TRUST_PROXY',
  'REQUEST_TIMEOUT_MS',
  'CONNECTION_TIMEOUT_MS',
  'METRICS_PORT',
  'PUBLIC_URL',
  'CORS_ORIGINS',
  'DATABASE_URL',
  'REDIS_URL',
  'REDIS_CLUSTER',
  'QUEUE_PREFIX',
  'JWT_SECRET',
  'JWT_JWKS_URL',
  'JWT_ISSUER',
  'JWT_AUDIENCE',
  'JWT_ADMIN_CLAIM',
  'EVENTS_TOKEN_SECRET',
  'RATE_LIMIT_GENERATE',
  'RATE_LIMIT_WRITE',
  'RATE_LIMIT_READ',
  'MAX_GENERATIONS_IN_FLIGHT',
  'GEMINI_API_KEY',
  'GEMINI_MODEL',
  'GEMINI_BASE_URL',
  'GEMINI_TIMEOUT_MS',
  'GEMINI_MAX_RPM',
  'CLOUDINARY_URL',
  'IMAGEKIT_PRIVATE_KEY',
  'IMAGEKIT_URL_ENDPOINT',
  'IMAGEKIT_BASE_URL',
  'UPLOAD_TIMEOUT_MS',
  'MEDIA_DIR',
  'SERVE_WEB_APP',
  'WEB_APP_DIR',
  'TEMP_ASSET_TTL',
  'RECONCILE_INTERVAL',
  'CLEANUP_INTERVAL',
  'MAX_IMAGE_BYTES',
  'MAX_IMAGE_PIXELS',
  'MAX_VIDEO_BYTES',
  'MAX_SUBMISSION_BYTES',
  'MAX_UPLOADS_IN_FLIGHT',
  'SPOOL_DIR',
  'SPOOL_MAX_BYTES',
  'UPLOAD_TTL',
  'JOB_ATTEMPTS',
  'JOB_BACKOFF_MS',
  'JOB_LOCK_MS',
  'GENERATOR_CONCURRENCY',
  'STORAGE_CONCURRENCY',
  'PERSISTENCE_CONCURRENCY',
  'NOTIFIER_CONCURRENCY',
  'WEBHOOK_ALLOW_PRIVATE',
  'WEBHOOK_BACKOFF_MS',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_SERVICE_NAME',
] as const;
export type EnvVariable = (typeof ENV_VARIABLES)[number];

// Known only so that development works with no setup; production refuses it.
const DEVELOPMENT_JWT_SECRET = 'mediaflow-development-secret-do-not-use-in-production';
const MIN_PRODUCTION_SECRET_LENGTH = 32;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const NODE_ENVS = ['development', 'production', 'test'] as const;
/** Where `vite` serves the web app (apps/web) in development. */
const WEB_APP_DEV_ORIGIN = 'http://localhost:5173';
/** apps/web/dist in this repository, wherever the process runs from. */
const DEFAULT_WEB_APP_DIR = fileURLToPath(new URL('../../../apps/web/dist', import.meta.url));

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = (name: EnvVariable): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  const oneOf = <T extends string>(name: EnvVariable, allowed: readonly T[], fallback: T): T => {
    const value = read(name) ?? fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    problems.push(`${name} must be one of ${allowed.join(', ')} (got "${value}")`);
    return fallback;
  };
  const int = (name: EnvVariable, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (Number.isInteger(value) && value >= min && value <= max) return value;
    problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
    return fallback;
  };
  const url = (
    name: EnvVariable,
    fallback: string | undefined,
    protocols: string[],
    when?: string,
  ): string | undefined => {
    const raw = read(name) ?? fallback;
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (protocols.includes(parsed.protocol)) return raw;
    } catch {
      // reported below, with the variable's name
    }
    problems.push(
      `${name} must be a ${protocols.join(' or ')}// URL${when ? ` when ${when}` : ''} (got "${redact(raw)}")`,
    );
    return fallback;
  };

  const nodeEnv = oneOf('NODE_ENV', NODE_ENVS, 'development');
  const port = int('PORT', 3000, 1, 65535);

  const jwtSecret = read('JWT_SECRET');
  const production = nodeEnv === 'production';
  // Keys fetched over plain http could be swapped on the way: production takes them over https only.
  const jwksUrl = production
    ? url('JWT_JWKS_URL', undefined, ['https:'], 'NODE_ENV=production')
    : url('JWT_JWKS_URL', undefined, ['http:', 'https:']);
  const jwtIssuer = read('JWT_ISSUER');
  const jwtAudience = read('JWT_AUDIENCE');
  if (production) {
    if (jwtSecret !== undefined && jwtSecret.length < MIN_PRODUCTION_SECRET_LENGTH) {
      problems.push(`JWT_SECRET must be at least ${MIN_PRODUCTION_SECRET_LENGTH} characters when NODE_ENV=production`);
    } else if (jwtSecret === undefined && read('JWT_JWKS_URL') === undefined) {
      problems.push(
        `JWT_SECRET must be set to at least ${MIN_PRODUCTION_SECRET_LENGTH} characters (or JWT_JWKS_URL for RS256) when NODE_ENV=production`,
      );
    }
    // A secret or an identity provider is often shared between applications: without these, a token
    // minted for another of them (or by another tenant of the provider) would be accepted here.
    if (jwtIssuer === undefined) {
      problems.push('JWT_ISSUER must be set when NODE_ENV=production: it is the "iss" every token must carry');
    }
    if (jwtAudience === undefined) {
      problems.push(
        'JWT_AUDIENCE must be set when NODE_ENV=production: it is the "aud" every token must carry, so that tokens for other applications are refused',
      );
    }
  }
  // Development with no identity set up at all gets a known secret; JWKS alone means RS256 only.
  const useDevelopmentSecret = jwtSecret === undefined && jwksUrl === undefined && nodeEnv !== 'production';
  // The events tokens are signed here, whoever issues the bearer tokens: with JWKS alone there is no
  // secret to borrow, and production must not fall back to a known one.
  const eventsTokenSecret = read('EVENTS_TOKEN_SECRET') ?? jwtSecret;
  if (production && jwksUrl !== undefined && eventsTokenSecret === undefined) {
    problems.push(
      `EVENTS_TOKEN_SECRET must be set to at least ${MIN_PRODUCTION_SECRET_LENGTH} characters when NODE_ENV=production and only JWT_JWKS_URL is set`,
    );
  } else if (
    production &&
    read('EVENTS_TOKEN_SECRET') !== undefined &&
    (eventsTokenSecret?.length ?? 0) < MIN_PRODUCTION_SECRET_LENGTH
  ) {
    problems.push(
      `EVENTS_TOKEN_SECRET must be at least ${MIN_PRODUCTION_SECRET_LENGTH} characters when NODE_ENV=production`,
    );
  }

  const geminiKey = read('GEMINI_API_KEY');
  const cloudStore = read('CLOUDINARY_URL') !== undefined || read('IMAGEKIT_PRIVATE_KEY') !== undefined;
  const geminiBaseUrl = url('GEMINI_BASE_URL', undefined, ['http:', 'https:']);
  const geminiTimeoutMs = int('GEMINI_TIMEOUT_MS', 120_000, 1_000, 600_000);

  const imagekitKey = read('IMAGEKIT_PRIVATE_KEY');
  const imagekitEndpoint = url('IMAGEKIT_URL_ENDPOINT', undefined, ['http:', 'https:']);
  const imagekitBaseUrl = url('IMAGEKIT_BASE_URL', undefined, ['http:', 'https:']);
  if ((imagekitKey === undefined) !== (imagekitEndpoint === undefined)) {
    problems.push('IMAGEKIT_PRIVATE_KEY and IMAGEKIT_URL_ENDPOINT go together: set both, or neither');
  }

  const webhookAllowPrivate = oneOf('WEBHOOK_ALLOW_PRIVATE', ['true', 'false'], 'false') === 'true';
  // Webhooks to private addresses would let any user make the workers call into the cluster's network.
  if (production && webhookAllowPrivate) {
    problems.push('WEBHOOK_ALLOW_PRIVATE must not be true when NODE_ENV=production');
  }

  const publicUrl = stripTrailingSlash(url('PUBLIC_URL', `http://localhost:${port}`, ['http:', 'https:']) ?? '');

  const config: Config = {
    nodeEnv,
    logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, nodeEnv === 'test' ? 'silent' : 'info'),
    port,
    host: read('HOST') ?? '0.0.0.0',
    trustProxy: parseTrustProxy(read('TRUST_PROXY'), problems),
    // 10 minutes: a 500 MB video (MAX_VIDEO_BYTES) at about 1 MB/s.
    requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 600_000, 1_000, 86_400_000),
    connectionTimeoutMs: int('CONNECTION_TIMEOUT_MS', 60_000, 1_000, 86_400_000),
    metricsPort: int('METRICS_PORT', 9464, 0, 65535),
    otlpEndpoint: url('OTEL_EXPORTER_OTLP_ENDPOINT', undefined, ['http:', 'https:']),
    otelServiceName: read('OTEL_SERVICE_NAME'),
    publicUrl,
    corsOrigins: parseCorsOrigins(
      read('CORS_ORIGINS'),
      production ? [] : [WEB_APP_DEV_ORIGIN, originOf(publicUrl) ?? WEB_APP_DEV_ORIGIN],
      problems,
    ),
    databaseUrl:
      url('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/mediaflow', ['postgres:', 'postgresql:']) ?? '',
    redisUrl: url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']) ?? '',
    redisCluster: oneOf('REDIS_CLUSTER', ['true', 'false'], 'false') === 'true',
    queuePrefix: read('QUEUE_PREFIX') ?? '{mediaflow}',
    jwt: {
      secret: useDevelopmentSecret ? DEVELOPMENT_JWT_SECRET : jwtSecret,
      isDevelopmentDefault: useDevelopmentSecret,
      jwksUrl,
      issuer: jwtIssuer,
      audience: jwtAudience,
      adminClaims: parseAdminClaims(read('JWT_ADMIN_CLAIM'), problems),
    },
    eventsTokenSecret: eventsTokenSecret ?? DEVELOPMENT_JWT_SECRET,
    rateLimits: {
      generate: int('RATE_LIMIT_GENERATE', 10, 1, 1_000_000),
      write: int('RATE_LIMIT_WRITE', 60, 1, 1_000_000),
      read: int('RATE_LIMIT_READ', 600, 1, 1_000_000),
    },
    maxGenerationsInFlight: int('MAX_GENERATIONS_IN_FLIGHT', 5, 1, 10_000),
    geminiMaxRpm: read('GEMINI_MAX_RPM') === undefined ? undefined : int('GEMINI_MAX_RPM', 0, 1, 1_000_000),
    gemini:
      geminiKey === undefined
        ? undefined
        : {
            apiKey: geminiKey,
            model: read('GEMINI_MODEL') ?? 'gemini-3-pro-image-preview',
            baseUrl: geminiBaseUrl,
            timeoutMs: geminiTimeoutMs,
          },
    cloudinary: parseCloudinaryUrl(read('CLOUDINARY_URL'), problems),
    imagekit:
      imagekitKey !== undefined && imagekitEndpoint !== undefined
        ? { privateKey: imagekitKey, urlEndpoint: stripTrailingSlash(imagekitEndpoint), baseUrl: imagekitBaseUrl }
        : undefined,
    uploadTimeoutMs: int('UPLOAD_TIMEOUT_MS', 60_000, 1_000, 3_600_000),
    mediaDir: path.resolve(read('MEDIA_DIR') ?? 'data/media'),
    serveWebApp: oneOf('SERVE_WEB_APP', ['true', 'false'], nodeEnv === 'development' ? 'true' : 'false') === 'true',
    webAppDir: path.resolve(read('WEB_APP_DIR') ?? DEFAULT_WEB_APP_DIR),
    tempAssetTtlMs: duration('TEMP_ASSET_TTL', read('TEMP_ASSET_TTL'), 24 * 3_600_000, problems),
    reconcileIntervalMs: duration('RECONCILE_INTERVAL', read('RECONCILE_INTERVAL'), 30_000, problems),
    cleanupIntervalMs: duration('CLEANUP_INTERVAL', read('CLEANUP_INTERVAL'), 10 * 60_000, problems),
    maxImageBytes: int('MAX_IMAGE_BYTES', 20 * 1024 * 1024, 1, 1024 * 1024 * 1024),
    maxImagePixels: int('MAX_IMAGE_PIXELS', 100_000_000, 1, 1_000_000_000),
    maxVideoBytes: int('MAX_VIDEO_BYTES', 500 * 1024 * 1024, 1, 10 * 1024 * 1024 * 1024),
    maxSubmissionBytes: int('MAX_SUBMISSION_BYTES', 1024 * 1024 * 1024, 1, 100 * 1024 * 1024 * 1024),
    maxUploadsInFlight: int('MAX_UPLOADS_IN_FLIGHT', 3, 1, 1000),
    spoolDir: path.resolve(read('SPOOL_DIR') ?? path.join(os.tmpdir(), 'mediaflow-spool')),
    // Below the 2 Gi emptyDir of infra/k8s, so the spool fills up before the pod is evicted.
    spoolMaxBytes: int('SPOOL_MAX_BYTES', 1536 * 1024 * 1024, 1, 1024 * 1024 * 1024 * 1024),
    uploadTtlMs: duration('UPLOAD_TTL', read('UPLOAD_TTL'), 24 * 3_600_000, problems),
    jobs: {
      attempts: int('JOB_ATTEMPTS', 5, 1, 100),
      backoffMs: int('JOB_BACKOFF_MS', 2_000, 1, 3_600_000),
      lockMs: int('JOB_LOCK_MS', 30_000, 500, 3_600_000),
      webhookBackoffMs: int('WEBHOOK_BACKOFF_MS', 30_000, 1, 3_600_000),
    },
    // Per provider (infra/README.md, "Sizing"): a Gemini call waits 10 to 30 s on the network, so one process
    // keeps many in flight; the local generator draws on the CPU, so one per core. The same for the stores:
    // a cloud store's calls wait hundreds of milliseconds; the local disk is busy with each one.
    generatorConcurrency: int('GENERATOR_CONCURRENCY', geminiKey ? 32 : os.availableParallelism(), 1, 1000),
    storageConcurrency: int('STORAGE_CONCURRENCY', cloudStore ? 16 : 4, 1, 1000),
    persistenceConcurrency: int('PERSISTENCE_CONCURRENCY', 4, 1, 100),
    notifierConcurrency: int('NOTIFIER_CONCURRENCY', 10, 1, 1000),
    webhooks: { allowPrivate: webhookAllowPrivate },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** For a service's main.ts: a bad variable stops the process with a message that names it. */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\nSee the configuration table in docs/configuration.md.\n`);
    process.exit(1);
  }
}

function parseCloudinaryUrl(raw: string | undefined, problems: string[]): CloudinaryConfig | undefined {
  if (raw === undefined) return undefined;
  const shape = 'cloudinary://API_KEY:API_SECRET@CLOUD_NAME';
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    problems.push(`CLOUDINARY_URL must look like ${shape} (got "${redact(raw)}")`);
    return undefined;
  }
  const [apiKey, apiSecret, cloudName] = [parsed.username, parsed.password, parsed.hostname].map(decodeURIComponent);
  if (parsed.protocol !== 'cloudinary:' || !apiKey || !apiSecret || !cloudName) {
    problems.push(`CLOUDINARY_URL must look like ${shape} (got "${redact(raw)}")`);
    return undefined;
  }
  const uploadPrefix = parsed.searchParams.get('upload_prefix') ?? undefined;
  if (uploadPrefix !== undefined && !/^https?:\/\/[^/]+/.test(uploadPrefix)) {
    problems.push(`CLOUDINARY_URL's upload_prefix must be an http(s):// origin (got "${uploadPrefix}")`);
  }
  return { cloudName, apiKey, apiSecret, uploadPrefix: uploadPrefix && stripTrailingSlash(uploadPrefix) };
}

/** TRUST_PROXY: true or false, a number of hops, or a comma list of addresses and CIDR ranges. */
function parseTrustProxy(raw: string | undefined, problems: string[]): Config['trustProxy'] {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops >= 1 && hops <= 100) return hops;
  }
  const entries = raw.split(',').map((entry) => entry.trim());
  const bad = entries.filter((entry) => !isAddressOrRange(entry));
  if (bad.length === 0) return entries;
  problems.push(
    `TRUST_PROXY must be true, false, a number of hops from 1 to 100, or a comma list of IP addresses and CIDR ranges (got "${raw}")`,
  );
  return false;
}

/** An IP address, a CIDR range, or one of proxy-addr's names for ranges. */
function isAddressOrRange(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128);
}

/**
 * CORS_ORIGINS: a comma list of origins (`https://app.example`, `http://localhost:5173`), each as a browser
 * sends it: a scheme, a host and a port when not the scheme's default, and nothing else. `*` is refused:
 * the list says which sites' pages may call the API with their users' tokens.
 */
function parseCorsOrigins(raw: string | undefined, fallback: string[], problems: string[]): string[] {
  if (raw === undefined) return [...new Set(fallback)];
  const entries = raw
    .split(',')
    .map((entry) => entry.trim().replace(/\/$/, ''))
    .filter((entry) => entry !== '');
  const bad = entries.filter((entry) => originOf(entry) !== entry);
  if (bad.length === 0) return [...new Set(entries)];
  problems.push(
    `CORS_ORIGINS must be a comma list of origins such as https://app.example or http://localhost:5173, with no path (got "${bad.join(', ')}")`,
  );
  return [...new Set(fallback)];
}

function originOf(entry: string): string | undefined {
  try {
    const parsed = new URL(entry);
    return ['http:', 'https:'].includes(parsed.protocol) ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

/** JWT_ADMIN_CLAIM: comma-separated claim names, each a name or a dot path; by default `role,roles`. */
function parseAdminClaims(raw: string | undefined, problems: string[]): string[] {
  if (raw === undefined) return ['role', 'roles'];
  const names = raw.split(',').map((name) => name.trim());
  if (names.every((name) => /^[^\s.,]+(\.[^\s.,]+)*$/.test(name))) return names;
  problems.push(
    `JWT_ADMIN_CLAIM must be a comma list of claim names, each a name or a dot path such as realm_access.roles (got "${raw}")`,
  );
  return ['role', 'roles'];
}

function duration(name: EnvVariable, raw: string | undefined, fallback: number, problems: string[]): number {
  if (raw === undefined) return fallback;
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(raw);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  if (match?.[1] && match[2]) return Number(match[1]) * unit[match[2] as keyof typeof unit];
  problems.push(`${name} must be a duration such as 24h, 90m or 3600s (got "${raw}")`);
  return fallback;
}

/** Credentials never go into an error message. */
function redact(raw: string): string {
  return raw.replace(/\/\/[^@/]*@/, '//***@');
}

function stripTrailingSlash(value: string): string {
  return value.replace(/\/+$/, '');
}
