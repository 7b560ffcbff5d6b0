import { createHash } from 'node:crypto';
import { HttpError } from './errors.ts';
import type { Jobs, JobView } from './jobs.ts';
import type { ServiceLog } from './log.ts';

/**
 * The id of a job's state as one answer serializes it: the hash of that JSON. GET /api/jobs/:id sends it
 * (quoted) as its ETag, and each event of the job's stream as its `id`, so that equal ids mean equal
 * answers everywhere.
 */
export function snapshotId(serialized: string): string {
  return createHash('sha1').update(serialized).digest('base64url');
}

/** One event of a job's stream: its state as GET /api/jobs/:id would answer it, and that answer's id. */
export interface JobEvent {
  id: string;
  data: string;
  /** The job has completed or failed: this is the stream's last event. */
  final: boolean;
}

/** Where changes are heard of: `listen` resolves once a change announced from then on will reach `listener`. */
export interface JobChanges {
  listen(jobId: string, listener: () => void): Promise<() => void>;
}

export interface JobEventsDeps {
  jobs: Pick<Jobs, 'status'>;
  changes: JobChanges;
  log: ServiceLog;
}

export interface FollowRequest {
  ownerId: string;
  jobId: string;
  /** The id of the last event the client has (Last-Event-ID): that state is not sent again. */
  lastEventId?: string;
  /** The job's state as GET /api/jobs/:id serializes it. */
  serialize: (job: JobView) => string;
  send: (event: JobEvent) => void;
  /** The stream is over: after its final event, or when the job can no longer be read. */
  end: () => void;
}

export interface Following {
  /**
   * The client already has the job's final state (its Last-Event-ID): there is nothing to stream, and
   * `end` is not called.
   */
  finished: boolean;
  /** Stops following (the client went away); `end` is not called. */
  close(): void;
}

/**
 * A job's live state for its owner: subscribe to its changes first, then read it from PostgreSQL, so a
 * change committed in between is not lost (it makes the stream read again). Each change read again is
 * sent unless its snapshot is the one sent last; the stream ends after the completed or failed state.
 */
export class JobEvents {
  private readonly deps: JobEventsDeps;
  /** Reads of a job started in this tick, shared by every stream of it that a change woke at once. */
  private readonly reads = new Map<string, Promise<JobView>>();

  constructor(deps: JobEventsDeps) {
    this.deps = deps;
  }

  /**
   * The job's state, read once for all of its streams that ask in the same tick: a change wakes every
   * stream of the job in one loop, and thousands of streams of one job must not be thousands of queries.
   * A read is shared only within its tick, so it always started after the change that woke its readers.
   */
  private read(ownerId: string, jobId: string): Promise<JobView> {
    const key = `${ownerId}\n${jobId}`;
    let read = this.reads.get(key);
    if (!read) {
      read = this.deps.jobs.status(ownerId, jobId);
      this.reads.set(key, read);
      queueMicrotask(() => this.reads.delete(key));
    }
    return read;
  }

  /**
   * Starts following a job: sends its current state at once (unless the client has it), then each
   * change. Throws 404 for a job that is not the owner's (and then follows nothing), 503 when changes
   * cannot be heard of.
   */
  async follow(request: FollowRequest): Promise<Following> {
    const { ownerId, jobId } = request;
    let lastId = request.lastEventId;
    let closed = false;
    // A read is under way (the first one until follow answers): a change meanwhile is read after it.
    let reading = true;
    let stale = false;
    let stop = () => {};
    const close = () => {
      if (closed) return;
      closed = true;
      stop();
    };
    const finish = () => {
      if (closed) return;
      close();
      request.end();
    };
    const snapshot = (job: JobView): JobEvent => {
      const data = request.serialize(job);
      return { id: snapshotId(data), data, final: job.status === 'completed' || job.status === 'failed' };
    };
    /** Sends the state unless the client has it; ends the stream after the final one. */
    const offer = (event: JobEvent) => {
      if (event.id !== lastId) {
        lastId = event.id;
        request.send(event);
      }
      if (event.final) finish();
    };
    const catchUp = async () => {
      reading = true;
      while (stale && !closed) {
        stale = false;
        let job: JobView;
        try {
          job = await this.read(ownerId, jobId);
        } catch (error) {
          // Gone (withdrawn) or unreadable (PostgreSQL away): the client reconnects, or polls.
          if (!(error instanceof HttpError)) this.deps.log.warn({ err: error, jobId }, 'could not read a followed job');
          finish();
          break;
        }
        if (!closed) offer(snapshot(job));
      }
      reading = false;
    };
    const changed = () => {
      stale = true;
      if (!reading) void catchUp();
    };

    try {
      stop = await this.deps.changes.listen(jobId, changed);
    } catch (error) {
      this.deps.log.warn({ err: error, jobId }, 'could not subscribe to job changes');
      throw new HttpError(
        503,
        'service_unavailable',
        `live job events are unavailable right now; poll GET /api/jobs/${jobId} instead`,
        { retryAfterS: 2 },
      );
    }
    let first: JobEvent;
    try {
      first = snapshot(await this.read(ownerId, jobId));
    } catch (error) {
      close();
      throw error;
    }
    if (first.final && first.id === lastId) {
      close();
      return { finished: true, close };
    }
    offer(first);
    reading = false;
    if (stale && !closed) void catchUp();
    return { finished: false, close };
  }
}
