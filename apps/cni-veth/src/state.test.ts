// ip's JSON below is what iproute2 6.1.0 printed (the `ip -json` command above each, run in
// network namespaces set up like the e2e simulator's node and the tutorial pod), copied
// unchanged apart from line breaks.
import { describe, expect, it } from '@jest/globals';
import { parseAddresses, parseLinks, parseRouteGet, parseRoutes, parseRules } from './state.ts';

const json = (text: string): unknown => JSON.parse(text);

// ip -json link show, in the tutorial pod after the ADDs of eth0 and net1
const POD_LINKS = `[
{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00"},
{"ifindex":2,"link_index":8,"ifname":"veth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"4a:b9:7d:d3:43:3f","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0},
{"ifindex":6,"link_index":3,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"aa:b8:10:23:14:47","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0},
{"ifindex":7,"link_index":5,"ifname":"net1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"e6:36:ae:4e:7b:4f","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0}]`;

// ip -json link show, the node end of that pod's veth0 (the other links as in NODE_ADDRS)
const NODE_HOST_LINK = `[{"ifindex":8,"link_index":2,"ifname":"veth3f1c9e7b2a4","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"66:6b:32:3f:67:1b","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"ifalias":"nicpool:first=eth0"}]`;

// ip -json addr show, on the tutorial node (ens192 with its IPv4, ens224 without, and the
// peers ens192p/ens224p)
const NODE_ADDRS = `[
{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host","valid_life_time":4294967295,"preferred_life_time":4294967295}]},
{"ifindex":2,"link":"ens192","ifname":"ens192p","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"3e:07:d2:68:2f:66","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::3c07:d2ff:fe68:2f66","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]},
{"ifindex":3,"link":"ens192p","ifname":"ens192","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"8e:0c:bb:3b:8b:bc","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.6.168.123","prefixlen":16,"scope":"global","label":"ens192","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::8c0c:bbff:fe3b:8bbc","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]},
{"ifindex":4,"link":"ens224","ifname":"ens224p","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"f2:27:cc:dd:ff:c2","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::f027:ccff:fedd:ffc2","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]},
{"ifindex":5,"link":"ens224p","ifname":"ens224","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"32:7e:6e:65:33:2f","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::307e:6eff:fe65:332f","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]`;

// ip -json route show table all (a pod's net1 with 10.7.168.173/16 and fd00:7::173/64,
// one route in table 100: without -4, ip dumps both families here)
const POD_ROUTES_ALL = `[
{"dst":"10.8.0.0/16","gateway":"10.7.0.1","dev":"net1","table":"100","flags":[]},
{"dst":"10.7.0.0/16","dev":"net1","protocol":"kernel","scope":"link","prefsrc":"10.7.168.173","flags":[]},
{"type":"local","dst":"10.7.168.173","dev":"net1","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.7.168.173","flags":[]},
{"type":"broadcast","dst":"10.7.255.255","dev":"net1","table":"local","protocol":"kernel","scope":"link","prefsrc":"10.7.168.173","flags":[]},
{"dst":"fd00:7::/64","dev":"net1","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}]`;

// ip -json rule show (the tutorial pod after both ADDs)
const POD_RULES = `[{"priority":0,"src":"all","table":"local"},{"priority":32764,"src":"10.7.168.173","table":"100"},{"priority":32765,"src":"all","dst":"10.7.168.173","dstlen":16,"table":"100"},{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]`;

describe('parseLinks', () => {
  it('keeps index, name and MAC', () => {
    expect(parseLinks(json(POD_LINKS))).toStrictEqual([
      { ifindex: 1, ifname: 'lo', address: '00:00:00:00:00:00' },
      { ifindex: 2, ifname: 'veth0', address: '4a:b9:7d:d3:43:3f' },
      { ifindex: 6, ifname: 'eth0', address: 'aa:b8:10:23:14:47' },
      { ifindex: 7, ifname: 'net1', address: 'e6:36:ae:4e:7b:4f' },
    ]);
  });

  it('and the alias, when the link has one', () => {
    expect(parseLinks(json(NODE_HOST_LINK))).toStrictEqual([
      {
        ifindex: 8,
        ifname: 'veth3f1c9e7b2a4',
        address: '66:6b:32:3f:67:1b',
        ifalias: 'nicpool:first=eth0',
      },
    ]);
  });

  it('skips entries without name or index; anything but a list is no links', () => {
    expect(
      parseLinks([{ ifname: 'x' }, { ifindex: 3 }, null, 'x', { ifindex: 9, ifname: 'y' }]),
    ).toStrictEqual([{ ifindex: 9, ifname: 'y', address: '' }]);
    expect([parseLinks(undefined), parseLinks({}), parseLinks('[]')]).toEqual([[], [], []]);
  });
});

