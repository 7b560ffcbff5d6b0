import type { Client } from 'openapi-fetch';
import { MediaflowError, retryAfterOf } from './errors.ts';
import type { paths } from './schema.ts';
import { readServerSentEvents } from './sse.ts';
import { isFinished, type JobStatus } from './types.ts';

export interface WatchOptions {
  /** Stops watching: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Each new status as it comes, the first one included (never the same status twice in a row). */
  onUpdate?: (job: JobStatus) => void;
  /**
   * The 202 answer's `eventsUrl`: its token opens the stream without the bearer token (and once it has
   * expired, the bearer token does). Without it the stream is opened with the bearer token.
   */
  eventsUrl?: string;
  /** Between polls when the API gives no Retry-After. Default 2 s. */
  pollIntervalMs?: number;
}

export interface WatchDeps {
  baseUrl: string;
  fetch: (request: Request) => Promise<Response>;
  authorization: () => Promise<string | undefined>;
  api: Client<paths>;
}

const DEFAULT_POLL_INTERVAL_MS = 2_000;
/** Connection failures in a row after which the stream is given up for polling. */
const STREAM_ATTEMPTS = 2;
/** Failed polls in a row (network, 429, 5xx) after which watching gives up with the last error. */
const POLL_ATTEMPTS = 5;
const RECONNECT_DELAY_MS = 500;

/**
 * Follows a job until it completes or fails, and resolves with that final status. It reads the job's
 * event stream (GET /api/jobs/:id/events, text/event-stream, over fetch so that it can send the bearer
 * header), reconnecting with Last-Event-ID when the connection drops. When the stream is unavailable (the
 * route answers 404 or 405, or connecting fails twice in a row) it polls GET /api/jobs/:id instead,
 * with If-None-Match and at the pace Retry-After asks for.
 */
export async function watchJob(deps: WatchDeps, jobId: string, options: WatchOptions = {}): Promise<JobStatus> {
  let last: string | undefined;
  /** Passes a status on unless it is the one passed on last; the status when it is final. */
  const deliver = (job: JobStatus): JobStatus | undefined => {
    const json = JSON.stringify(job);
    if (json !== last) {
      last = json;
      options.onUpdate?.(job);
    }
    return isFinished(job) ? job : undefined;
  };
  return (await follow(deps, jobId, options, deliver)) ?? (await poll(deps, jobId, options, deliver));
}

type Deliver = (job: JobStatus) => JobStatus | undefined;

/** The final status from the event stream, or undefined when the stream is unavailable. */
async function follow(
  deps: WatchDeps,
  jobId: string,
  options: WatchOptions,
  deliver: Deliver,
): Promise<JobStatus | undefined> {
  const { signal } = options;
  let eventsUrl = options.eventsUrl;
  let lastEventId: string | undefined;
  let failures = 0;
  const failed = async (waitS?: number): Promise<boolean> => {
    failures += 1;
    if (failures >= STREAM_ATTEMPTS) return false;
    await sleep(waitS === undefined ? RECONNECT_DELAY_MS : waitS * 1000, signal);
    return true;
  };

  for (;;) {
    signal?.throwIfAborted();
    const headers = new Headers({ accept: 'text/event-stream' });
    if (lastEventId !== undefined) headers.set('last-event-id', lastEventId);
    const authorization = eventsUrl === undefined ? await deps.authorization() : undefined;
    if (authorization) headers.set('authorization', authorization);
    const url =
      eventsUrl === undefined
        ? `${deps.baseUrl}/api/jobs/${encodeURIComponent(jobId)}/events`
        : resolve(deps.baseUrl, eventsUrl);

    let response: Response;
    try {
      response = await deps.fetch(new Request(url, { headers, signal: signal ?? null }));
    } catch {
      if (signal?.aborted) throw signal.reason;
      if (await failed()) continue;
      return undefined;
    }
    const eventStream = response.headers.get('content-type')?.startsWith('text/event-stream') ?? false;
    if (!response.ok || !eventStream || !response.body) {
      const body = await bodyOf(response);
      // No events route (an older gateway, or none on this path), or a job it does not know: polling
      // tells which, with the API's own answer.
      if (response.status === 404 || response.status === 405 || response.ok) return undefined;
      // The eventsUrl's token lasts 15 minutes: after that, the bearer token.
      if (response.status === 401 && eventsUrl !== undefined) {
        eventsUrl = undefined;
        continue;
      }
      if (response.status === 429 || response.status >= 500) {
        if (await failed(retryAfterOf(response))) continue;
        return undefined;
      }
      throw MediaflowError.from(response, body);
    }

    try {
      for await (const event of readServerSentEvents(response.body)) {
        if (event.event !== 'status') continue;
        failures = 0;
        lastEventId = event.id;
        const final = deliver(JSON.parse(event.data) as JobStatus);
        if (final) return final;
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof SyntaxError) throw error;
    }
    // The stream ended before the job did (a dropped connection, a gateway shutting down): again, from
    // the last event seen.
    if (!(await failed())) return undefined;
  }
}

/** The final status by polling GET /api/jobs/:id. */
async function poll(deps: WatchDeps, jobId: string, options: WatchOptions, deliver: Deliver): Promise<JobStatus> {
  const { signal } = options;
  const intervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  let etag: string | undefined;
  let failures = 0;
  for (;;) {
    signal?.throwIfAborted();
    let waitS: number | undefined;
    try {
      const { data, error, response } = await deps.api.GET('/api/jobs/{jobId}', {
        params: { path: { jobId }, header: etag === undefined ? {} : { 'if-none-match': etag } },
        ...(signal ? { signal } : {}),
      });
      waitS = retryAfterOf(response);
      if (data !== undefined) {
        etag = response.headers.get('etag') ?? undefined;
        const final = deliver(data);
        if (final) return final;
      } else if (response.status !== 304) {
        const failure = MediaflowError.from(response, error);
        if (response.status !== 429 && response.status < 500) throw failure;
        if (++failures >= POLL_ATTEMPTS) throw failure;
      }
      if (response.ok || response.status === 304) failures = 0;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof MediaflowError || ++failures >= POLL_ATTEMPTS) throw error;
    }
    await sleep(waitS === undefined ? intervalMs * 2 ** failures : waitS * 1000, signal);
  }
}

function resolve(baseUrl: string, url: string): string {
  if (/^https?:\/\//.test(url)) return url;
  return `${baseUrl}${url.startsWith('/') ? '' : '/'}${url}`;
}

async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => '');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((done, fail) => {
    if (signal?.aborted) {
      fail(signal.reason);
      return;
    }
    const abort = () => {
      clearTimeout(timer);
      fail(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      done();
    }, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}
