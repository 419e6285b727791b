// The cluster invariants: pool records, SpiderEndpoints and live pods agree; no address twice.
export { checkSnapshot } from './check.ts';
export { topLevelKeys } from './json-keys.ts';
export {
  DEFAULT_GRACE_MS,
  DEFAULT_IN_FLIGHT_MS,
  formatFinding,
  Kind,
  summaryLine,
  type CheckOptions,
  type ClusterSnapshot,
  type Finding,
  type InvariantReport,
  type PodView,
  type StatefulSetView,
} from './snapshot.ts';
export { listAll, podView, type ListPageResult, type PodLike } from './read.ts';
