import type { ResourceType, StoreProvider } from '@mediaflow/domain';

/** Widths offered in an image's srcset. */
export const SRCSET_WIDTHS = [320, 640, 1024, 1600] as const;

export interface Delivery {
  /** The URL to show: automatic format and quality where the store can do it. */
  deliveryUrl: string;
  /** Responsive widths for <img srcset>; absent for videos and for the local store. */
  srcset?: string;
  /** A still frame for <video poster>; absent for images and for the local store. */
  posterUrl?: string;
}

/**
 * Delivery URLs for a stored file, built from its URL by the store's own transformation syntax:
 * Cloudinary `f_auto,q_auto` path segments, ImageKit `tr=f-auto,q-auto` parameters; the local store as is.
 */
export function deliveryFor(media: {
  provider: StoreProvider | string;
  url: string;
  resourceType: ResourceType;
}): Delivery {
  if (media.provider === 'cloudinary') {
    const withTransform = (transform: string) => media.url.replace('/upload/', `/upload/${transform}/`);
    if (media.resourceType === 'video') {
      return {
        deliveryUrl: withTransform('f_auto,q_auto'),
        posterUrl: withTransform('so_0,f_jpg').replace(/\.[a-z0-9]+$/i, '.jpg'),
      };
    }
    return {
      deliveryUrl: withTransform('f_auto,q_auto'),
      srcset: SRCSET_WIDTHS.map((w) => `${withTransform(`f_auto,q_auto,w_${w}`)} ${w}w`).join(', '),
    };
  }
  if (media.provider === 'imagekit') {
    const withTransform = (transform: string) => `${media.url}${media.url.includes('?') ? '&' : '?'}tr=${transform}`;
    if (media.resourceType === 'video') return { deliveryUrl: media.url, posterUrl: `${media.url}/ik-thumbnail.jpg` };
    return {
      deliveryUrl: withTransform('f-auto,q-auto'),
      srcset: SRCSET_WIDTHS.map((w) => `${withTransform(`f-auto,q-auto,w-${w}`)} ${w}w`).join(', '),
    };
  }
  return { deliveryUrl: media.url };
}
