export { type GeneratorDeps, generateImage } from './generate-image.ts';
export { handlers } from './handlers.ts';
export { generatorService } from './service.ts';
export { enhancePrompt, STYLE_GUIDELINES } from './style-guidelines.ts';
