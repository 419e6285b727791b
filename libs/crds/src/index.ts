export * from './definitions.ts';
export * from './types.ts';
export * from './codecs.ts';
export { renderCRDFiles } from './render.ts';
export { selectorMatches } from './selector.ts';
