/**
 * The allocator ↔ CNI shim contract: one schema per body, types derived from them.
 * Field names are Spiderpool's agent API exactly (`POST/DELETE /v1/ipam/ip`), so either
 * side interoperates with Spiderpool's. nicpool's extensions live under `/v1/nicpool/`.
 */
import Type, { type Static } from 'typebox';

export * from './codes.ts';

const name = (description: string): ReturnType<typeof Type.String> =>
  Type.String({ minLength: 1, maxLength: 253, description });

export const AddRequest = Type.Object(
  {
    containerID: name('Runtime container (sandbox) ID.'),
    ifName: Type.String({
      minLength: 1,
      maxLength: 15,
      description: 'Interface in the pod (eth0, net1, …).',
    }),
    netNamespace: Type.String({ maxLength: 4096 }),
    podNamespace: name('Pod namespace.'),
    podName: name('Pod name.'),
    podUID: Type.String({ maxLength: 64 }),
    defaultIPv4IPPool: Type.Optional(Type.Array(name('Pool name or pattern.'), { maxItems: 64 })),
    defaultIPv6IPPool: Type.Optional(Type.Array(name('Pool name or pattern.'), { maxItems: 64 })),
    cleanGateway: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: true },
);
export type AddRequest = Static<typeof AddRequest>;

export const IPConfig = Type.Object({
  version: Type.Union([Type.Literal(4), Type.Literal(6)]),
  /** Address with the pool subnet's prefix length: `10.6.168.172/16`. */
  address: Type.String(),
  nic: Type.String(),
  ipPool: Type.String(),
  gateway: Type.Optional(Type.String()),
  vlan: Type.Optional(Type.Integer()),
});
export type IPConfig = Static<typeof IPConfig>;

export const RouteConfig = Type.Object({
  ifName: Type.String(),
  dst: Type.String(),
  gw: Type.String(),
});
export type RouteConfig = Static<typeof RouteConfig>;

export const AddResponse = Type.Object({
  ips: Type.Array(IPConfig),
  routes: Type.Array(RouteConfig),
});
export type AddResponse = Static<typeof AddResponse>;

export const DelRequest = Type.Object(
  {
    containerID: name('Runtime container (sandbox) ID.'),
    ifName: Type.String({ minLength: 1, maxLength: 15 }),
    podNamespace: name('Pod namespace.'),
    podName: name('Pod name.'),
    podUID: Type.String({ maxLength: 64 }),
    netNamespace: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: true },
);
export type DelRequest = Static<typeof DelRequest>;

/** CHECK: is this attachment's reservation still recorded? Same body as DEL. */
export const CheckRequest = DelRequest;
export type CheckRequest = DelRequest;

/** GC: the runtime's attachments that are still valid (CNI 1.1 `cni.dev/valid-attachments`). */
export const GCRequest = Type.Object({
  validAttachments: Type.Array(
    Type.Object(
      { containerID: Type.String(), ifname: Type.String() },
      { additionalProperties: true },
    ),
    { maxItems: 100000 },
  ),
});
export type GCRequest = Static<typeof GCRequest>;

export const GCResponse = Type.Object({
  /** `namespace/name` of pods whose addresses were released. */
  released: Type.Array(Type.String()),
});
export type GCResponse = Static<typeof GCResponse>;

export const StatusResponse = Type.Object({
  ready: Type.Boolean(),
  message: Type.String(),
});
export type StatusResponse = Static<typeof StatusResponse>;

/** Every error: a stable code, one line for an admin, and whether retrying can help. */
export const ErrorBody = Type.Object({
  code: Type.String(),
  message: Type.String(),
  retryable: Type.Boolean(),
});
export type ErrorBody = Static<typeof ErrorBody>;