describe('parseAddresses', () => {
  it('one entry per address with its link, family and scope', () => {
    expect(parseAddresses(json(NODE_ADDRS))).toStrictEqual([
      { ifname: 'lo', family: 4, local: '127.0.0.1', scope: 'host' },
      { ifname: 'lo', family: 6, local: '::1', scope: 'host' },
      { ifname: 'ens192p', family: 6, local: 'fe80::3c07:d2ff:fe68:2f66', scope: 'link' },
      { ifname: 'ens192', family: 4, local: '10.6.168.123', scope: 'global' },
      { ifname: 'ens192', family: 6, local: 'fe80::8c0c:bbff:fe3b:8bbc', scope: 'link' },
      { ifname: 'ens224p', family: 6, local: 'fe80::f027:ccff:fedd:ffc2', scope: 'link' },
      { ifname: 'ens224', family: 6, local: 'fe80::307e:6eff:fe65:332f', scope: 'link' },
    ]);
  });

  it('skips addresses of other families and without local', () => {
    expect(
      parseAddresses([
        {
          ifname: 'ens224',
          addr_info: [
            { family: 'inet', prefixlen: 16 },
            { family: 'mpls', local: 'x' },
          ],
        },
      ]),
    ).toEqual([]);
    expect(parseAddresses(undefined)).toEqual([]);
  });
});

describe('parseRoutes', () => {
  it('main when ip printed no table, unicast when no type, numbers as text', () => {
    expect(parseRoutes(json(POD_ROUTES_ALL), 4)).toStrictEqual([
      {
        family: 4,
        dst: '10.8.0.0/16',
        gateway: '10.7.0.1',
        dev: 'net1',
        table: '100',
        type: 'unicast',
      },
      {
        family: 4,
        dst: '10.7.0.0/16',
        dev: 'net1',
        protocol: 'kernel',
        scope: 'link',
        prefsrc: '10.7.168.173',
        table: 'main',
        type: 'unicast',
      },
      {
        family: 4,
        dst: '10.7.168.173',
        dev: 'net1',
        protocol: 'kernel',
        scope: 'host',
        prefsrc: '10.7.168.173',
        table: 'local',
        type: 'local',
      },
      {
        family: 4,
        dst: '10.7.255.255',
        dev: 'net1',
        protocol: 'kernel',
        scope: 'link',
        prefsrc: '10.7.168.173',
        table: 'local',
        type: 'broadcast',
      },
      // The family is the caller's word: in a dump without -4 an IPv6 route is labelled 4 too
      // (run.ts asks ip for one family per dump).
      {
        family: 4,
        dst: 'fd00:7::/64',
        dev: 'net1',
        protocol: 'kernel',
        metric: '256',
        table: 'main',
        type: 'unicast',
      },
    ]);
  });

  it('reads an -6 dump with a default route in table 100, local and multicast types', () => {
    // ip -6 -json route show table all (net1 with fd00:7::173/64, default via fd00:7::1 in 100)
    const v6 = json(
      '[{"dst":"default","gateway":"fd00:7::1","dev":"net1","table":"100","metric":1024,"flags":["linkdown"],"pref":"medium"},{"dst":"fd00:7::/64","dev":"net1","protocol":"kernel","metric":256,"flags":["linkdown"],"pref":"medium"},{"type":"local","dst":"fd00:7::173","dev":"net1","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"},{"type":"multicast","dst":"ff00::/8","dev":"net1","table":"local","protocol":"kernel","metric":256,"flags":["linkdown"],"pref":"medium"}]',
    );
    expect(parseRoutes(v6, 6)).toStrictEqual([
      {
        family: 6,
        dst: 'default',
        gateway: 'fd00:7::1',
        dev: 'net1',
        metric: '1024',
        table: '100',
        type: 'unicast',
      },
      {
        family: 6,
        dst: 'fd00:7::/64',
        dev: 'net1',
        protocol: 'kernel',
        metric: '256',
        table: 'main',
        type: 'unicast',
      },
      {
        family: 6,
        dst: 'fd00:7::173',
        dev: 'net1',
        protocol: 'kernel',
        metric: '0',
        table: 'local',
        type: 'local',
      },
      {
        family: 6,
        dst: 'ff00::/8',
        dev: 'net1',
        protocol: 'kernel',
        metric: '256',
        table: 'local',
        type: 'multicast',
      },
    ]);
  });

  it('skips entries without dst; a numeric table is text', () => {
    expect(parseRoutes([{ dev: 'x' }, { dst: '10.1.0.0/16', table: 254 }, null], 4)).toStrictEqual([
      { family: 4, dst: '10.1.0.0/16', table: '254', type: 'unicast' },
    ]);
    expect(parseRoutes(undefined, 4)).toEqual([]);
  });
});

