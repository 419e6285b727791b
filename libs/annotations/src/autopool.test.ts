import { describe, expect, it } from '@jest/globals';
import {
  applicationLabels,
  applicationString,
  autoPoolName,
  isAutoPoolOf,
  labelValueOf,
  MAX_NAME,
  parseApplicationString,
} from './autopool.ts';
import { Label } from './keys.ts';

const UID = 'a1b2c3d4-0000-4000-8000-b1a361c7e9df';

describe('autoPoolName', () => {
  it('is the tutorial name', () => {
    expect(autoPoolName('test-app', 4, 'eth0', UID)).toBe('auto-test-app-v4-eth0-b1a361c7e9df');
    expect(autoPoolName('test-app', 6, 'net1', UID)).toBe('auto-test-app-v6-net1-b1a361c7e9df');
  });

  it('is lower case and DNS-safe', () => {
    expect(autoPoolName('web', 4, 'Net_A', 'X-Y-ABC')).toBe('auto-web-v4-net-a-abc');
  });

  it('shortens the workload name to fit 253 characters, keeping the rest', () => {
    const long = 'w'.repeat(253);
    const name = autoPoolName(long, 4, 'net1', UID);
    expect(name).toHaveLength(MAX_NAME);
    expect(name.startsWith('auto-www')).toBe(true);
    expect(name.endsWith('-v4-net1-b1a361c7e9df')).toBe(true);
    // Two names that differ only past the cut share a pool name; the UID group tells them apart.
    expect(autoPoolName(long + 'x', 4, 'net1', 'u-1')).not.toBe(
      autoPoolName(long, 4, 'net1', 'u-2'),
    );
  });
});

describe('labels', () => {
  it('keeps short names and shortens long ones to 63 characters, stably', () => {
    expect(labelValueOf('test-app')).toBe('test-app');
    const long = `${'a'.repeat(60)}-b-${'c'.repeat(40)}`;
    const v = labelValueOf(long);
    expect(v.length).toBeLessThanOrEqual(63);
    expect(v).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(labelValueOf(long)).toBe(v);
    expect(labelValueOf(`${long}d`)).not.toBe(v);
  });

  it('round-trips the application string', () => {
    const app = { kind: 'Deployment', namespace: 'default', name: 'test-app' } as const;
    expect(applicationString(app)).toBe('apps_v1_Deployment_default_test-app');
    expect(parseApplicationString('apps_v1_Deployment_default_test-app')).toEqual(app);
    expect(parseApplicationString('batch_v1_CronJob_ns_nightly.run')).toEqual({
      kind: 'CronJob',
      namespace: 'ns',
      name: 'nightly.run',
    });
    expect(parseApplicationString('apps_v1_Pod_default_x')).toBeUndefined();
    expect(parseApplicationString('batch_v1_Deployment_default_x')).toBeUndefined();
    expect(parseApplicationString('nonsense')).toBeUndefined();
  });

  it('matches a pool to its application, NIC and family only', () => {
    const app = { kind: 'StatefulSet', namespace: 'db', name: 'pg' } as const;
    const labels = {
      [Label.ownerApplicationKind]: 'StatefulSet',
      [Label.ownerApplicationNamespace]: 'db',
      [Label.ownerApplicationName]: 'pg',
      [Label.interface]: 'net1',
      [Label.ipVersion]: 'IPv4',
    };
    expect(isAutoPoolOf(labels, app, 'net1', 4)).toBe(true);
    expect(isAutoPoolOf(labels, app, 'eth0', 4)).toBe(false);
    expect(isAutoPoolOf(labels, app, 'net1', 6)).toBe(false);
    expect(isAutoPoolOf(labels, { ...app, kind: 'Deployment' }, 'net1', 4)).toBe(false);
    expect(isAutoPoolOf(undefined, app, 'net1', 4)).toBe(false);
    expect(applicationLabels(app)).toEqual({
      'ipam.spidernet.io/app-api-group': 'apps',
      'ipam.spidernet.io/app-api-version': 'v1',
      'ipam.spidernet.io/app-kind': 'StatefulSet',
      'ipam.spidernet.io/app-namespace': 'db',
      'ipam.spidernet.io/app-name': 'pg',
    });
  });

  it("with the workload UID, matches only that very workload's pool (review #17)", () => {
    const app = { kind: 'Deployment', namespace: 'default', name: 'test-app' } as const;
    const labels = {
      [Label.ownerApplicationKind]: 'Deployment',
      [Label.ownerApplicationNamespace]: 'default',
      [Label.ownerApplicationName]: 'test-app',
      [Label.ownerApplicationUID]: UID,
      [Label.interface]: 'eth0',
      [Label.ipVersion]: 'IPv4',
    };
    expect(isAutoPoolOf(labels, { ...app, uid: UID }, 'eth0', 4)).toBe(true);
    // A forged pool, or a namesake workload's kept pool not adopted yet, has another UID.
    expect(isAutoPoolOf(labels, { ...app, uid: 'u-other' }, 'eth0', 4)).toBe(false);
    const { [Label.ownerApplicationUID]: _uid, ...noUID } = labels;
    expect(isAutoPoolOf(noUID, { ...app, uid: UID }, 'eth0', 4)).toBe(false);
    // Without a UID (the controller looking for a kept pool to adopt) any UID matches.
    expect(isAutoPoolOf(labels, app, 'eth0', 4)).toBe(true);
  });
});
