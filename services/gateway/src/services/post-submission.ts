import type { BrandsRepository } from '@mediaflow/db';
import { FOLDERS, type JobContext } from '@mediaflow/domain';
import { HttpError } from './errors.ts';
import type { Answer, IdempotencyScope } from './idempotency.ts';
import type { ServiceLog } from './log.ts';
import type { LocalFile, MediaIntake, MediaSource } from './media-intake.ts';
import type { Accepted, Submissions } from './submissions.ts';
import type { Uploads } from './uploads.ts';

export const MAX_POST_MEDIA = 10;

/** One media item of a post: a file the client sent, one of its finished resumable uploads, or one of its generated assets. */
export type PostMediaRef = { file: LocalFile } | { uploadId: string } | { assetId: string };

export interface PostSubmissionRequest {
  authorId: string;
  brandId: string;
  caption: string;
  /** ISO 8601; publish at once when absent. */
  scheduledAt?: string;
  /** In the order the post shows them. */
  media: PostMediaRef[];
  context: JobContext;
  /** The caller checked already that the author is a member of the brand (before reading any file). */
  brandChecked?: boolean;
}

export interface PostSubmissionDeps {
  brands: Pick<BrandsRepository, 'isMember'>;
  intake: Pick<MediaIntake, 'resolveAssets' | 'uploadTemporary' | 'discard'>;
  submissions: Pick<Submissions, 'acceptMedia'>;
  uploads: Pick<Uploads, 'claim' | 'release' | 'consumed'>;
  log: ServiceLog;
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

  /** Only a member of the brand may post for it; another brand, or one that does not exist, is not found. */
  async authorize(authorId: string, brandId: string): Promise<void> {
    if (!(await this.deps.brands.isMember(brandId, authorId)))
      throw new HttpError(404, 'not_found', `no brand ${brandId}`);
  }

  async submit(request: PostSubmissionRequest, scope: IdempotencyScope): Promise<Answer<Accepted>> {
    const { authorId, brandId, caption, media } = request;
    const scheduledAt = request.scheduledAt ?? null;
    if (media.length < 1 || media.length > MAX_POST_MEDIA) {
      throw new HttpError(
        400,
        'invalid_input',
        `a post needs 1 to ${MAX_POST_MEDIA} media items (files in "media", ids in "uploadId" and "assetId"); got ${media.length}`,
      );
    }
    if (!request.brandChecked) await this.authorize(authorId, brandId);
    const assetIds = media.flatMap((ref) => ('assetId' in ref ? [ref.assetId] : []));
    const assets = await this.deps.intake.resolveAssets(assetIds, authorId);
    const uploadIds = media.flatMap((ref) => ('uploadId' in ref ? [ref.uploadId] : []));
    // Each upload is one file, stored once: naming it twice would promote one stored object twice.
    if (new Set(uploadIds).size < uploadIds.length)
      throw new HttpError(400, 'invalid_input', 'an upload may appear in a post only once');
    const claimed = await this.deps.uploads.claim(uploadIds, authorId, ['image', 'video']);

    let uploaded: MediaSource[] = [];
    let answer: Answer<Accepted>;
    try {
      // Files sent now and finished uploads alike go to temporary storage, in the post's order.
      const toStore = new Map<PostMediaRef, LocalFile>();
      for (const ref of media) {
        const file = 'file' in ref ? ref.file : 'uploadId' in ref ? claimed.get(ref.uploadId) : undefined;
        if (file) toStore.set(ref, file);
      }
      const files = [...new Set(toStore.values())];
      uploaded = await this.deps.intake.uploadTemporary(files);
      // The post keeps the order in which files, uploads and asset ids came.
      const items = media.flatMap((ref): MediaSource[] => {
        const file = toStore.get(ref);
        const item = file ? uploaded[files.indexOf(file)] : 'assetId' in ref ? assets.get(ref.assetId) : undefined;
        return item ? [item] : [];
      });
      answer = await this.deps.submissions.acceptMedia(
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
      // Not accepted after all: nothing it uploaded may stay in temporary storage, and its resumable
      // uploads may be used again.
      await this.deps.intake.discard(uploaded);
      await this.deps.uploads.release([...claimed.keys()]);
      throw error;
    }
    // The job has its own copies in the store now: the uploads' spool files can go.
    await this.deps.uploads
      .consumed([...claimed.keys()])
      .catch((error: unknown) => this.deps.log.warn({ err: error }, 'could not remove used uploads from the spool'));
    return answer;
  }
}
