import { describe, expect, it } from '@jest/globals';
import { CNIError } from '@nicpool/cni';
import { parseVethConf, type VethConf } from './conf.ts';

/** What parseVethConf threw, as code and msg; fails the test when it returned. */
function refusal(conf: Record<string, unknown>): { code: number; msg: string } {
  try {
    parseVethConf(conf);
  } catch (e) {
    if (!(e instanceof CNIError)) throw e;
    return { code: e.code, msg: e.message };
  }
  throw new Error(`accepted ${JSON.stringify(conf)}`);
}

const DEFAULTS: VethConf = {
  cidrs: [],
  rpFilter: { enabled: true, value: 0 },
  moveRoutes: true,
  hardwarePrefix: undefined,
  onlyHardware: false,
  prevResult: undefined,
};

describe('defaults (C1)', () => {
  it('{} and {"type":"veth"} give v0.1.4 defaults', () => {
    expect(parseVethConf({})).toStrictEqual(DEFAULTS);
    expect(parseVethConf({ cniVersion: '0.3.1', name: 'n', type: 'veth', unknown: [1] })).toEqual(
      DEFAULTS,
    );
  });

  it('null fields read as absent', () => {
    expect(
      parseVethConf({
        service_cidr: null,
        rp_filter: null,
        move_routes: null,
        hardware_prefix: null,
        only_hardware: null,
      }),
    ).toStrictEqual(DEFAULTS);
    expect(parseVethConf({ hardware_prefix: '' }).hardwarePrefix).toBeUndefined();
  });

  it('keeps a valid prevResult as it came', () => {
    const prevResult = { cniVersion: '0.3.1', ips: [{ address: '10.7.168.173/16' }] };
    expect(parseVethConf({ prevResult }).prevResult).toBe(prevResult);
  });
});

describe('CIDRs (A8 order, C2 aliases)', () => {
  it('orders cluster → service → additional, whatever the field order', () => {
    expect(
      parseVethConf({
        additional_cidr: ['172.16.0.0/16'],
        service_cidr: ['10.96.0.0/12'],
        cluster_cidr: ['10.244.0.0/16'],
      }).cidrs,
    ).toEqual([
      { family: 4, cidr: '10.244.0.0/16' },
      { family: 4, cidr: '10.96.0.0/12' },
      { family: 4, cidr: '172.16.0.0/16' },
    ]);
  });

  it('accepts the older alias names in the same order', () => {
    expect(
      parseVethConf({
        service_hijack_subnet: ['10.96.0.0/12'],
        additional_hijack_subnet: ['fd00:96::/108'],
        overlay_hijack_subnet: ['10.244.0.0/16'],
      }).cidrs,
    ).toEqual([
      { family: 4, cidr: '10.244.0.0/16' },
      { family: 4, cidr: '10.96.0.0/12' },
      { family: 6, cidr: 'fd00:96::/108' },
    ]);
  });

  it('uses the field and ignores its alias when both are set', () => {
    expect(
      parseVethConf({ service_cidr: ['10.96.0.0/12'], service_hijack_subnet: ['10.97.0.0/16'] })
        .cidrs,
    ).toEqual([{ family: 4, cidr: '10.96.0.0/12' }]);
  });

  it('writes each network canonically and once', () => {
    expect(
      parseVethConf({
        cluster_cidr: ['10.96.0.0/12'],
        service_cidr: ['10.96.1.1/12', '10.100.7.7/16', 'FD00:96:0::1/108'],
        additional_cidr: ['10.100.0.0/16', 'fd00:96::/108'],
      }).cidrs,
    ).toEqual([
      { family: 4, cidr: '10.96.0.0/12' },
      { family: 4, cidr: '10.100.0.0/16' },
      { family: 6, cidr: 'fd00:96::/108' },
    ]);
  });
});

