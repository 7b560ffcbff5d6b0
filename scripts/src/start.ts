import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigOrExit } from '@mediaflow/config';
import { SERVICE_QUEUES, type WorkerServiceName } from '@mediaflow/domain';
import { SignJWT } from 'jose';
import { checkRedis, PreflightError, prepareDatabase } from './preflight.ts';

/**
 * npm start: checks Redis and PostgreSQL, applies migrations, builds the web app (when the gateway
 * serves it, SERVE_WEB_APP) and prints a development token to sign in with, then runs the gateway and
 * every worker as child processes in the foreground. SIGINT/SIGTERM go on to each child; once all have shut down
 * cleanly it exits 0. A child that dies on its own takes the others down and exits non-zero.
 */
const SERVICES = ['gateway', ...(Object.keys(SERVICE_QUEUES) as WorkerServiceName[])] as const;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Whom the printed development token signs in as. */
const DEVELOPMENT_USER = 'developer';

const config = loadConfigOrExit();
try {
  await checkRedis(config);
  const applied = await prepareDatabase(config);
  if (applied.length > 0) console.log(`applied migrations: ${applied.join(', ')}`);
} catch (error) {
  if (!(error instanceof PreflightError)) throw error;
  console.error(error.message);
  process.exit(1);
}

if (config.serveWebApp) {
  try {
    await buildWebApp(config.webAppDir);
  } catch (error) {
    console.error(`the web app (apps/web) did not build: ${error instanceof Error ? error.message : error}`);
    console.error('fix it, or start without it: SERVE_WEB_APP=false npm start');
    process.exit(1);
  }
}
const token = await developmentToken();

console.log(
  [
    `mediaflow: gateway on http://localhost:${config.port}, workers: ${SERVICES.slice(1).join(', ')} (metrics on ports ${config.metricsPort}–${config.metricsPort + SERVICES.length - 2})`,
    `  generator: ${config.gemini ? `Gemini (${config.gemini.model})` : 'LOCAL generator (set GEMINI_API_KEY for Gemini)'}`,
    `  store: ${[config.cloudinary && 'Cloudinary', config.imagekit && 'ImageKit'].filter(Boolean).join(' → ') || `LOCAL disk store in ${config.mediaDir}`}`,
    ...(config.serveWebApp ? [`  web app: http://localhost:${config.port}/app/`] : []),
    ...(token
      ? [
          `  development token (user "${DEVELOPMENT_USER}", 12 h), to paste into the web app's Access token field:`,
          `    ${token}`,
        ]
      : []),
    '  a token to try it: npm run token -- <user-id>        stop: Ctrl-C',
  ].join('\n'),
);

const children = new Map<string, ChildProcess>();
let stopping = false;
let failed = false;

for (const [index, service] of SERVICES.entries()) {
  // Own process group: a terminal's Ctrl-C reaches only this launcher, which passes one SIGTERM on.
  // On one machine each worker needs its own metrics port: METRICS_PORT, METRICS_PORT + 1, … (the
  // gateway serves /metrics on PORT).
  const child = spawn(process.execPath, [path.join(root, 'services', service, 'src', 'main.ts')], {
    stdio: 'inherit',
    detached: true,
    // biome-ignore lint/style/noProcessEnv: the services read the same environment as this launcher
    env: { ...process.env, METRICS_PORT: String(config.metricsPort + Math.max(0, index - 1)) },
  });
  children.set(service, child);
  child.on('exit', (code, signal) => {
    children.delete(service);
    if (!stopping) {
      console.error(`${service} exited unexpectedly (${signal ?? `code ${code}`}); stopping the others`);
      failed = true;
      stop('SIGTERM');
    } else if (code !== 0) {
      failed = true;
    }
    if (children.size === 0) process.exit(failed ? 1 : 0);
  });
}

function stop(signal: NodeJS.Signals): void {
  stopping = true;
  for (const child of children.values()) child.kill(signal);
}

process.on('SIGINT', () => stop('SIGTERM'));
process.on('SIGTERM', () => stop('SIGTERM'));

/** apps/web, built by Vite into the folder the gateway serves at /app/ (WEB_APP_DIR). */
async function buildWebApp(outDir: string): Promise<void> {
  const started = Date.now();
  // Loaded only when needed: Vite is a development dependency.
  const { build } = await import('vite');
  const app = path.join(root, 'apps', 'web');
  await build({
    root: app,
    configFile: path.join(app, 'vite.config.ts'),
    build: { outDir, emptyOutDir: true },
    logLevel: 'warn',
  });
  console.log(`built the web app into ${path.relative(root, outDir) || outDir} in ${Date.now() - started} ms`);
}

/**
 * A token to paste into the web app, signed as `npm run token` signs them: only with a secret of this
 * configuration (not with JWKS alone) and never in production.
 */
async function developmentToken(): Promise<string | undefined> {
  const secret = config.jwt.secret;
  if (secret === undefined || config.nodeEnv === 'production') return undefined;
  let jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(DEVELOPMENT_USER).setIssuedAt();
  if (config.jwt.issuer) jwt = jwt.setIssuer(config.jwt.issuer);
  if (config.jwt.audience) jwt = jwt.setAudience(config.jwt.audience);
  return jwt.setExpirationTime('12h').sign(new TextEncoder().encode(secret));
}
