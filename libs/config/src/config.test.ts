import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_VARIABLES, loadConfig } from './config.ts';

const PRODUCTION_IDENTITY = { NODE_ENV: 'production', JWT_ISSUER: 'https://id.example/', JWT_AUDIENCE: 'mediaflow' };
const PRODUCTION_HS256 = { ...PRODUCTION_IDENTITY, JWT_SECRET: 'a-production-secret-of-32-or-more-chars' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('runs with no variables at all: local servers, local providers, development secret', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/mediaflow');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.publicUrl).toBe('http://localhost:3000');
    expect(config.gemini).toBeUndefined();
    expect(config.cloudinary).toBeUndefined();
    expect(config.imagekit).toBeUndefined();
    expect(config.jwt.isDevelopmentDefault).toBe(true);
    expect(config.tempAssetTtlMs).toBe(24 * 3_600_000);
  });

  it('sizes concurrency by provider: many calls waiting on the network, one local drawing per core', () => {
    const local = loadConfig({});
    expect(local.generatorConcurrency).toBe(availableParallelism());
    expect(local.storageConcurrency).toBe(4);
    const cloud = loadConfig({ GEMINI_API_KEY: 'k', CLOUDINARY_URL: 'cloudinary://key:secret@demo' });
    expect(cloud.generatorConcurrency).toBe(32);
    expect(cloud.storageConcurrency).toBe(16);
    expect(
      loadConfig({ IMAGEKIT_PRIVATE_KEY: 'p', IMAGEKIT_URL_ENDPOINT: 'https://ik.example/x' }).storageConcurrency,
    ).toBe(16);
    const chosen = loadConfig({ GEMINI_API_KEY: 'k', GENERATOR_CONCURRENCY: '8', STORAGE_CONCURRENCY: '2' });
    expect([chosen.generatorConcurrency, chosen.storageConcurrency]).toEqual([8, 2]);
  });

  it('reads the providers from their variables', () => {
    const config = loadConfig({
      GEMINI_API_KEY: 'k',
      GEMINI_BASE_URL: 'http://127.0.0.1:9000',
      CLOUDINARY_URL: 'cloudinary://123:abc@demo?upload_prefix=http://127.0.0.1:9001/',
      IMAGEKIT_PRIVATE_KEY: 'private_test',
      IMAGEKIT_URL_ENDPOINT: 'https://ik.imagekit.io/demo/',
    });
    expect(config.gemini).toEqual({
      apiKey: 'k',
      model: 'gemini-3-pro-image-preview',
      baseUrl: 'http://127.0.0.1:9000',
      timeoutMs: 120_000,
    });
    expect(config.cloudinary).toEqual({
      cloudName: 'demo',
      apiKey: '123',
      apiSecret: 'abc',
      uploadPrefix: 'http://127.0.0.1:9001',
    });
    expect(config.imagekit?.urlEndpoint).toBe('https://ik.imagekit.io/demo');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT must be a whole number from 1 to 65535 (got "eighty")'],
    [{ PORT: '70000' }, 'PORT must be a whole number from 1 to 65535 (got "70000")'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL must be a postgres: or postgresql:// URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL must be a redis: or rediss:// URL'],
    [{ CLOUDINARY_URL: 'https://key:secret@demo' }, 'CLOUDINARY_URL must look like cloudinary://'],
    [{ CLOUDINARY_URL: 'cloudinary://key@demo' }, 'CLOUDINARY_URL must look like cloudinary://'],
    [{ IMAGEKIT_PRIVATE_KEY: 'private_x' }, 'IMAGEKIT_PRIVATE_KEY and IMAGEKIT_URL_ENDPOINT go together'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of'],
    [{ TEMP_ASSET_TTL: 'tomorrow' }, 'TEMP_ASSET_TTL must be a duration'],
    [{ ...PRODUCTION_IDENTITY }, 'JWT_SECRET must be set to at least 32 characters (or JWT_JWKS_URL for RS256)'],
    [{ ...PRODUCTION_IDENTITY, JWT_SECRET: 'short' }, 'JWT_SECRET must be at least 32 characters'],
    [{ ...PRODUCTION_HS256, JWT_ISSUER: '' }, 'JWT_ISSUER must be set when NODE_ENV=production'],
    [{ ...PRODUCTION_HS256, JWT_AUDIENCE: ' ' }, 'JWT_AUDIENCE must be set when NODE_ENV=production'],
    [
      { ...PRODUCTION_IDENTITY, JWT_JWKS_URL: 'http://id.example/.well-known/jwks.json' },
      'JWT_JWKS_URL must be a https:// URL when NODE_ENV=production (got "http://id.example/.well-known/jwks.json")',
    ],
    [{ JWT_JWKS_URL: 'ftp://keys' }, 'JWT_JWKS_URL must be a http: or https:// URL'],
    [{ JWT_ADMIN_CLAIM: 'role,,roles' }, 'JWT_ADMIN_CLAIM must be a comma list of claim names'],
    [{ JWT_ADMIN_CLAIM: 'realm_access..roles' }, 'JWT_ADMIN_CLAIM must be a comma list of claim names'],
    [{ TRUST_PROXY: 'yes' }, 'TRUST_PROXY must be true, false, a number of hops'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY must be true, false, a number of hops'],
    [{ TRUST_PROXY: '0' }, 'TRUST_PROXY must be true, false, a number of hops'],
    [{ REQUEST_TIMEOUT_MS: '0' }, 'REQUEST_TIMEOUT_MS must be a whole number from 1000'],
    [{ CONNECTION_TIMEOUT_MS: 'soon' }, 'CONNECTION_TIMEOUT_MS must be a whole number from 1000'],
    [{ GEMINI_MAX_RPM: '0' }, 'GEMINI_MAX_RPM must be a whole number from 1'],
    [{ RATE_LIMIT_GENERATE: '0' }, 'RATE_LIMIT_GENERATE must be a whole number'],
  ])('rejects %j, naming the variable', (env, expected) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });

  it('reports every problem at once and never echoes credentials', () => {
    const problems = problemsOf({ PORT: 'x', REDIS_URL: 'http://user:hunter2@host' });
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('takes RS256 alone in production when a JWKS URL is set, with no built-in secret', () => {
    const config = loadConfig({
      ...PRODUCTION_IDENTITY,
      JWT_JWKS_URL: 'https://id.example/.well-known/jwks.json',
      EVENTS_TOKEN_SECRET: 'an-events-token-secret-of-32-or-more-chars',
    });
    expect(config.jwt).toMatchObject({
      secret: undefined,
      isDevelopmentDefault: false,
      issuer: 'https://id.example/',
      audience: 'mediaflow',
    });
    expect(loadConfig({}).jwt.isDevelopmentDefault).toBe(true);
  });

  it('refuses production with neither issuer nor audience, whether HS256 or JWKS, naming both', () => {
    const identities: Array<Record<string, string>> = [
      { JWT_SECRET: PRODUCTION_HS256.JWT_SECRET },
      { JWT_JWKS_URL: 'https://id.example/.well-known/jwks.json', EVENTS_TOKEN_SECRET: PRODUCTION_HS256.JWT_SECRET },
    ];
    for (const identity of identities) {
      const problems = problemsOf({ NODE_ENV: 'production', ...identity });
      expect(problems).toEqual([
        expect.stringContaining('JWT_ISSUER must be set when NODE_ENV=production'),
        expect.stringContaining('JWT_AUDIENCE must be set when NODE_ENV=production'),
      ]);
    }
    // Development and tests keep them optional, and a JWKS over http (a local identity provider).
    expect(loadConfig({ JWT_JWKS_URL: 'http://127.0.0.1:8080/jwks.json' }).jwt.issuer).toBeUndefined();
    expect(loadConfig(PRODUCTION_HS256).jwt).toMatchObject({ issuer: 'https://id.example/', audience: 'mediaflow' });
  });

  it('signs events tokens with EVENTS_TOKEN_SECRET, else JWT_SECRET, and wants one in production with JWKS alone', () => {
    const jwks = { ...PRODUCTION_IDENTITY, JWT_JWKS_URL: 'https://id.example/.well-known/jwks.json' };
    expect(problemsOf(jwks)).toEqual([expect.stringContaining('EVENTS_TOKEN_SECRET must be set to at least 32')]);
    expect(problemsOf({ ...jwks, EVENTS_TOKEN_SECRET: 'short' })).toEqual([
      expect.stringContaining('EVENTS_TOKEN_SECRET must be at least 32 characters'),
    ]);
    const own = 'an-events-token-secret-of-32-or-more-chars';
    expect(loadConfig({ ...jwks, EVENTS_TOKEN_SECRET: own }).eventsTokenSecret).toBe(own);
    expect(loadConfig(PRODUCTION_HS256).eventsTokenSecret).toBe(PRODUCTION_HS256.JWT_SECRET);
    expect(loadConfig({ ...PRODUCTION_HS256, EVENTS_TOKEN_SECRET: own }).eventsTokenSecret).toBe(own);
    // Development borrows the built-in secret, with or without a JWKS.
    expect(loadConfig({}).eventsTokenSecret).toBe(loadConfig({}).jwt.secret);
    expect(loadConfig({ JWT_JWKS_URL: 'http://127.0.0.1:8080/jwks.json' }).eventsTokenSecret).toEqual(
      expect.any(String),
    );
  });

  it('reads the admin claims: role and roles by default, or a comma list of names and dot paths', () => {
    expect(loadConfig({}).jwt.adminClaims).toEqual(['role', 'roles']);
    expect(
      loadConfig({ JWT_ADMIN_CLAIM: ' realm_access.roles , https://mediaflow.example/roles ' }).jwt.adminClaims,
    ).toEqual(['realm_access.roles', 'https://mediaflow.example/roles']);
  });

  it('reads TRUST_PROXY as a boolean, a hop count or a list of addresses and ranges', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,fd00::/8,loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
      'fd00::/8',
      'loopback',
    ]);
  });

  it('allows no CORS origins by default in production, and the web app dev server and itself otherwise', () => {
    expect(loadConfig(PRODUCTION_HS256).corsOrigins).toEqual([]);
    expect(loadConfig({}).corsOrigins).toEqual(['http://localhost:5173', 'http://localhost:3000']);
    expect(loadConfig({ PUBLIC_URL: 'https://media.example/base/', PORT: '8080' }).corsOrigins).toEqual([
      'http://localhost:5173',
      'https://media.example',
    ]);
    expect(
      loadConfig({ ...PRODUCTION_HS256, CORS_ORIGINS: 'https://app.example, http://localhost:8081/' }).corsOrigins,
    ).toEqual(['https://app.example', 'http://localhost:8081']);
    for (const bad of ['*', 'app.example', 'https://app.example/path', 'ftp://app.example', 'https://a.example,nope'])
      expect(problemsOf({ CORS_ORIGINS: bad }), bad).toEqual([expect.stringContaining('CORS_ORIGINS must be')]);
  });

  it('reads the HTTP timeouts and the Gemini rate cap, with their defaults', () => {
    const defaults = loadConfig({});
    expect(defaults).toMatchObject({ requestTimeoutMs: 600_000, connectionTimeoutMs: 60_000 });
    expect(defaults.geminiMaxRpm).toBeUndefined();
    expect(
      loadConfig({ REQUEST_TIMEOUT_MS: '1000', CONNECTION_TIMEOUT_MS: '5000', GEMINI_MAX_RPM: '30' }),
    ).toMatchObject({ requestTimeoutMs: 1000, connectionTimeoutMs: 5000, geminiMaxRpm: 30 });
  });

  it('serves the web app by default in development only, from apps/web/dist unless WEB_APP_DIR says otherwise', () => {
    expect(loadConfig({}).serveWebApp).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).serveWebApp).toBe(false);
    expect(loadConfig({ ...PRODUCTION_HS256 }).serveWebApp).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test', SERVE_WEB_APP: 'true' }).serveWebApp).toBe(true);
    expect(loadConfig({ SERVE_WEB_APP: 'false' }).serveWebApp).toBe(false);
    expect(loadConfig({}).webAppDir).toBe(fileURLToPath(new URL('../../../apps/web/dist', import.meta.url)));
    expect(loadConfig({ WEB_APP_DIR: '/srv/web' }).webAppDir).toBe('/srv/web');
    expect(problemsOf({ SERVE_WEB_APP: 'yes' })).toEqual([
      expect.stringContaining('SERVE_WEB_APP must be one of true, false'),
    ]);
  });

  it('reads the webhook settings: public https only and 30 s first retry by default, private refused in production', () => {
    expect(loadConfig({})).toMatchObject({
      webhooks: { allowPrivate: false },
      jobs: { webhookBackoffMs: 30_000 },
      notifierConcurrency: 10,
    });
    expect(
      loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_BACKOFF_MS: '200', NOTIFIER_CONCURRENCY: '3' }),
    ).toMatchObject({ webhooks: { allowPrivate: true }, jobs: { webhookBackoffMs: 200 }, notifierConcurrency: 3 });
    expect(problemsOf({ WEBHOOK_ALLOW_PRIVATE: 'yes' })).toEqual([
      'WEBHOOK_ALLOW_PRIVATE must be one of true, false (got "yes")',
    ]);
    expect(problemsOf({ ...PRODUCTION_HS256, WEBHOOK_ALLOW_PRIVATE: 'true' })).toEqual([
      'WEBHOOK_ALLOW_PRIVATE must not be true when NODE_ENV=production',
    ]);
    expect(problemsOf({ ...PRODUCTION_HS256, WEBHOOK_ALLOW_PRIVATE: 'false' })).toEqual([]);
  });

  it('parses durations', () => {
    expect(loadConfig({ TEMP_ASSET_TTL: '90m' }).tempAssetTtlMs).toBe(90 * 60_000);
    expect(loadConfig({ TEMP_ASSET_TTL: '3600s' }).tempAssetTtlMs).toBe(3_600_000);
  });
});

describe('the configuration table in docs/configuration.md', () => {
  it('lists every variable the services read, and no other', async () => {
    const doc = await readFile(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)`/gm)].map((match) => match[1]);
    expect(documented.sort()).toEqual([...ENV_VARIABLES].sort());
  });
});
