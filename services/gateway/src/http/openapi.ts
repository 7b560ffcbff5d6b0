import { STATUS_CODES } from 'node:http';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { Config } from '@mediaflow/config';
import type { FastifyInstance, FastifySchema } from 'fastify';
import packageJson from '../../package.json' with { type: 'json' };
import { ErrorResponse } from './errors.ts';

/** Swagger UI's prefix. */
export const DOCS_PATH = '/docs';

export type DocLimits = Pick<Config, 'maxImageBytes' | 'maxImagePixels' | 'maxVideoBytes'>;

/** Every error status's meaning and a typical answer, for the docs. */
const ERRORS: Record<number, { description: string; code: string; message: string }> = {
  400: {
    description: 'Bad input',
    code: 'invalid_input',
    message: 'body/prompt must NOT have fewer than 1 characters',
  },
  401: {
    description: 'No valid bearer token',
    code: 'unauthorized',
    message: 'send Authorization: Bearer <JWT>',
  },
  403: { description: 'The token lacks the admin role', code: 'forbidden', message: 'this route needs the admin role' },
  404: {
    description: 'Not found, or not yours',
    code: 'not_found',
    message: 'no job 0b8e7e53-3c39-4a4e-9d53-0f5b3c5a2c11',
  },
  409: {
    description: 'Conflicts with the current state, or a request with this Idempotency-Key is still being answered',
    code: 'conflict',
    message: 'a request with this Idempotency-Key is still being answered; try again shortly',
  },
  410: {
    description: 'The upload is gone (expired, or used)',
    code: 'gone',
    message: 'upload 6f1c0d2a9be34e7c8d1f00aa11bb22cc is no longer on this server; upload it again',
  },
  412: {
    description: 'The tus protocol version is missing or not supported (send Tus-Resumable: 1.0.0)',
    code: 'precondition_failed',
    message: 'Tus-Resumable Required',
  },
  413: {
    description: 'A file or field is over its limit',
    code: 'payload_too_large',
    message: '"media" is over the image limit of 20 MB',
  },
  415: {
    description: 'Not a supported content type or file kind',
    code: 'unsupported_media_type',
    message: 'send application/json or multipart/form-data',
  },
  422: {
    description: 'This Idempotency-Key was used for a different request',
    code: 'idempotency_key_reused',
    message: 'this Idempotency-Key was used for a different request; use a new key',
  },
  429: {
    description:
      'Over a rate limit (or too many generations or uploads in flight, MAX_UPLOADS_IN_FLIGHT); wait Retry-After seconds',
    code: 'rate_limited',
    message: 'over 10 generate requests a minute; slow down',
  },
  500: {
    description: 'Something failed on our side',
    code: 'internal',
    message: 'something went wrong on our side; try again, and report it if it persists',
  },
  503: {
    description:
      'The job queue or media storage is unavailable, or the upload spool is full (with Retry-After); nothing was saved',
    code: 'service_unavailable',
    message: 'the job queue is unavailable; nothing was saved, try again shortly',
  },
};

const RETRY_AFTER = {
  'Retry-After': { type: 'integer', description: 'Seconds to wait before trying again.' },
};

const IDEMPOTENT_REPLAYED = {
  'Idempotent-Replayed': {
    type: 'string',
    enum: ['true'],
    description: 'Present when this is the stored answer to an earlier request with the same Idempotency-Key.',
  },
};

const IDEMPOTENCY_KEY = {
  type: 'string',
  pattern: '^[\\x21-\\x7e]{1,200}$',
  description:
    'Optional. The same key and request within 24 h answers with the first response (header Idempotent-Replayed: true) and does no new work; the same key with another request is 422; a key whose request failed is free again.',
};

/**
 * OpenAPI 3 from the route schemas, at GET /openapi.json, with Swagger UI at /docs. Registered before the
 * routes so that it sees them all; the internal ones (static files, the UI, the queue board) hide themselves.
 */
