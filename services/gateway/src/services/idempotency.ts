import { type IdempotencyKeysRepository, IdempotencyKeyTaken, type IdempotentAnswer } from '@mediaflow/db';
import { HttpError } from './errors.ts';

/** A request that carries an Idempotency-Key: whose, the key, and what the request asks for. */
export interface IdempotentRequest {
  userId: string;
  key: string;
  /** A digest of what the request asks for: the same key with another fingerprint is refused (422). */
  fingerprint: string;
}

/** An answer to a request: its status and body, as the client hears them and a replay repeats them. */
export interface Answer<Body> {
  status: number;
  body: Body;
}

/**
 * What the work gets from `run`: `answer` hands it the answer to write under the request's key in the
 * work's own commit (`JobsRepository.create` takes it), and remembers that it did so, so that `run` does
 * not write it a second time. Without a key there is nothing to write: `answer` gives undefined.
 */
export interface IdempotencyScope {
  answer(status: number, body: unknown): IdempotentAnswer | undefined;
}

/** A scope for work that runs without an Idempotency-Key. */
export const NO_IDEMPOTENCY_KEY: IdempotencyScope = { answer: () => undefined };

export type IdempotencyKeys = Pick<IdempotencyKeysRepository, 'claim' | 'complete' | 'release'>;

/** How `run` claims the key. */
export interface RunOptions {
  /**
   * The work writes nothing before the commit that writes its answer (a generation: the job row is all
   * it writes), so that commit claims the key too: one statement instead of two. If the key is there
   * already (a repeat, most often), the usual claim decides, and the work runs again only if it wins.
   */
  claimInCommit?: boolean;
}

export interface IdempotencyOptions {
  /**
   * Makes a stored answer ready to be heard again, for what in it must not be replayed as it was: a 202's
   * `eventsUrl`, whose token is never stored and would have expired (Submissions.replayed).
   */
  replayed?: (userId: string, answer: Answer<unknown>) => Promise<Answer<unknown>>;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/**
 * `Idempotency-Key` on a POST, in one place: the same key and request within its lifetime (24 h) gets the
 * first answer back and does no new work; the same key with a different request is refused with 422; a
 * key whose request failed is free again.
 */
export class Idempotency {
  private readonly keys: IdempotencyKeys;
  private readonly replayed: IdempotencyOptions['replayed'];

  constructor(keys: IdempotencyKeys, options: IdempotencyOptions = {}) {
    this.keys = keys;
    this.replayed = options.replayed;
  }

  /**
   * Claims the request's key (400 for a malformed one, 409 while another request with it is still being
   * answered, 422 for a different request under it, or the stored answer again: `replayed`), runs the
   * work, and keeps its answer under the key unless the work wrote it in its own commit. When the work
   * throws, the key is released. Without a key, the work just runs.
   */
  async run<Body>(
    request: IdempotentRequest | undefined,
    work: (scope: IdempotencyScope) => Promise<Answer<Body>>,
    options: RunOptions = {},
  ): Promise<Answer<Body> & { replayed: boolean }> {
    if (request === undefined) return { ...(await work(NO_IDEMPOTENCY_KEY)), replayed: false };
    const { userId, key, fingerprint } = request;
    if (!KEY_PATTERN.test(key)) {
      throw new HttpError(400, 'invalid_input', 'Idempotency-Key must be 1 to 200 visible ASCII characters');
    }
    if (options.claimInCommit) {
      let written = false;
      const claiming: IdempotencyScope = {
        answer: (status, response) => {
          written = true;
          return { userId, key, status, response, requestHash: fingerprint };
        },
      };
      try {
        const answer = await work(claiming);
        // Nothing else would keep the answer: the key was never claimed.
        if (!written) throw new Error('work run with claimInCommit wrote no answer');
        return { ...answer, replayed: false };
      } catch (error) {
        // Anything else: the commit wrote nothing, or its undo took the answer with the job.
        if (!(error instanceof IdempotencyKeyTaken)) throw error;
      }
    }
    const claim = await this.keys.claim(userId, key, fingerprint);
    switch (claim.kind) {
      case 'replay': {
        // The stored answer of an earlier run of this same request: the body its work answered then,
        // with what must be fresh in it made again (`replayed`).
        const stored: Answer<unknown> = { status: claim.status, body: claim.response };
        const answer = this.replayed ? await this.replayed(userId, stored) : stored;
        return { status: answer.status, body: answer.body as Body, replayed: true };
      }
      case 'in-progress':
        throw new HttpError(
          409,
          'conflict',
          'a request with this Idempotency-Key is still being answered; try again shortly',
          { retryAfterS: 2 },
        );
      case 'mismatch':
        throw new HttpError(
          422,
          'idempotency_key_reused',
          'this Idempotency-Key was used for a different request; use a new key',
        );
      case 'claimed':
        break;
    }
    let written = false;
    const scope: IdempotencyScope = {
      answer: (status, response) => {
        written = true;
        return { userId, key, status, response };
      },
    };
    let answer: Answer<Body>;
    try {
      answer = await work(scope);
    } catch (error) {
      await this.keys.release(userId, key);
      throw error;
    }
    if (!written) await this.keys.complete({ userId, key, status: answer.status, response: answer.body });
    return { ...answer, replayed: false };
  }
}
