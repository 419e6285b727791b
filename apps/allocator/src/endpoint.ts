/**
 * The SpiderEndpoint of a pod: what the allocator gave each NIC, and how an ADD answer is
 * derived from it (allocator.md, ADD steps 6–7, DEL).
 */
import { FINALIZER, Label } from '@nicpool/annotations';
import {
  API_VERSION,
  type EndpointIP,
  type SpiderEndpoint,
  type SpiderIPPool,
} from '@nicpool/crds';
import { parseCIDR, RangeSet, type IPFamily } from '@nicpool/ip';
import { apiStatus, isConflict, retryOnConflict, type RetryOptions } from '@nicpool/kube';
import type { AddResponse, IPConfig, RouteConfig } from '@nicpool/wire';
import type { NicPlan } from './planner.ts';
import type { AllocatorStore, PodObject } from './store.ts';

/** Top controller of a pod as the endpoint records it (ReplicaSet → Deployment by name). */
export function topController(pod: PodObject): { type: string; name: string } {
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller === true);
  if (owner === undefined) return { type: 'Pod', name: pod.metadata.name };
  if (owner.kind === 'ReplicaSet') {
    const hash = pod.metadata.labels?.['pod-template-hash'];
    if (hash !== undefined && owner.name.endsWith(`-${hash}`))
      return { type: 'Deployment', name: owner.name.slice(0, -hash.length - 1) };
  }
  return { type: owner.kind, name: owner.name };
}

export async function recordEndpoint(
  store: AllocatorStore,
  nodeName: string,
  retry: RetryOptions,
  pod: PodObject,
  owner: { type: string; name: string },
  entries: readonly EndpointIP[],
): Promise<void> {
  const ns = pod.metadata.namespace;
  const name = pod.metadata.name;
  const current = { uid: pod.metadata.uid, node: nodeName, ips: [...entries] };
  const ownerRefs =
    owner.type === 'StatefulSet'
      ? []
      : [
          {
            apiVersion: 'v1',
            kind: 'Pod',
            name,
            uid: pod.metadata.uid,
            blockOwnerDeletion: false,
          },
        ];
  const fresh: SpiderEndpoint = {
    apiVersion: API_VERSION,
    kind: 'SpiderEndpoint',
    metadata: {
      name,
      namespace: ns,
      labels: { [Label.endpointNode]: nodeName },
      finalizers: [FINALIZER],
      ownerReferences: ownerRefs,
    },
    status: { current, ownerControllerType: owner.type, ownerControllerName: owner.name },
  };
  await retryOnConflict(
    `SpiderEndpoint ${ns}/${name}`,
    async (freshRead) => (await store.getEndpoint(ns, name, freshRead)) ?? null,
    (ep) => {
      if (ep === null) return { write: fresh, result: undefined };
      const keep =
        ep.status?.current?.uid === pod.metadata.uid
          ? ep.status.current.ips.filter((i) => !entries.some((e) => e.interface === i.interface))
          : [];
      return {
        write: {
          ...ep,
          metadata: {
            ...ep.metadata,
            labels: { ...ep.metadata.labels, [Label.endpointNode]: nodeName },
            ownerReferences: ownerRefs,
            finalizers: [...new Set([...(ep.metadata.finalizers ?? []), FINALIZER])],
          },
          status: { ...fresh.status, current: { ...current, ips: [...keep, ...entries] } },
        },
        result: undefined,
      };
    },
    async (ep) =>
      ep.metadata.resourceVersion === undefined
        ? store.createEndpoint(ep)
        : store.replaceEndpoint(ep).catch((e: unknown) => {
            // Gone since the read (a predecessor's Terminating endpoint lost its last
            // finalizer): as stale as a 409, so read again and create it.
            if (apiStatus(e) === 404)
              throw Object.assign(new Error(`SpiderEndpoint ${ns}/${name} vanished`), {
                code: 409,
                cause: e,
              });
            throw e;
          }),
    retry,
  );
}

/**
 * Removes the pod's SpiderEndpoint after its addresses were released: strips nicpool's
 * finalizer, then deletes with `{uid, resourceVersion}` preconditions. `podUid` is the pod
 * the endpoint was judged for; every read (fresh after a 409) is checked against it, so an
 * endpoint already replaced for the pod's successor (same name, new UID, possibly ADDed on
 * another node in between) is left alone, finalizer and all (review finding #2).
 */
