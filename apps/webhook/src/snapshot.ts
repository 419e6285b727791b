import type { SpiderIPPool, SpiderReservedIP, SpiderSubnet } from '@nicpool/crds';

/** A NetworkAttachmentDefinition as the webhook needs it. */
export interface NAD {
  readonly namespace: string;
  readonly name: string;
  /** spec.config (JSON text). */
  readonly config: string;
}

/**
 * What admission decisions read besides the request: watch-fed caches in production, plain
 * arrays in tests. Decisions never call the API server.
 */
export interface Snapshot {
  readonly pools: readonly SpiderIPPool[];
  readonly subnets: readonly SpiderSubnet[];
  readonly reservedIPs: readonly SpiderReservedIP[];
  readonly namespaces: ReadonlyMap<string, { readonly labels: Readonly<Record<string, string>> }>;
  readonly nads: readonly NAD[];
}