export async function registerApiDocs(fastify: FastifyInstance, limits: DocLimits): Promise<void> {
  await fastify.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'mediaflow API',
        version: packageJson.version,
        description:
          'Prompt-to-image generation and social-post and blog submissions. Submissions answer 202 with a job id at once; poll `GET /api/jobs/{jobId}` for the outcome. Errors always look like `{"error": {"code", "message"}}`.',
      },
      components: {
        schemas: { ErrorResponse },
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description:
              'HS256 with JWT_SECRET, or RS256 with keys from JWT_JWKS_URL; expired tokens are refused, and `iss`/`aud` are checked when configured. `sub` is the user id. Admin routes need the admin role: `"admin"` in one of the claims JWT_ADMIN_CLAIM names (by default `"role": "admin"` or `"roles": ["admin"]`).',
          },
        },
      },
      tags: [
        { name: 'images', description: 'Generation from a prompt (and a reference image)' },
        { name: 'jobs', description: 'The outcome of anything answered 202' },
        { name: 'posts', description: 'Social posts for a brand, with images and videos' },
        { name: 'blogs', description: 'Blogs with a banner and a featured image' },
        { name: 'brands', description: 'Brands group posts and their members' },
        { name: 'admin', description: 'Failed jobs and retries; admin role only' },
        { name: 'ops', description: 'Liveness, readiness, metrics; no token needed' },
      ],
    },
    transform: ({ schema, url, route }) => ({ url, schema: documentRoute(schema ?? {}, url, route.method) }),
    transformObject: (document) => {
      if (!('openapiObject' in document)) return document.swaggerObject;
      documentMultipart(document.openapiObject as ApiDocument, limits);
      collapseLiterals(document.openapiObject);
      hoistComponents(document.openapiObject);
      return document.openapiObject;
    },
  });
  await fastify.register(fastifySwaggerUi, { routePrefix: DOCS_PATH });
  fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger());
}

/**
 * Adds what the /api hooks do to every route, whatever its own schema says: bearer auth (401), rate
 * limits (429), Idempotency-Key on POSTs (400, 409, 422); and 500. Every error answer is documented as
 * the one error shape, with an example.
 */
function documentRoute(schema: FastifySchema, url: string, method: string | string[]): FastifySchema {
  const api = url.startsWith('/api/');
  // A tus creation is not a submission: it takes no Idempotency-Key (a repeat makes another upload).
  const post = method === 'POST' && !url.startsWith('/api/uploads');
  const response: Record<string, unknown> = { ...(schema.response as Record<string, unknown> | undefined) };
  if (api)
    for (const status of post ? [400, 401, 409, 422, 429, 500] : [401, 429, 500]) response[status] ??= ErrorResponse;
  for (const [status, answer] of Object.entries(response)) {
    const error = ERRORS[Number(status)];
    if (error && answer === ErrorResponse) {
      response[status] = {
        description: error.description,
        // Rate limits say when to come back; so does a POST whose Idempotency-Key is still being answered.
        ...(status === '429' || (status === '409' && post) ? { headers: RETRY_AFTER } : {}),
        content: {
          'application/json': {
            schema: { $ref: '#/components/schemas/ErrorResponse' },
            example: { error: { code: error.code, message: error.message } },
          },
        },
      };
      continue;
    }
    const own = answer as { description?: string };
    response[status] = {
      ...own,
      ...(own.description ? {} : { 'x-response-description': STATUS_CODES[status] }),
      ...(api && post && status.startsWith('2') ? { headers: IDEMPOTENT_REPLAYED } : {}),
    };
  }
  if (!api) return { ...schema, response };
  const headers = (schema.headers as { properties?: object } | undefined)?.properties;
  return {
    ...schema,
    response,
    security: [{ bearer: [] }],
    ...(post ? { headers: { type: 'object', properties: { ...headers, 'Idempotency-Key': IDEMPOTENCY_KEY } } } : {}),
  };
}

/** The little of an OpenAPI document that documentMultipart reads and writes. */
interface SchemaObject {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, SchemaObject>;
  items?: SchemaObject;
  contentMediaType?: string;
  enum?: unknown[];
}
interface MediaObject {
  schema?: SchemaObject;
  encoding?: Record<string, { contentType: string }>;
}
type ApiDocument = { paths?: Record<string, { post?: { requestBody?: { content?: Record<string, MediaObject> } } }> };

/**
 * A multipart body's schema describes what its form reader leaves on the body, which is what Fastify
 * validates: an object (or Buffer) per file, annotated with its media types (`FileField`, schemas.ts).
 * Here each file field becomes what a client sends (binary, with its accepted types and size limits),
 * and a JSON body offered alongside (generate-image) loses the file fields it cannot carry.
 */
