// Reading apt's sources (both formats) into mmdebstrap mirror lines, and apt's simulated
// install into the package versions an image records.
import { describe, expect, it } from '@jest/globals';
import { debFileName, debianSources, simulatedInstall } from './debian.ts';

// This machine's /etc/apt/sources.list.d/debian.sources, as Debian's images ship it.
const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

describe('debianSources', () => {
  it('reads deb822 stanzas, comments inside them included', () => {
    expect(
      debianSources([{ path: '/etc/apt/sources.list.d/debian.sources', text: DEB822 }]),
    ).toEqual([
      'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main',
      'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main',
      'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main',
    ]);
  });

  it('reads one-line entries, with and without options', () => {
    const list = `# a comment
deb http://mirror.example/debian bookworm main contrib
deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian-security bookworm-security main # trailing
deb-src http://mirror.example/debian bookworm main
`;
    expect(debianSources([{ path: '/etc/apt/sources.list', text: list }])).toEqual([
      'deb http://mirror.example/debian bookworm main contrib',
      'deb [signed-by=/k.gpg] http://mirror.example/debian-security bookworm-security main',
    ]);
  });

  it('leaves out other suites, third-party repositories, disabled stanzas and deb-src', () => {
    const text = `Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main

Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main

Types: deb
Enabled: no
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
`;
    expect(debianSources([{ path: '/x.sources', text }])).toEqual([]);
    expect(debianSources([{ path: '/x.sources.disabled', text: DEB822 }])).toEqual([]);
  });

  it('drops an inline Signed-By key (mmdebstrap finds the archive keyring itself)', () => {
    const text = `Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBF...
`;
    expect(debianSources([{ path: '/x.sources', text }])).toEqual([
      'deb http://deb.debian.org/debian bookworm main',
    ]);
  });
});

describe('simulatedInstall', () => {
  // Recorded from `apt-get -s -qq install nginx iproute2` in mmdebstrap's extract hook.
  const out = `Inst gcc-12-base (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64])
Conf gcc-12-base (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64])
Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64]) []
Inst zlib1g (1:1.2.13.dfsg-1+deb12u1 Debian-Security:12/oldstable-security [amd64])
Inst debconf (1.5.82 Debian:12.15/oldstable [all])
Conf libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64])
`;

  it('lists each installed package once, sorted, with version and architecture', () => {
    expect([...simulatedInstall(out)]).toEqual([
      ['debconf', { version: '1.5.82', arch: 'all' }],
      ['gcc-12-base', { version: '12.2.0-14+deb12u1', arch: 'amd64' }],
      ['libc6', { version: '2.36-9+deb12u14', arch: 'amd64' }],
      ['zlib1g', { version: '1:1.2.13.dfsg-1+deb12u1', arch: 'amd64' }],
    ]);
  });

  it('names the cached .deb as apt does (epoch colon as %3a)', () => {
    const p = simulatedInstall(out);
    expect(debFileName('zlib1g', p.get('zlib1g')!)).toBe(
      'zlib1g_1%3a1.2.13.dfsg-1+deb12u1_amd64.deb',
    );
    expect(debFileName('debconf', p.get('debconf')!)).toBe('debconf_1.5.82_all.deb');
  });
});