describe('parseRules', () => {
  it('from and to with their lengths when ip printed one; all when no src', () => {
    expect(parseRules(json(POD_RULES), 4)).toStrictEqual([
      { family: 4, priority: 0, from: 'all', to: undefined, table: 'local' },
      { family: 4, priority: 32764, from: '10.7.168.173', to: undefined, table: '100' },
      { family: 4, priority: 32765, from: 'all', to: '10.7.168.173/16', table: '100' },
      { family: 4, priority: 32766, from: 'all', to: undefined, table: 'main' },
      { family: 4, priority: 32767, from: 'all', to: undefined, table: 'default' },
    ]);
  });

  it('an IPv6 dump', () => {
    // ip -6 -json rule show (after `ip -6 rule add priority 32765 to fd00:7::173/64 lookup 100`
    // and `ip -6 rule add priority 32764 from fd00:7::173/128 lookup 100`)
    const v6 = json(
      '[{"priority":0,"src":"all","table":"local"},{"priority":32764,"src":"fd00:7::173","table":"100"},{"priority":32765,"src":"all","dst":"fd00:7::173","dstlen":64,"table":"100"},{"priority":32766,"src":"all","table":"main"}]',
    );
    expect(parseRules(v6, 6)).toStrictEqual([
      { family: 6, priority: 0, from: 'all', to: undefined, table: 'local' },
      { family: 6, priority: 32764, from: 'fd00:7::173', to: undefined, table: '100' },
      { family: 6, priority: 32765, from: 'all', to: 'fd00:7::173/64', table: '100' },
      { family: 6, priority: 32766, from: 'all', to: undefined, table: 'main' },
    ]);
  });

  it('a src with srclen; a rule without table; none without priority', () => {
    // ip -json rule show (after `ip rule add priority 100 from 10.7.0.0/16 lookup 100`)
    const v4 = json(
      '[{"priority":0,"src":"all","table":"local"},{"priority":100,"src":"10.7.0.0","srclen":16,"table":"100"},{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]',
    );
    expect(parseRules(v4, 4)[1]).toStrictEqual({
      family: 4,
      priority: 100,
      from: '10.7.0.0/16',
      to: undefined,
      table: '100',
    });
    expect(
      parseRules(
        [
          { priority: 200, src: 'all', action: 'unreachable' },
          { priority: 300, src: 'all', table: 100 },
          { src: 'all', table: 'main' },
        ],
        4,
      ),
    ).toStrictEqual([
      { family: 4, priority: 200, from: 'all', to: undefined, table: '' },
      { family: 4, priority: 300, from: 'all', to: undefined, table: '100' },
    ]);
    expect(parseRules(undefined, 6)).toEqual([]);
  });
});

describe('parseRouteGet', () => {
  it('the preferred source of the route ip chose for the address', () => {
    // ip -json route get 10.6.168.172 (on the tutorial node)
    const got = json(
      '[{"dst":"10.6.168.172","dev":"ens192","prefsrc":"10.6.168.123","flags":[],"uid":0,"cache":[]}]',
    );
    expect(parseRouteGet(got, '10.6.168.172')).toBe('10.6.168.123');
  });

  it('nothing when ip answered for another address, failed, or gave no source', () => {
    // ip -json route get 10.9.1.1
    const got = json(
      '[{"dst":"10.9.1.1","dev":"net1p","prefsrc":"10.9.0.2","flags":[],"uid":0,"cache":[]}]',
    );
    expect(parseRouteGet(got, '10.9.1.2')).toBeUndefined();
    expect(parseRouteGet(undefined, '10.9.1.1')).toBeUndefined();
    expect(parseRouteGet([], '10.9.1.1')).toBeUndefined();
    expect(parseRouteGet([{ dst: '10.9.1.1', dev: 'd0' }], '10.9.1.1')).toBeUndefined();
  });
});
