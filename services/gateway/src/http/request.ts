import type { ParsedForm } from './multipart.ts';
import type { RateClass } from './rate-limit.ts';

/**
 * Everything the gateway adds to Fastify's request and route types, in one place: who is asking (set
 * by the auth hook), a multipart submission's form (set by `multipartBody`), and a route's rate class.
 * Nothing else rides on the request: an Idempotency-Key, a form's order and the like are plain values
 * that routes hand to the services.
 */
declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's user id (the token's `sub`), set by the auth hook on every /api route. */
    userId: string;
    /** The token carries the admin role in one of the JWT_ADMIN_CLAIM claims (by default `role` or `roles`). */
    isAdmin: boolean;
    /**
     * A multipart submission as read so far (multipart.ts): its files, spooled to local disk and deleted
     * when the response is sent whatever it is, and its files and repeated fields in the order they came.
     */
    form?: ParsedForm;
  }

  interface FastifyContextConfig {
    /**
     * The rate limit class of a route; by default GET is `read` and everything else `write`. `false`: none
     * (a resumable upload's chunks, bounded by the upload's size and MAX_UPLOADS_IN_FLIGHT instead).
     */
    rateLimit?: RateClass | false;
    /** The route also authenticates by an events token in `?token=` (a job's event stream; auth.ts). */
    eventsToken?: boolean;
  }
}
