import { createHash } from 'node:crypto';
import { InFlightCapReached, type JobInput, type JobsRepository, type NewJobRecord } from '@mediaflow/db';
import { type AspectRatio, type JobContext, type JobRequest, REFERENCE_IMAGE_INPUT } from '@mediaflow/domain';
import { inspectImage } from '@mediaflow/providers';
import { HttpError } from './errors.ts';
import type { Answer, IdempotencyScope } from './idempotency.ts';
import type { Accepted, NewSubmission, Submissions } from './submissions.ts';

export interface GenerationRequest {
  ownerId: string;
  /** As the user typed it; the worker enhances it. */
  prompt: string;
  aspectRatio?: AspectRatio;
  /**
   * The reference image's bytes. A JSON body can carry any value here (only multipart carries a file):
   * anything but bytes is refused.
   */
  referenceImage?: Buffer;
  context: JobContext;
}

export interface GenerationDeps {
  /** Read only to tell a refused user how many generations they have in flight. */
  jobs: Pick<JobsRepository, 'countUnfinished'>;
  submissions: Pick<Submissions, 'accept'>;
  maxImagePixels: number;
  /** Generations one user may have queued or running at once: the job row is written only within it. */
  maxInFlight: number;
}

/** Image generation from a prompt (and a reference image): checks the request and queues a generate-image job. */
export class Generation {
  private readonly deps: GenerationDeps;

  constructor(deps: GenerationDeps) {
    this.deps = deps;
  }

  async submit(request: GenerationRequest, scope: IdempotencyScope): Promise<Answer<Accepted>> {
    const { ownerId, prompt, aspectRatio, referenceImage } = request;
    if (prompt.trim().length === 0) throw new HttpError(400, 'invalid_input', 'prompt must not be blank');
    const inputs: JobInput[] = referenceImage === undefined ? [] : [await this.referenceInput(referenceImage)];
    try {
      return await this.deps.submissions.accept((jobId) => {
        const last: JobRequest = {
          name: 'generate-image',
          payload: { ownerId, prompt, ...(aspectRatio ? { aspectRatio } : {}), hasReference: inputs.length > 0, jobId },
        };
        // The cap is checked by the insert of the job row itself (JobsRepository.create, which `accept`
        // hands this record to), so requests racing each other cannot all pass it.
        const job: NewSubmission & Pick<NewJobRecord, 'inFlightCap'> = {
          kind: 'generate-image',
          ownerId,
          plan: { last, context: request.context },
          inputs,
          inFlightCap: this.deps.maxInFlight,
        };
        return job;
      }, scope);
    } catch (error) {
      if (!(error instanceof InFlightCapReached)) throw error;
      const inFlight = await this.deps.jobs.countUnfinished(ownerId, 'generate-image');
      throw new HttpError(
        429,
        'rate_limited',
        `you have ${inFlight} generations queued or running; wait for one to finish`,
        { retryAfterS: 5 },
      );
    }
  }

  /** The reference image as the job's stored input: a JPEG, PNG or WebP within the pixel limit. */
  private async referenceInput(referenceImage: unknown): Promise<JobInput> {
    if (!Buffer.isBuffer(referenceImage)) {
      throw new HttpError(
        400,
        'invalid_input',
        'referenceImage must be sent as a file in a multipart/form-data request',
      );
    }
    const image = await inspectImage(referenceImage);
    if (!image) throw new HttpError(415, 'unsupported_media_type', 'referenceImage must be a JPEG, PNG or WebP image');
    if (image.width * image.height > this.deps.maxImagePixels) {
      throw new HttpError(
        413,
        'payload_too_large',
        `referenceImage is over ${this.deps.maxImagePixels} pixels; send a smaller one`,
      );
    }
    return {
      name: REFERENCE_IMAGE_INPUT,
      contentType: `image/${image.format}`,
      sha256: createHash('sha256').update(referenceImage).digest('hex'),
      data: referenceImage,
    };
  }
}
