import { err, ok, type Result } from '@nicpool/result';
import { AnnotationErrorCode as Code, type AnnotationError } from './errors.ts';
import { MultusAnnotation } from './keys.ts';
import { interfaceNameProblem } from './names.ts';
import { describe, Reader } from './reader.ts';

/** One network a pod asks Multus for. */
export interface NetworkSelection {
  readonly name: string;
  /** Absent: the pod's own namespace (Multus's rule). */
  readonly namespace?: string;
  /** Absent: Multus names it `net<i>`. */
  readonly interface?: string;
}

/** A NIC of a pod as Multus will create it. */
export interface PodInterface {
  readonly name: string;
  /** Index in Multus's delegate list: 0 is the cluster network (`eth0`). */
  readonly index: number;
  /** The network behind it; undefined for `eth0` without a default-network annotation. */
  readonly network?: NetworkSelection;
}

type Parsed<T> = Result<T, AnnotationError[]>;

// Multus checks namespace and name against the DNS-1123 label format.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkRef(r: Reader, path: string, sel: NetworkSelection): void {
  if (!DNS_LABEL.test(sel.name)) {
    r.fail(
      path,
      Code.invalidNetwork,
      `network name ${JSON.stringify(sel.name)} is not a valid NetworkAttachmentDefinition name`,
    );
  }
  if (sel.namespace !== undefined && !DNS_LABEL.test(sel.namespace)) {
    r.fail(
      path,
      Code.invalidNetwork,
      `namespace ${JSON.stringify(sel.namespace)} is not a valid namespace name`,
    );
  }
  if (sel.interface !== undefined) {
    const problem = interfaceNameProblem(sel.interface);
    if (problem !== undefined) {
      r.fail(
        path,
        Code.invalidInterface,
        `interface name ${JSON.stringify(sel.interface)} ${problem}`,
      );
    }
  }
}

function parseInto(r: Reader, value: string): NetworkSelection[] | undefined {
  // Typed as a string, but reached with whatever raw JSON held (see validate.ts).
  if (typeof value !== 'string') {
    r.fail('', Code.wrongType, `expected a string, got ${describe(value)}`);
    return undefined;
  }
  const text = value.trim();
  if (text === '') {
    r.fail('', Code.emptyValue, 'empty value');
    return undefined;
  }
  const out: NetworkSelection[] = [];
  if (text.startsWith('[')) {
    const j = r.parseJSON(text);
    if (!j.ok || !r.isArray(j.value, '')) return undefined;
    j.value.forEach((raw, i) => {
      const path = `[${i}]`;
      // Multus's own JSON has many more fields (ips, mac, cni-args, …); only these matter here.
      if (!r.isObject(raw, path)) return;
      const name = raw['name'];
      if (typeof name !== 'string' || name === '') {
        r.fail(
          path,
          Code.missingField,
          `field \`name\` is ${name === undefined ? 'missing' : `not a name (${describe(name)})`}`,
        );
        return;
      }
      const ns = r.optionalString(raw, 'namespace', path);
      const ifName = r.optionalString(raw, 'interface', path);
      if (ns === null || ifName === null) return;
      const sel: NetworkSelection = {
        name,
        ...(ns === undefined || ns === '' ? {} : { namespace: ns }),
        ...(ifName === undefined || ifName === '' ? {} : { interface: ifName }),
      };
      checkRef(r, path, sel);
      out.push(sel);
    });
    return out;
  }
  text.split(',').forEach((rawItem, i) => {
    const item = rawItem.trim();
    const path = `[${i}]`;
    const m = /^(?:([^/@]*)\/)?([^/@]*)(?:@([^/@]*))?$/.exec(item);
    if (item === '' || m === null || m[2] === '') {
      r.fail(
        path,
        Code.invalidNetwork,
        `${JSON.stringify(item)} is not of the form "namespace/name@interface" (namespace and @interface optional)`,
      );
      return;
    }
    const sel: NetworkSelection = {
      name: m[2]!,
      ...(m[1] === undefined ? {} : { namespace: m[1] }),
      ...(m[3] === undefined ? {} : { interface: m[3] }),
    };
    checkRef(r, path, sel);
    out.push(sel);
  });
  return out;
}

/**
 * Parses `k8s.v1.cni.cncf.io/networks` in both forms Multus accepts: a comma list of
 * `ns/name@ifname` or a JSON array of `{"name","namespace","interface",…}`.
 */
export function parseNetworks(value: string): Parsed<NetworkSelection[]> {
  const r = new Reader(MultusAnnotation.networks);
  const list = parseInto(r, value);
  if (list === undefined || r.errors.length > 0) return err(r.errors);
  // Multus would fail at sandbox creation with two NICs of one name.
  const names = podInterfaceNames(list);
  const seen = new Map<string, number>();
  names.forEach((n, i) => {
    const first = seen.get(n);
    if (first !== undefined) {
      r.fail(
        `[${i - 1}]`,
        Code.duplicateInterface,
        `interface ${JSON.stringify(n)} would be created twice`,
      );
    }
    seen.set(n, i);
  });
  return r.errors.length > 0 ? err(r.errors) : ok(list);
}

/** Parses `v1.multus-cni.io/default-network`: exactly one network (either form). */
export function parseDefaultNetwork(value: string): Parsed<NetworkSelection> {
  const r = new Reader(MultusAnnotation.defaultNetwork);
  const list = parseInto(r, value);
  if (list === undefined || r.errors.length > 0) return err(r.errors);
  if (list.length !== 1 || list[0] === undefined) {
    r.fail(
      '',
      Code.invalidNetwork,
      `names ${list.length} networks; the cluster network must be exactly one`,
    );
    return err(r.errors);
  }
  return ok(list[0]);
}

/**
 * Interface names exactly as Multus assigns them: index 0 is `eth0`; the i-th network
 * (1-based) is `net<i>` unless it names its interface. Named entries do not shift the
 * numbering of the others.
 */
export function podInterfaceNames(networks: readonly NetworkSelection[]): string[] {
  return ['eth0', ...networks.map((n, i) => n.interface ?? `net${i + 1}`)];
}

/** The pod's NICs from its Multus annotations; invalid annotations are errors. */
export function podInterfaces(
  annotations: Readonly<Record<string, string>>,
): Parsed<PodInterface[]> {
  const errors: AnnotationError[] = [];
  let defaultNet: NetworkSelection | undefined;
  let networks: NetworkSelection[] = [];
  const d = annotations[MultusAnnotation.defaultNetwork];
  if (d !== undefined) {
    const p = parseDefaultNetwork(d);
    if (p.ok) defaultNet = p.value;
    else errors.push(...p.error);
  }
  const n = annotations[MultusAnnotation.networks];
  if (n !== undefined) {
    const p = parseNetworks(n);
    if (p.ok) networks = p.value;
    else errors.push(...p.error);
  }
  if (errors.length > 0) return err(errors);
  const names = podInterfaceNames(networks);
  return ok(
    names.map((name, index) => {
      const network = index === 0 ? defaultNet : networks[index - 1];
      return network === undefined ? { name, index } : { name, index, network };
    }),
  );
}

/** Formats networks in the comma form (`ns/name@if`). */
export function formatNetworks(list: readonly NetworkSelection[]): string {
  return list
    .map(
      (n) =>
        `${n.namespace === undefined ? '' : `${n.namespace}/`}${n.name}${n.interface === undefined ? '' : `@${n.interface}`}`,
    )
    .join(',');
}
