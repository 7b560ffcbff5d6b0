import { HttpError } from './errors.ts';

/** A full spool frees up as requests end and uploads are used: worth trying again after this. */
const SPOOL_FULL_RETRY_AFTER_S = 30;

/**
 * The spool's disk, shared out (SPOOL_MAX_BYTES): a multipart request holds its Content-Length (or what it
 * has sent so far) until it ends, a resumable upload its Upload-Length until it is used, ended or expired.
 * A new hold that would pass the limit is 503 with Retry-After, before a byte of it is written, so that one
 * user cannot fill the disk and get the pod evicted. It counts this process's holds: each gateway replica
 * has its own spool (infra/k8s/README.md).
 */
export class SpoolBudget {
  private readonly maxBytes: number;
  private readonly held = new Map<string, number>();
  private total = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get usedBytes(): number {
    return this.total;
  }

  /** Adds `bytes` to what `key` holds; 503 if the spool would pass its limit (and nothing is added). */
  hold(key: string, bytes: number): void {
    if (this.total + bytes > this.maxBytes) {
      throw new HttpError(
        503,
        'service_unavailable',
        'the upload spool is full; nothing was saved, try again shortly',
        { retryAfterS: SPOOL_FULL_RETRY_AFTER_S },
      );
    }
    this.held.set(key, (this.held.get(key) ?? 0) + bytes);
    this.total += bytes;
  }

  /** Counts what `key` holds already (an upload a previous run accepted), even past the limit. */
  restore(key: string, bytes: number): void {
    this.held.set(key, (this.held.get(key) ?? 0) + bytes);
    this.total += bytes;
  }

  /** Gives back everything `key` holds (its files are gone). */
  free(key: string): void {
    this.total -= this.held.get(key) ?? 0;
    this.held.delete(key);
  }
}
