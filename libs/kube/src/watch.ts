import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';

export interface WatchSpec<V> {
  /** For logs: "pools", "namespaces", … */
  readonly what: string;
  /** Collection path, e.g. `/apis/spiderpool.spidernet.io/v2beta1/spiderippools`. */
  readonly path: string;
  /** The list call, with the same selectors as the watch. */
  readonly list: () => Promise<KubernetesListObject<KubernetesObject>>;
  readonly into: Map<string, V>;
  readonly map: (o: KubernetesObject) => V;
  readonly key: (o: KubernetesObject) => string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Called after every change to `into` (e.g. to drop a derived snapshot). */
  readonly onChange?: () => void;
  /** Called after each event with the object as received (e.g. to queue a reconcile). */
  readonly onEvent?: (type: 'add' | 'update' | 'delete', o: KubernetesObject) => void;
}

export interface Watching {
  /** True once the initial list has been applied. */
  synced(): boolean;
  stop(): Promise<void>;
}

/** `metadata.namespace/metadata.name` (namespaced) or `/name` (cluster-scoped). */
export const objectKey = (o: KubernetesObject): string =>
  `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/**
 * Keeps `into` equal to the watched collection: list, then watch, restarting after a
 * failure (1 s later). The one watch loop the apps use; nothing else opens watches.
 */
export function watchInto<V>(
  kc: KubeConfig,
  spec: WatchSpec<V>,
  log: (msg: string, err?: unknown) => void,
): Watching {
  // ListWatch reports a failed list to its error handlers and still resolves start():
  // only a list that returned counts as synced, or readiness would rest on an empty cache.
  let listed = false;
  const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
    const r = await spec.list();
    listed = true;
    return r;
  };
  const lw = new ListWatch<KubernetesObject>(
    spec.path,
    new Watch(kc),
    list,
    false,
    spec.labelSelector,
    spec.fieldSelector,
  );
  let synced = false;
  const changed = (type: 'add' | 'update' | 'delete', o: KubernetesObject): void => {
    spec.onChange?.();
    spec.onEvent?.(type, o);
  };
  lw.on('add', (o) => {
    spec.into.set(spec.key(o), spec.map(o));
    changed('add', o);
  });
  lw.on('update', (o) => {
    spec.into.set(spec.key(o), spec.map(o));
    changed('update', o);
  });
  lw.on('delete', (o) => {
    spec.into.delete(spec.key(o));
    changed('delete', o);
  });
  let stopped = false;
  const begin = (): void => {
    if (stopped) return;
    lw.start().then(
      () => {
        if (listed) synced = true;
      },
      (e: unknown) => {
        // The API server may not be reachable yet: keep trying; readiness stays false.
        log(`listing ${spec.what} failed; retrying in 1s`, e);
        setTimeout(begin, 1000);
      },
    );
  };
  lw.on('error', (e) => {
    log(`watch of ${spec.what} failed; restarting in 1s`, e);
    setTimeout(begin, 1000);
  });
  begin();
  return {
    synced: () => synced,
    stop: async () => {
      stopped = true;
      await lw.stop();
    },
  };
}
