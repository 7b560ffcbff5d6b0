import { FOLDERS, type JobContext, type PermanentFolder } from '@mediaflow/domain';
import { HttpError } from './errors.ts';
import type { Answer, IdempotencyScope } from './idempotency.ts';
import type { LocalFile, MediaIntake, MediaSource } from './media-intake.ts';
import type { Accepted, Submissions } from './submissions.ts';

/** A blog image as the form sent it: a file, or one of the author's generated assets (not both). */
export interface BlogImageChoice {
  file?: LocalFile;
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
    if (banner.file && banner.assetId)
      throw new HttpError(400, 'invalid_input', 'send the banner as a file or as bannerAssetId, not both');
    if (featured.file && featured.assetId)
      throw new HttpError(400, 'invalid_input', 'send the featured image as a file or as featuredAssetId, not both');
    const assets = await this.deps.intake.resolveAssets(
      [banner.assetId, featured.assetId].filter((id) => id !== undefined),
      authorId,
    );

    const toUpload = [banner.file, featured.file].filter((file) => file !== undefined);
    const uploaded = await this.deps.intake.uploadTemporary(toUpload);
    const chosen = (choice: BlogImageChoice): MediaSource | undefined => {
      if (choice.file) return uploaded[toUpload.indexOf(choice.file)];
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

    try {
      return await this.deps.submissions.acceptMedia(
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
      // Not accepted after all: nothing it uploaded may stay in temporary storage.
      await this.deps.intake.discard(uploaded);
      throw error;
    }
  }
}
