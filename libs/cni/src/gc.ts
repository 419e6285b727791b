import { CNIError, CNIErrorCode } from './errors.ts';

export interface Attachment {
  readonly containerID: string;
  readonly ifname: string;
}

/**
 * GC's list of attachments the runtime still has (CNI 1.1 `cni.dev/valid-attachments`, or
 * the draft's `cni.dev/attachments`). Every item must be an object: a malformed one would
 * make GC release what it should keep, so the whole GC is refused, naming the item. Fields
 * that are not strings read as ''.
 */
export function validAttachments(netconf: object): {
  readonly key: string;
  readonly items: readonly Attachment[];
} {
  const conf = netconf as Readonly<Record<string, unknown>>;
  const key =
    conf['cni.dev/valid-attachments'] !== undefined
      ? 'cni.dev/valid-attachments'
      : 'cni.dev/attachments';
  const valid: unknown = conf[key] ?? [];
  if (!Array.isArray(valid))
    throw new CNIError(CNIErrorCode.invalidNetconf, `${key} must be an array`);
  const items = valid.map((a: unknown, i) => {
    const o = a as { containerID?: unknown; ifname?: unknown } | null;
    if (typeof o !== 'object' || o === null || Array.isArray(o))
      throw new CNIError(
        CNIErrorCode.invalidNetconf,
        `${key}[${i}] must be an object with containerID and ifname`,
      );
    return {
      containerID: typeof o.containerID === 'string' ? o.containerID : '',
      ifname: typeof o.ifname === 'string' ? o.ifname : '',
    };
  });
  return { key, items };
}
