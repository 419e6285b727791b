/**
 * What an install can set, as the builders in deploy.ts read it: {@link DEPLOY} holds the
 * concrete values deploy/ is rendered with (the chart's defaults), {@link CHART} the
 * chart's values and conditions in their place.
 */
import { NICPOOL_NAMESPACE } from './names.ts';
import { expr, FromValues, Test, type Cond, type Knob } from './template.ts';
import { defaultOf } from './values.ts';

type Obj = Record<string, unknown>;

/** Where a component's pods run and what they may use. */
export interface Placement {
  readonly resources: Knob<Obj>;
  /** Absent: no such field (deploy/). */
  readonly nodeSelector?: Knob<Obj>;
  readonly tolerations?: Knob<Obj[]>;
  /** Absent: the component's built-in affinity, if it has one. */
  readonly affinity?: Knob<Obj>;
}

export interface Install {
  /** Where the namespaced objects go, and the name in every reference to them. */
  readonly namespace: string;
  readonly image: string;
  readonly imagePullPolicy: Knob<string>;
  readonly imagePullSecrets?: Knob<Obj[]>;
  readonly logLevel: Knob<string>;
  /** Host directory of the CNI plugins. */
  readonly cniBinDir: Knob<string>;
  /** The webhook's certificate: its own (true) or cert-manager's (false). */
  readonly selfManagedCerts: Cond;
  readonly webhook: Placement & {
    readonly replicas: Knob<number>;
    readonly disruptionBudget: Cond;
  };
  readonly controller: Placement & { readonly replicas: Knob<number> };
  readonly allocator: Placement;
  readonly serviceMonitors: {
    readonly enabled: Cond;
    readonly interval?: Knob<string>;
    readonly labels?: Knob<Obj>;
  };
}

function typed<T>(path: string, check: (v: unknown) => boolean): T {
  const v = defaultOf(path);
  if (!check(v)) throw new Error(`chart value ${path}: unexpected default ${JSON.stringify(v)}`);
  return v as T;
}
const str = (p: string): string => typed(p, (v) => typeof v === 'string');
const num = (p: string): number => typed(p, (v) => typeof v === 'number');
const obj = (p: string): Obj => typed(p, (v) => typeof v === 'object' && v !== null);
/** deploy/ leaves empty settings out rather than writing `nodeSelector: {}`. */
function present<T extends Obj | Obj[]>(p: string): T | undefined {
  const v = typed<T>(p, (x) => typeof x === 'object' && x !== null);
  return Object.keys(v).length === 0 ? undefined : v;
}

const placementOf = (c: string): Placement => ({
  resources: obj(`${c}.resources`),
  nodeSelector: present(`${c}.nodeSelector`),
  tolerations: present(`${c}.tolerations`),
  affinity: present(`${c}.affinity`),
});

/** deploy/: the chart's defaults, in nicpool-system. */
export const DEPLOY: Install = {
  namespace: NICPOOL_NAMESPACE,
  image: `${str('image.repository')}:${str('image.tag')}`,
  imagePullPolicy: str('image.pullPolicy'),
  imagePullSecrets: present('imagePullSecrets'),
  logLevel: str('logLevel'),
  cniBinDir: str('cni.binDir'),
  selfManagedCerts: str('webhook.certificate.mode') === 'selfManaged',
  webhook: {
    ...placementOf('webhook'),
    replicas: num('webhook.replicas'),
    disruptionBudget: num('webhook.replicas') > 1,
  },
  controller: { ...placementOf('controller'), replicas: num('controller.replicas') },
  allocator: placementOf('allocator'),
  serviceMonitors: { enabled: typed('metrics.serviceMonitor.enabled', (v) => v === false) },
};

const v = (path: string): FromValues => new FromValues(`.Values.${path}`);
const placed = (c: string): Placement => ({
  resources: v(`${c}.resources`),
  nodeSelector: v(`${c}.nodeSelector`),
  tolerations: v(`${c}.tolerations`),
  affinity: v(`${c}.affinity`),
});

/** The chart: every setting from its values, the namespace the release's. */
export const CHART: Install = {
  namespace: expr('.Release.Namespace'),
  image: `${expr('.Values.image.repository')}:${expr('.Values.image.tag')}`,
  imagePullPolicy: v('image.pullPolicy'),
  imagePullSecrets: v('imagePullSecrets'),
  logLevel: v('logLevel'),
  cniBinDir: v('cni.binDir'),
  selfManagedCerts: new Test('eq .Values.webhook.certificate.mode "selfManaged"'),
  webhook: {
    ...placed('webhook'),
    replicas: v('webhook.replicas'),
    disruptionBudget: new Test('gt (int .Values.webhook.replicas) 1'),
  },
  controller: { ...placed('controller'), replicas: v('controller.replicas') },
  allocator: placed('allocator'),
  serviceMonitors: {
    enabled: new Test('.Values.metrics.serviceMonitor.enabled'),
    interval: v('metrics.serviceMonitor.interval'),
    labels: v('metrics.serviceMonitor.labels'),
  },
};
