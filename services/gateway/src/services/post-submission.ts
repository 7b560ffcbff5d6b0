import type { BrandsRepository } from '@mediaflow/db';
import { FOLDERS, type JobContext } from '@mediaflow/domain';
import { HttpError } from './errors.ts';
import type { Answer, IdempotencyScope } from './idempotency.ts';
import type { LocalFile, MediaIntake, MediaSource } from './media-intake.ts';
import type { Accepted, Submissions } from './submissions.ts';

export const MAX_POST_MEDIA = 10;

/** One media item of a post: a file the client sent, or one of the client's generated assets. */
export type PostMediaRef = { file: LocalFile } | { assetId: string };

export interface PostSubmissionRequest {
  authorId: string;
  brandId: string;
  caption: string;
  /** ISO 8601; publish at once when absent. */
  scheduledAt?: string;
  /** In the order the post shows them. */
  media: PostMediaRef[];
  context: JobContext;
}

export interface PostSubmissionDeps {
  brands: Pick<BrandsRepository, 'isMember'>;
  intake: Pick<MediaIntake, 'resolveAssets' | 'uploadTemporary' | 'discard'>;
  submissions: Pick<Submissions, 'acceptMedia'>;
}

/**
 * A social post for a brand: its files go to temporary storage, and a chain promotes each item into
 * auto/ and then writes the post, its media in the order they came.
 */
export class PostSubmission {
  private readonly deps: PostSubmissionDeps;

  constructor(deps: PostSubmissionDeps) {
    this.deps = deps;
  }

  async submit(request: PostSubmissionRequest, scope: IdempotencyScope): Promise<Answer<Accepted>> {
    const { authorId, brandId, caption, media } = request;
    const scheduledAt = request.scheduledAt ?? null;
    if (media.length < 1 || media.length > MAX_POST_MEDIA) {
      throw new HttpError(
        400,
        'invalid_input',
        `a post needs 1 to ${MAX_POST_MEDIA} media items (files in "media" and ids in "assetId"); got ${media.length}`,
      );
    }
    // Another brand's, or one that does not exist: not found either way.
    if (!(await this.deps.brands.isMember(brandId, authorId)))
      throw new HttpError(404, 'not_found', `no brand ${brandId}`);
    const assetIds = media.flatMap((ref) => ('assetId' in ref ? [ref.assetId] : []));
    const assets = await this.deps.intake.resolveAssets(assetIds, authorId);

    const files = media.flatMap((ref) => ('file' in ref ? [ref.file] : []));
    const uploaded = await this.deps.intake.uploadTemporary(files);
    // The post keeps the order in which files and asset ids came.
    const items = media.flatMap((ref): MediaSource[] => {
      const item = 'file' in ref ? uploaded[files.indexOf(ref.file)] : assets.get(ref.assetId);
      return item ? [item] : [];
    });
    try {
      return await this.deps.submissions.acceptMedia(
        {
          kind: 'submit-post',
          ownerId: authorId,
          context: request.context,
          summary: { brandId, caption, scheduledAt, media: items.map((item) => item.label) },
          media: items.map((item, step) => ({
            item,
            folder: FOLDERS.social,
            publicId: (jobId) => `post-${jobId}-${step}`,
            label: `media[${step}] ${item.label}`,
          })),
          persist: {
            label: 'write post',
            request: (jobId, step) => ({
              name: 'persist-post',
              payload: {
                jobId,
                step,
                authorId,
                brandId,
                caption,
                scheduledAt,
                mediaSteps: items.map((_, mediaStep) => mediaStep),
              },
            }),
          },
        },
        scope,
      );
    } catch (error) {
      // Not accepted after all: nothing it uploaded may stay in temporary storage.
      await this.deps.intake.discard(uploaded);
      throw error;
    }
  }
}
