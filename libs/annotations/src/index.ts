/**
 * The one place that knows nicpool's annotation keys, their shapes, how to parse,
 * validate and format them, and which pools or subnets serve which NIC.
 * Every function returns a result or findings; nothing here throws on bad input.
 */
export * from './keys.ts';
export {
  AnnotationErrorCode,
  closest,
  escapeControl,
  formatAnnotationError,
  type AnnotationError,
} from './errors.ts';
export {
  compileGlob,
  hasWildcard,
  interfaceNameProblem,
  matchPoolNames,
  objectNameProblem,
  poolPatternProblem,
} from './names.ts';
export * from './pod.ts';
export * from './multus.ts';
export * from './resolve.ts';
export * from './validate.ts';
export * from './autopool.ts';
