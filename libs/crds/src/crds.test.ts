import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  compareIPText,
  decodeAllocatedIPs,
  decodeControlledIPPools,
  encodeAllocatedIPs,
  encodeControlledIPPools,
  renderCRDFiles,
  specAddresses,
} from './index.ts';

const crdDir = join(import.meta.dirname, '..', '..', '..', 'deploy', 'crds');

type Col = { name: string; priority?: number };
const columns = (file: string): string[] => {
  const crd = parse(readFileSync(join(crdDir, file), 'utf8')) as {
    spec: { versions: { additionalPrinterColumns: Col[] }[] };
  };
  return crd.spec.versions[0]!.additionalPrinterColumns.filter((c) => c.priority === undefined).map(
    (c) => c.name,
  );
};

describe('generated CRDs', () => {
  it('are committed exactly as generated', () => {
    for (const [file, yaml] of renderCRDFiles()) {
      expect(readFileSync(join(crdDir, file), 'utf8')).toBe(yaml);
    }
  });

  it('carry the printer columns of the seed, in order', () => {
    expect(columns('spiderpool.spidernet.io_spiderippools.yaml')).toEqual([
      'VERSION',
      'SUBNET',
      'ALLOCATED-IP-COUNT',
      'TOTAL-IP-COUNT',
      'DEFAULT',
      'DISABLE',
    ]);
    expect(columns('spiderpool.spidernet.io_spidersubnets.yaml')).toEqual([
      'VERSION',
      'SUBNET',
      'ALLOCATED-IP-COUNT',
      'TOTAL-IP-COUNT',
    ]);
  });
});

describe('allocatedIPs codec', () => {
  it('round trips, sorted by address, absent when empty', () => {
    const text =
      '{"10.6.168.180":{"pod":"default/b","podUid":"u2"},"10.6.168.9":{"pod":"default/a","podUid":"u1","interface":"net1"}}';
    const d = decodeAllocatedIPs(text);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.value.get('10.6.168.9')).toEqual({
      pod: 'default/a',
      podUid: 'u1',
      interface: 'net1',
    });
    expect(encodeAllocatedIPs(d.value)).toBe(
      '{"10.6.168.9":{"pod":"default/a","podUid":"u1","interface":"net1"},"10.6.168.180":{"pod":"default/b","podUid":"u2"}}',
    );
    expect(encodeAllocatedIPs(new Map())).toBeUndefined();
    expect(decodeAllocatedIPs(undefined)).toEqual({ ok: true, value: new Map() });
  });

  it('encodes in the order compareIPText sorts the addresses (IPv4 and IPv6)', () => {
    const ip = fc.oneof(fc.ipV4(), fc.ipV6());
    fc.assert(
      fc.property(fc.uniqueArray(ip, { maxLength: 40 }), (ips) => {
        const records = new Map<string, { pod: string; podUid: string }>();
        for (const a of ips) {
          const d = decodeAllocatedIPs(JSON.stringify({ [a]: { pod: 'ns/p', podUid: 'u' } }));
          if (d.ok) for (const k of d.value.keys()) records.set(k, { pod: 'ns/p', podUid: 'u' });
        }
        const text = encodeAllocatedIPs(records);
        const order = text === undefined ? [] : Object.keys(JSON.parse(text) as object);
        expect(order).toEqual([...records.keys()].sort(compareIPText));
      }),
    );
  });

  it('reads Spiderpool records (no interface) and canonicalises IPv6 keys', () => {
    const d = decodeAllocatedIPs('{"FD00::0001":{"pod":"ns/p","podUid":"x"}}');
    expect(d.ok && [...d.value.keys()]).toEqual(['fd00::1']);
  });

  it.each([
    ['not json', ''],
    ['[]', ''],
    ['{"10.0.0.300":{"pod":"a/b","podUid":"u"}}', '10.0.0.300'],
    ['{"10.0.0.1":{"pod":"b","podUid":"u"}}', '10.0.0.1'],
    ['{"10.0.0.1":{"pod":"a/b"}}', '10.0.0.1'],
    ['{"10.0.0.1":"a/b"}', '10.0.0.1'],
    ['{"10.0.0.1":{"pod":"a/b","podUid":"u","interface":1}}', '10.0.0.1'],
    ['{"fd00::1":{"pod":"a/b","podUid":"u"},"fd00:0::1":{"pod":"a/c","podUid":"v"}}', 'fd00:0::1'],
  ])('refuses %s at %j', (text, path) => {
    const d = decodeAllocatedIPs(text);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.error.path).toBe(path);
      expect(d.error.message).toMatch(/^status\.allocatedIPs/);
    }
  });
});

describe('controlledIPPools codec', () => {
  it('round trips', () => {
    const text =
      '{"auto-test-app-v4-eth0-b1a361c7e9df":{"ips":["10.6.168.171-10.6.168.173"],"application":"apps_v1_Deployment_default_test-app"}}';
    const d = decodeControlledIPPools(text);
    expect(d.ok && encodeControlledIPPools(d.value)).toBe(text);
  });
  it.each([
    '{"p":{"ips":"10.0.0.1"}}',
    '{"p":{"ips":["10.0.0.9-10.0.0.1"]}}',
    '{"p":{"ips":[],"application":3}}',
    '{"p":1}',
  ])('refuses %s', (text) => {
    const d = decodeControlledIPPools(text);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error.path).toBe('p');
  });
});

describe('specAddresses', () => {
  it('is ips minus excludeIPs, in the family of subnet', () => {
    const r = specAddresses({
      subnet: '10.6.0.1/16',
      ips: ['10.6.168.171-10.6.168.180'],
      excludeIPs: ['10.6.168.175'],
    });
    expect(r.ok && r.value.count()).toBe(9n);
    expect(r.ok && r.value.toStrings()).toEqual([
      '10.6.168.171-10.6.168.174',
      '10.6.168.176-10.6.168.180',
    ]);
  });
  it('names the bad entry', () => {
    const r = specAddresses({ subnet: '10.6.0.0/16', ips: ['10.6.0.1', 'fd00::1'] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ field: 'spec.ips', path: '[1]' });
  });
});