export async function dropEndpoint(
  store: AllocatorStore,
  retry: RetryOptions,
  ep: SpiderEndpoint,
  podUid: string,
): Promise<void> {
  const ns = ep.metadata.namespace!;
  const name = ep.metadata.name;
  const { result, written } = await retryOnConflict(
    `SpiderEndpoint ${ns}/${name} finalizer`,
    async (fresh) => (fresh ? ((await store.getEndpoint(ns, name, true)) ?? null) : ep),
    (cur): { write?: SpiderEndpoint; result: SpiderEndpoint | undefined } => {
      if (cur === null || cur.status?.current?.uid !== podUid) return { result: undefined };
      if (!(cur.metadata.finalizers ?? []).includes(FINALIZER)) return { result: cur };
      return {
        write: {
          ...cur,
          metadata: {
            ...cur.metadata,
            finalizers: (cur.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
          },
        },
        result: cur,
      };
    },
    (next) => store.replaceEndpoint(next),
    retry,
  );
  if (result === undefined) return; // gone, or now another pod's: not ours to delete
  const judged = (written as SpiderEndpoint | undefined) ?? result;
  const { uid, resourceVersion } = judged.metadata;
  // Objects from the API server always carry both; without them no precondition could hold.
  if (uid === undefined || resourceVersion === undefined) return;
  await store.deleteEndpoint(ns, name, { uid, resourceVersion }).catch((e: unknown) => {
    // 404: the finalizer was the last thing holding a deleted object. 409: it changed
    // since (a successor's ADD): leave it to its new owner.
    if (apiStatus(e) !== 404 && !isConflict(e)) throw e;
  });
}

/** Fills one family of an endpoint entry: address with the subnet's prefix, gateway, routes. */
export function fill(
  entry: EndpointIP,
  family: IPFamily,
  poolName: string,
  ip: string,
  pool: SpiderIPPool,
  nic: NicPlan,
): void {
  const cidr = parseCIDR(pool.spec.subnet);
  const prefix = cidr.ok ? cidr.value.prefix : family === 4 ? 32 : 128;
  const address = `${ip}/${prefix}`;
  const gw = pool.spec.gateway;
  if (family === 4)
    Object.assign(entry, {
      ipv4: address,
      ipv4Pool: poolName,
      ...(gw === undefined ? {} : { ipv4Gateway: gw }),
    });
  else
    Object.assign(entry, {
      ipv6: address,
      ipv6Pool: poolName,
      ...(gw === undefined ? {} : { ipv6Gateway: gw }),
    });
  if (pool.spec.vlan !== undefined) entry.vlan = pool.spec.vlan;
  const subnet = cidr.ok ? RangeSet.fromCIDR(cidr.value) : undefined;
  const routes = [
    ...(pool.spec.routes ?? []),
    ...nic.extraRoutes.filter((r) => subnet?.containsText(r.gw) === true),
  ];
  if (nic.defaultRoute && !nic.cleanGateway && gw !== undefined)
    routes.push({ dst: family === 4 ? '0.0.0.0/0' : '::/0', gw });
  entry.routes = [...(entry.routes ?? []), ...routes];
}

/** The ADD answer for one NIC, from its endpoint entry. */
export function answer(e: EndpointIP): AddResponse {
  const ips: IPConfig[] = [];
  if (e.ipv4 !== undefined)
    ips.push({
      version: 4,
      address: e.ipv4,
      nic: e.interface,
      ipPool: e.ipv4Pool ?? '',
      ...(e.ipv4Gateway === undefined ? {} : { gateway: e.ipv4Gateway }),
      ...(e.vlan === undefined ? {} : { vlan: e.vlan }),
    });
  if (e.ipv6 !== undefined)
    ips.push({
      version: 6,
      address: e.ipv6,
      nic: e.interface,
      ipPool: e.ipv6Pool ?? '',
      ...(e.ipv6Gateway === undefined ? {} : { gateway: e.ipv6Gateway }),
      ...(e.vlan === undefined ? {} : { vlan: e.vlan }),
    });
  const routes: RouteConfig[] = (e.routes ?? []).map((r) => ({
    ifName: e.interface,
    dst: r.dst,
    gw: r.gw,
  }));
  return { ips, routes };
}
