import type { AspectRatio } from '@mediaflow/domain';

/**
 * THE style guidelines every generated image follows: the one place to change the house style.
 * They are appended to the user's prompt, which stays first so the model weighs it most.
 */
export const STYLE_GUIDELINES: readonly string[] = [
  'One clear subject, in sharp focus, in a clean and uncluttered composition.',
  'Natural, even lighting and rich but true-to-life colour.',
  'Polished, professional quality fit for brand social media and blogs.',
  'No text, captions, watermarks, logos or borders unless the prompt asks for them.',
];

export function enhancePrompt(prompt: string, aspectRatio: AspectRatio): string {
  const guidelines = [
    ...STYLE_GUIDELINES,
    `Compose for a ${aspectRatio} frame; keep important content away from the edges.`,
  ];
  return `${prompt.trim()}\n\nStyle guidelines:\n${guidelines.map((line) => `- ${line}`).join('\n')}`;
}
