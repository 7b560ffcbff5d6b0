import { FOLDERS, type JobContext, type PermanentFolder } from '@mediaflow/domain';
import { HttpError } from './errors.ts';
import type { Answer, IdempotencyScope } from './idempotency.ts';
import type { ServiceLog } from './log.ts';
import type { LocalFile, MediaIntake, MediaSource } from './media-intake.ts';
import type { Accepted, Submissions } from './submissions.ts';
import type { Uploads } from './uploads.ts';

/** A blog image as the form sent it: a file, a finished resumable upload, or a generated asset (one of them). */
export interface BlogImageChoice {
  file?: LocalFile;
  uploadId?: string;
  assetId?: string;
}

export interface BlogSubmissionRequest {
  authorId: string;
  title: string;
  /** Markdown, stored as given. */
  content: string;
  imageAlt?: string;
  banner: BlogImageChoice;
  featured: BlogImageChoice;
  context: JobContext;
}

export interface BlogSubmissionDeps {
  intake: Pick<MediaIntake, 'resolveAssets' | 'uploadTemporary' | 'discard'>;
  submissions: Pick<Submissions, 'acceptMedia'>;
  uploads: Pick<Uploads, 'claim' | 'release' | 'consumed'>;
  log: ServiceLog;
}

type Role = 'banner' | 'featured';
const FOLDER: Record<Role, PermanentFolder> = { banner: FOLDERS.blogBanners, featured: FOLDERS.blogFeatured };

/**
 * A blog with an optional banner and featured image: its files go to temporary storage, and a chain
 * promotes each image into its folder and then writes the blog.
 */
export class BlogSubmission {
  private readonly deps: BlogSubmissionDeps;

  constructor(deps: BlogSubmissionDeps) {
    this.deps = deps;
  }

  async submit(request: BlogSubmissionRequest, scope: IdempotencyScope): Promise<Answer<Accepted>> {
    const { authorId, title, content, banner, featured } = request;
    for (const [role, choice] of [
      ['banner', banner],
      ['featured', featured],
    ] as const) {
      const given = [choice.file, choice.uploadId, choice.assetId].filter((value) => value !== undefined).length;
      if (given > 1)
        throw new HttpError(
          400,
          'invalid_input',
          `send the ${role} image as a file, as ${role}UploadId or as ${role}AssetId: one of them`,
        );
    }
    const assets = await this.deps.intake.resolveAssets(
      [banner.assetId, featured.assetId].filter((id) => id !== undefined),
      authorId,
    );
    const uploadIds = [banner.uploadId, featured.uploadId].filter((id) => id !== undefined);
    if (new Set(uploadIds).size < uploadIds.length)
      throw new HttpError(400, 'invalid_input', 'the banner and the featured image cannot be the same upload');
    const claimed = await this.deps.uploads.claim(uploadIds, authorId, ['image']);
    const fileOf = (choice: BlogImageChoice) =>
      choice.file ?? (choice.uploadId === undefined ? undefined : claimed.get(choice.uploadId));

    let uploaded: MediaSource[] = [];
    let answer: Answer<Accepted>;
    try {
      const toUpload = [fileOf(banner), fileOf(featured)].filter((file) => file !== undefined);
      uploaded = await this.deps.intake.uploadTemporary(toUpload);
      const chosen = (choice: BlogImageChoice): MediaSource | undefined => {
        const file = fileOf(choice);
        if (file) return uploaded[toUpload.indexOf(file)];
        return choice.assetId === undefined ? undefined : assets.get(choice.assetId);
      };
      const images = (['banner', 'featured'] as const).flatMap((role) => {
        const item = chosen(role === 'banner' ? banner : featured);
        return item ? [{ role, item }] : [];
      });
      const stepOf = (role: Role) => {
        const step = images.findIndex((image) => image.role === role);
        return step < 0 ? null : step;
      };

      answer = await this.deps.submissions.acceptMedia(
        {
          kind: 'submit-blog',
          ownerId: authorId,
          context: request.context,
          summary: { title, images: images.map(({ role, item }) => `${role}: ${item.label}`) },
          // In the job row only: the persist-blog job reads it from there, so Redis never holds it.
          record: { content },
          media: images.map(({ role, item }) => ({
            item,
            folder: FOLDER[role],
            publicId: (jobId) => `${role}-${jobId}`,
            label: `${role} ${item.label}`,
          })),
          persist: {
            label: 'write blog',
            request: (jobId, step) => ({
              name: 'persist-blog',
              payload: {
                jobId,
                step,
                authorId,
                title,
                imageAlt: request.imageAlt ?? null,
                bannerStep: stepOf('banner'),
                featuredStep: stepOf('featured'),
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
