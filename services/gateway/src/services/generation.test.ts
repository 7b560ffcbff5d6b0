import { REFERENCE_IMAGE_INPUT } from '@mediaflow/domain';
import { silentLogger } from '@mediaflow/logger';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Generation, type GenerationRequest } from './generation.ts';
import { type IdempotencyScope, NO_IDEMPOTENCY_KEY } from './idempotency.ts';
import { Submissions } from './submissions.ts';
import { FakeJobs, FakeQueues, fakeEventsUrl } from './test-fakes.ts';

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();

function setup() {
  const jobs = new FakeJobs();
  const counted: string[] = [];
  const generation = new Generation({
    jobs: {
      countUnfinished: async (ownerId, kind) => {
        counted.push(`${ownerId}/${kind}`);
        return jobs.countUnfinished(ownerId, kind);
      },
    },
    submissions: new Submissions({ jobs, queues: new FakeQueues(), log: silentLogger, eventsUrl: fakeEventsUrl }),
    maxImagePixels: 10_000,
    maxInFlight: 3,
  });
  const submit = (request: Partial<GenerationRequest>, scope: IdempotencyScope = NO_IDEMPOTENCY_KEY) =>
    generation.submit({ ownerId: 'alice', prompt: 'a cat', context: { requestId: 'req-1' }, ...request }, scope);
  return { jobs, counted, submit };
}

/** A scope whose answers go under the key `key` of alice's. */
const keyed = (key: string): IdempotencyScope => ({
  answer: (status, response) => ({ userId: 'alice', key, status, response }),
});

describe('Generation', () => {
  it('queues a generate-image job with the reference image as its stored input', async () => {
    const { jobs, submit } = setup();
    const reference = await png(40, 20);
    const answer = await submit({ aspectRatio: '16:9', referenceImage: reference });
    expect(answer.status).toBe(202);
    const job = jobs.only();
    expect(job).toMatchObject({ id: answer.body.jobId, kind: 'generate-image', ownerId: 'alice', inFlightCap: 3 });
    expect(job.plan).toEqual({
      last: {
        name: 'generate-image',
        payload: {
          jobId: answer.body.jobId,
          ownerId: 'alice',
          prompt: 'a cat',
          aspectRatio: '16:9',
          hasReference: true,
        },
      },
      context: { requestId: 'req-1' },
    });
    expect(job.inputs).toEqual([
      {
        name: REFERENCE_IMAGE_INPUT,
        contentType: 'image/png',
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        data: reference,
      },
    ]);
  });

  it('refuses a blank prompt before anything else', async () => {
    const { counted, submit } = setup();
    await expect(submit({ prompt: ' \n\t', referenceImage: Buffer.from('not an image') })).rejects.toMatchObject({
      statusCode: 400,
      message: 'prompt must not be blank',
    });
    expect(counted).toEqual([]);
  });

  it('checks the reference image: bytes (400), an image (415), within the pixel limit (413)', async () => {
    const { jobs, submit } = setup();
    const notBytes = { clientName: 'x.png' } as unknown as Buffer;
    await expect(submit({ referenceImage: notBytes })).rejects.toMatchObject({ statusCode: 400 });
    await expect(submit({ referenceImage: Buffer.from('<html></html>') })).rejects.toMatchObject({
      statusCode: 415,
      code: 'unsupported_media_type',
    });
    await expect(submit({ referenceImage: await png(101, 100) })).rejects.toMatchObject({
      statusCode: 413,
      message: 'referenceImage is over 10000 pixels; send a smaller one',
    });
    expect(jobs.rows.size).toBe(0);
  });

  it('answers 429 with Retry-After once the user has the most generations in flight', async () => {
    const { jobs, counted, submit } = setup();
    await submit({}, keyed('k1'));
    await submit({ referenceImage: await png(40, 20) }, keyed('k2'));
    await submit({ ownerId: 'bob' });
    await submit({}, keyed('k3'));
    // The count is read only to word the refusal: the insert itself holds the cap.
    expect(counted).toEqual([]);

    await expect(submit({}, keyed('k4'))).rejects.toMatchObject({
      statusCode: 429,
      code: 'rate_limited',
      message: 'you have 3 generations queued or running; wait for one to finish',
      retryAfterS: 5,
    });
    await expect(submit({ referenceImage: await png(40, 20) })).rejects.toMatchObject({ statusCode: 429 });
    expect(counted).toEqual(['alice/generate-image', 'alice/generate-image']);
    expect(jobs.rows.size).toBe(4);
    expect(jobs.answers.map((answer) => answer.key)).toEqual(['k1', 'k2', 'k3']);
    expect((await submit({ ownerId: 'bob' })).status).toBe(202);
  });

  it('passes on any other failure to write the job as it is', async () => {
    const { jobs, counted, submit } = setup();
    jobs.create = async () => {
      throw new Error('the database is away');
    };
    await expect(submit({})).rejects.toThrow('the database is away');
    expect(counted).toEqual([]);
  });
});
