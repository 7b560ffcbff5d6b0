import { describe, expect, it } from 'vitest';
import { enhancePrompt, STYLE_GUIDELINES } from './style-guidelines.ts';

describe('enhancePrompt', () => {
  it("keeps the user's prompt first and verbatim, then every guideline", () => {
    const enhanced = enhancePrompt('  a red fox in snow  ', '16:9');
    expect(enhanced.startsWith('a red fox in snow\n\nStyle guidelines:\n')).toBe(true);
    for (const line of STYLE_GUIDELINES) expect(enhanced).toContain(`- ${line}`);
  });

  it('names the frame it composes for', () => {
    expect(enhancePrompt('a fox', '9:16')).toContain('Compose for a 9:16 frame');
    expect(enhancePrompt('a fox', '1:1')).toContain('Compose for a 1:1 frame');
  });
});