describe('the other fields', () => {
  it.each([
    [{ enabled: false }, { enabled: false, value: 0 }],
    [{ value: 2 }, { enabled: true, value: 2 }],
    [
      { enabled: true, value: 1 },
      { enabled: true, value: 1 },
    ],
    [{}, { enabled: true, value: 0 }],
  ])('rp_filter %j → %j', (rp_filter, rpFilter) => {
    expect(parseVethConf({ rp_filter }).rpFilter).toEqual(rpFilter);
  });

  it.each([
    [true, true],
    [false, false],
    [-1, true],
    [0, true],
    [1, true],
    [2, false],
  ])('move_routes %j → %j (2 is v0.1.4 "never")', (move_routes, moveRoutes) => {
    expect(parseVethConf({ move_routes }).moveRoutes).toBe(moveRoutes);
  });

  it('hardware_prefix is lower-cased; only_hardware read as given', () => {
    expect(parseVethConf({ hardware_prefix: '0A:1B', only_hardware: true })).toEqual({
      ...DEFAULTS,
      hardwarePrefix: '0a:1b',
      onlyHardware: true,
    });
  });
});

describe('refusals (C3): code 7, the message names the field', () => {
  it.each([
    [
      { service_cidr: '10.96.0.0/12' },
      'service_cidr must be a list of CIDRs, like ["10.96.0.0/12"]',
    ],
    [
      { service_cidr: ['10.96.0.0'] },
      'service_cidr[0]: "10.96.0.0" is not a CIDR: missing "/prefix" (write it like "10.96.0.0/12")',
    ],
    [{ service_cidr: [12] }, 'service_cidr[0]: 12 is not a CIDR string (like "10.96.0.0/12")'],
    [
      { cluster_cidr: ['10.244.0.0/16', '10.300.0.0/16'] },
      'cluster_cidr[1]: "10.300.0.0/16" is not a CIDR: the address part is not an IP address (write it like "10.96.0.0/12")',
    ],
    [
      { additional_cidr: ['10.0.0.0/33'] },
      'additional_cidr[0]: "10.0.0.0/33" is not a CIDR: the prefix length must be at most 32 (write it like "10.96.0.0/12")',
    ],
    [
      { service_hijack_subnet: ['10.96.0.0/x'] },
      'service_hijack_subnet[0]: "10.96.0.0/x" is not a CIDR: the prefix length is not a number (write it like "10.96.0.0/12")',
    ],
    [
      { overlay_hijack_subnet: { cidr: '10.244.0.0/16' } },
      'overlay_hijack_subnet must be a list of CIDRs, like ["10.96.0.0/12"]',
    ],
    [
      { additional_hijack_subnet: [null] },
      'additional_hijack_subnet[0]: null is not a CIDR string (like "10.96.0.0/12")',
    ],
    [{ rp_filter: 'on' }, 'rp_filter must be an object like {"enabled": true, "value": 0}'],
    [{ rp_filter: [0] }, 'rp_filter must be an object like {"enabled": true, "value": 0}'],
    [{ rp_filter: { value: 3 } }, 'rp_filter.value must be 0 (off), 1 (strict) or 2 (loose)'],
    [{ rp_filter: { value: '0' } }, 'rp_filter.value must be 0 (off), 1 (strict) or 2 (loose)'],
    [{ rp_filter: { enabled: 1 } }, 'rp_filter.enabled must be true or false'],
    [
      { move_routes: 'never' },
      'move_routes must be true, false, or one of -1, 0, 1, 2 (2: never move)',
    ],
    [{ move_routes: 3 }, 'move_routes must be true, false, or one of -1, 0, 1, 2 (2: never move)'],
    [{ hardware_prefix: '0a1b' }, 'hardware_prefix: "0a1b" is not two hex bytes like "0a:1b"'],
    [
      { hardware_prefix: '0a:1b:2c' },
      'hardware_prefix: "0a:1b:2c" is not two hex bytes like "0a:1b"',
    ],
    [{ hardware_prefix: 10 }, 'hardware_prefix: 10 is not two hex bytes like "0a:1b"'],
    [
      { hardware_prefix: '01:00' },
      'hardware_prefix: 01:00 makes a multicast MAC (the first byte must be even)',
    ],
    [
      { hardware_prefix: '0B:1b' },
      'hardware_prefix: 0b:1b makes a multicast MAC (the first byte must be even)',
    ],
    [{ only_hardware: 'yes' }, 'only_hardware must be true or false'],
    [{ prevResult: 'x' }, 'prevResult: must be an object'],
    [
      { prevResult: { ips: [{ address: '10.7.168.173' }] } },
      'prevResult: ips[0].address must be an address with its prefix length',
    ],
  ])('%j', (conf, msg) => {
    expect(refusal(conf)).toEqual({ code: 7, msg });
  });
});