function documentMultipart(document: ApiDocument, limits: DocLimits): void {
  for (const path of Object.values(document.paths ?? {})) {
    const content = path.post?.requestBody?.content;
    const form = content?.['multipart/form-data']?.schema;
    if (!content || !form?.properties) continue;
    const properties: Record<string, SchemaObject> = {};
    const encoding: Record<string, { contentType: string }> = {};
    for (const [field, property] of Object.entries(form.properties)) {
      const mediaTypes = (property.items ?? property).contentMediaType;
      if (mediaTypes === undefined) {
        properties[field] = property;
        continue;
      }
      encoding[field] = { contentType: mediaTypes };
      const binary: SchemaObject = {
        type: 'string',
        format: 'binary',
        description: `${(property.items ?? property).description ?? ''} ${limitsOf(mediaTypes, limits)}`.trim(),
      };
      properties[field] = property.items ? { ...property, items: binary } : binary;
    }
    content['multipart/form-data'] = { ...content['multipart/form-data'], schema: { ...form, properties }, encoding };
    const json = content['application/json']?.schema;
    if (json?.properties) {
      const fields = Object.entries(json.properties).filter(([field]) => !(field in encoding));
      content['application/json'] = {
        ...content['application/json'],
        schema: { ...json, properties: Object.fromEntries(fields) },
      };
    }
  }
}

function limitsOf(mediaTypes: string, limits: DocLimits): string {
  const sizes: string[] = [];
  if (mediaTypes.includes('image/'))
    sizes.push(
      `images up to ${megabytes(limits.maxImageBytes)} and ${limits.maxImagePixels.toLocaleString('en')} pixels`,
    );
  if (mediaTypes.includes('video/')) sizes.push(`videos up to ${megabytes(limits.maxVideoBytes)}`);
  return `Its kind is decided by its first bytes, never its name or declared type: ${sizes.join('; ')}.`;
}

function megabytes(bytes: number): string {
  return `${Number((bytes / 1024 / 1024).toFixed(1))} MB (${bytes} bytes)`;
}

/** TypeBox writes a union of string literals as anyOf one-value enums; the docs read better as one enum. */
function collapseLiterals(node: unknown): void {
  if (typeof node !== 'object' || node === null) return;
  const schema = node as SchemaObject & { anyOf?: SchemaObject[] };
  const members = schema.anyOf;
  if (
    members?.every(
      (member) => member.type === 'string' && member.enum?.length === 1 && Object.keys(member).length === 2,
    )
  ) {
    delete schema.anyOf;
    schema.type = 'string';
    schema.enum = members.flatMap((member) => member.enum ?? []);
  }
  for (const value of Object.values(node)) collapseLiterals(value);
}

type Components = Record<string, { properties?: Record<string, { enum?: unknown[] }> }>;

/**
 * A schema marked `x-component: Name` (routes/schemas.ts) moves to components.schemas.Name and is referred
 * to there, so that generated clients name its type. A oneOf with a discriminator whose members are such
 * components gets the discriminator's mapping: each member's one value of the discriminating property.
 */
function hoistComponents(document: object): void {
  const openapi = document as { paths?: unknown; components?: { schemas?: Components } };
  openapi.components ??= {};
  openapi.components.schemas ??= {};
  const components = openapi.components.schemas;
  const hoist = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(hoist);
    if (typeof node !== 'object' || node === null) return node;
    const copy = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, hoist(value)]));
    mapDiscriminator(copy, components);
    const name = copy['x-component'];
    if (typeof name !== 'string') return copy;
    delete copy['x-component'];
    const existing = components[name];
    if (existing && JSON.stringify(existing) !== JSON.stringify(copy))
      throw new Error(`two different schemas are both marked x-component: ${name}`);
    components[name] = copy;
    return { $ref: `#/components/schemas/${name}` };
  };
  openapi.paths = hoist(openapi.paths);
}

function mapDiscriminator(schema: Record<string, unknown>, components: Components): void {
  const discriminator = schema.discriminator as { propertyName: string; mapping?: Record<string, string> } | undefined;
  const members = schema.oneOf as Array<{ $ref?: string }> | undefined;
  if (!discriminator || discriminator.mapping || !members?.every((member) => member.$ref)) return;
  const mapping: Record<string, string> = {};
  for (const { $ref = '' } of members) {
    const values = components[$ref.split('/').pop() ?? '']?.properties?.[discriminator.propertyName]?.enum;
    if (values?.length !== 1) return;
    mapping[String(values[0])] = $ref;
  }
  schema.discriminator = { ...discriminator, mapping };
}
