// The cluster invariants: pool records, SpiderEndpoints and live pods agree; no address twice.
export {};
