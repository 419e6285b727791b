// The pure parts of bench/veth-sbr.ts: the netconfs each plugin gets, what counts as a CNI
// result, and the figures (ratios, targets) the report derives from measured times.
import { describe, expect, it } from '@jest/globals';
import {
  CASES,
  chainedNetconf,
  macvlanNetconf,
  NOT_BUILT,
  notAResult,
  report,
  usesVeth,
  type Measured,
} from '../bench/veth-sbr.ts';

const net1Result = {
  cniVersion: '0.3.1',
  interfaces: [{ name: 'net1', mac: '96:c5:43:d4:67:b0', sandbox: '/run/netns/p' }],
  ips: [{ version: '4', interface: 0, address: '10.7.168.173/16', gateway: '10.7.0.1' }],
  dns: {},
};

describe('netconfs', () => {
  it('gives eth0 the default route and net1 only its gateway, through static IPAM', () => {
    expect(JSON.parse(macvlanNetconf('eth0'))).toEqual({
      cniVersion: '0.3.1',
      name: 'macvlan-conf-ens192',
      type: 'macvlan',
      master: 'ens192',
      mode: 'bridge',
      ipam: {
        type: 'static',
        addresses: [{ address: '10.6.168.172/16', gateway: '10.6.0.1' }],
        routes: [{ dst: '0.0.0.0/0', gw: '10.6.0.1' }],
      },
    });
    expect(JSON.parse(macvlanNetconf('net1'))).toEqual({
      cniVersion: '0.3.1',
      name: 'macvlan-conf-ens224',
      type: 'macvlan',
      master: 'ens224',
      mode: 'bridge',
      ipam: { type: 'static', addresses: [{ address: '10.7.168.173/16', gateway: '10.7.0.1' }] },
    });
  });

  it('chains sbr and veth after macvlan with its result, veth with the service CIDR', () => {
    expect(JSON.parse(chainedNetconf('sbr', 'net1', net1Result))).toEqual({
      cniVersion: '0.3.1',
      name: 'macvlan-conf-ens224',
      type: 'sbr',
      prevResult: net1Result,
    });
    expect(JSON.parse(chainedNetconf('veth', 'net1', net1Result))).toEqual({
      cniVersion: '0.3.1',
      name: 'macvlan-conf-ens224',
      type: 'veth',
      service_cidr: ['10.96.0.0/12'],
      prevResult: net1Result,
    });
  });
});

describe('notAResult', () => {
  it('accepts a 0.3.1 result holding the address', () => {
    expect(notAResult(JSON.stringify(net1Result), '10.7.168.173/16')).toBeUndefined();
  });

  it.each([
    ['', 'stdout is not JSON'],
    ['null', 'stdout is not a JSON object'],
    ['{"code":7,"msg":"bad"}', 'cniVersion undefined, not "0.3.1"'],
    ['{"cniVersion":"1.0.0","ips":[]}', 'cniVersion "1.0.0", not "0.3.1"'],
    ['{"cniVersion":"0.3.1"}', 'no ips list'],
    ['{"cniVersion":"0.3.1","ips":[null,{"address":"10.7.168.174/16"}]}', 'no IP 10.7.168.173/16'],
  ])('refuses %s', (stdout, why) => {
    expect(notAResult(stdout, '10.7.168.173/16')).toBe(why);
  });
});

describe('report', () => {
  // Times per case in CASES order: true, node -e 0, veth VERSION, sbr net1, veth net1,
  // sbr eth0, veth eth0.
  const measured = (times: readonly number[][], over: Partial<Measured> = {}): Measured => ({
    runs: 4,
    cases: CASES,
    times,
    macvlan: [10, 11, 12, 13],
    environment: 'test machine',
    ...over,
  });

  it('derives the medians, the ratios and the ≤ 3× targets', () => {
    const r = report(
      measured([
        [2, 2, 2, 2],
        [15, 15, 15, 15],
        [20, 20, 20, 20],
        [10, 10, 10, 20],
        [25, 25, 25, 50],
        [10, 10, 10, 10],
        [40, 40, 40, 40],
      ]),
    );
    expect(r.commands).toEqual(['node_modules/.bin/node bench/veth-sbr.ts 4']);
    expect(r.tables[0]!.rows.map((row) => row.slice(1))).toEqual([
      [2, 2, 0],
      [15, 15, 13],
      [20, 20, 18],
      [10, 20, 8],
      [25, 50, 23],
      [10, 10, 8],
      [40, 40, 38],
      [11, 13, 9],
    ]);
    expect(r.tables[1]!.rows).toEqual([
      ['net1', 25, 10, 2.5, 2.5, 2.88, 5],
      ['eth0', 40, 10, 4, 4, 4.75, 20],
    ]);
    expect(r.targets).toEqual([
      {
        what: 'veth ADD net1 ÷ sbr ADD net1, median',
        target: '≤ 3×',
        measured: '2.50× (25 ms ÷ 10 ms)',
        met: true,
      },
      {
        what: 'veth ADD eth0 ÷ sbr ADD eth0, median',
        target: '≤ 3×',
        measured: '4.00× (40 ms ÷ 10 ms)',
        met: false,
      },
    ]);
  });

  it('without veth: sbr and the yardstick only, targets not met, the reason in the notes', () => {
    const cases = CASES.filter((c) => !usesVeth(c));
    expect(cases.map((c) => c.plugin)).toEqual(['true', 'node', 'sbr', 'sbr']);
    const r = report(measured([[2], [15], [10], [10]], { runs: 1, cases, skipped: NOT_BUILT }));
    expect(r.tables[0]!.rows).toHaveLength(cases.length + 1);
    expect(r.tables[1]!.rows).toEqual([]);
    expect(r.targets.map((t) => [t.met, t.measured])).toEqual([
      [false, `not run (${NOT_BUILT})`],
      [false, `not run (${NOT_BUILT})`],
    ]);
    expect(r.notes).toContain(`veth cases not run: ${NOT_BUILT}.`);
  });

  it('names another veth executable in the command', () => {
    const r = report(
      measured([[1], [1], [1], [1], [1], [1], [1]], { runs: 1, otherVeth: '/tmp/veth' }),
    );
    expect(r.commands).toEqual(['node_modules/.bin/node bench/veth-sbr.ts 1 --veth /tmp/veth']);
  });
});
