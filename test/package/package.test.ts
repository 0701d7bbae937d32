// The Debian package: `npm run package` builds pkg/hostnetd_<version>_amd64.deb, and dpkg-deb
// reads back its metadata, maintainer scripts and files. The extracted tree must run on its own
// (production node_modules, both addons), and lintian may report only the tags the README explains.
// Installing it under a real systemd is the VM tier's test/vm/systemd.test.ts.
import { execa } from 'execa';
import { mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/daemon.js';

const version = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
const deb = path.join(REPO_ROOT, 'pkg', `hostnetd_${version}_amd64.deb`);
/** lintian tags the README's "Install" section explains; anything else fails the test (none left since the man pages) */
const EXPLAINED_TAGS = new Set<string>([]);

let tree: string;

beforeAll(async () => {
  await execa('bash', ['scripts/package.sh'], { cwd: REPO_ROOT, env: { HOSTNETD_LINTIAN: '0' } });
  tree = await mkdtemp(path.join(tmpdir(), 'hostnetd-deb-'));
  await execa('dpkg-deb', ['-x', deb, tree]);
}, 15 * 60_000);
afterAll(() => (tree ? rm(tree, { recursive: true, force: true }) : undefined));

const field = async (name: string) => (await execa('dpkg-deb', ['-f', deb, name])).stdout.trim();

describe('npm run package', () => {
  it('names the package, its version and what it needs at run time', async () => {
    expect(await field('Package')).toBe('hostnetd');
    expect(await field('Version')).toBe(version);
    expect(await field('Architecture')).toBe('amd64');
    const depends = (await field('Depends')).split(/,\s*/).map((d) => d.split(' ')[0]);
    // nodejs without a version: Debian 12's is 18, the programs check for 20 themselves
    expect((await field('Depends')).split(/,\s*/)).toContain('nodejs');
    for (const need of ['libc6', 'nodejs', 'iproute2', 'libvirt0']) expect(depends).toContain(need);
  });

  it('ships the programs, the units, the conffile and production node_modules only', async () => {
    const { stdout } = await execa('dpkg-deb', ['-c', deb]);
    const files = new Set(stdout.split('\n').map((l) => l.split(/\s+/)[5]!.replace(/^\./, '')));
    for (const f of ['/usr/lib/hostnetd/dist/daemon/main.js', '/usr/lib/hostnetd/dist/cli/main.js',
      '/usr/lib/hostnetd/build/Release/hostnet_libvirt.node', '/usr/lib/hostnetd/build/Release/hostnet_notify.node',
      '/usr/lib/hostnetd/native/netlink/build/Release/hostnet_netlink.node',
      '/usr/lib/hostnetd/node_modules/ws/package.json', '/usr/lib/hostnetd/node_modules/prom-client/package.json',
      '/lib/systemd/system/hostnetd.service', '/lib/systemd/system/hostnetd-restore.service',
      '/etc/hostnetd/config.json', '/usr/share/doc/hostnetd/copyright', '/usr/lib/hostnetd/scripts/dhcp-hook.sh',
      '/usr/share/man/man8/hostnetd.8.gz', '/usr/share/man/man8/hostnetctl.8.gz']) {
      expect(files, f).toContain(f);
    }
    // dhcpcd runs the hook: executable, where dist/dhcp/clients.js looks for it
    expect(stdout).toMatch(/^-rwxr-xr-x root\/root .* \.\/usr\/lib\/hostnetd\/scripts\/dhcp-hook\.sh$/m);
    for (const dev of ['typescript', 'vitest', 'node-gyp', '@types']) {
      expect([...files].filter((f) => f.startsWith(`/usr/lib/hostnetd/node_modules/${dev}/`)), dev).toEqual([]);
    }
    expect([...files].filter((f) => f.startsWith('/usr/lib/hostnetd/src/') || f.startsWith('/usr/lib/hostnetd/test/'))).toEqual([]);
    expect(await readlink(path.join(tree, 'usr/bin/hostnetd'))).toBe('../lib/hostnetd/bin/hostnetd');
    expect(await readlink(path.join(tree, 'usr/bin/hostnetctl'))).toBe('../lib/hostnetd/bin/hostnetctl');
    const conffiles = (await execa('dpkg-deb', ['-I', deb, 'conffiles'])).stdout.trim();
    expect(conffiles).toBe('/etc/hostnetd/config.json');
    const config = JSON.parse(await readFile(path.join(tree, 'etc/hostnetd/config.json'), 'utf8'));
    expect(config.listen).toEqual(['unix:/run/hostnetd/hostnetd.sock']);
  });

  it('installs units that run /usr/bin/hostnetd with the conffile, hostnetd.service as Type=notify', async () => {
    const unit = await readFile(path.join(tree, 'lib/systemd/system/hostnetd.service'), 'utf8');
    expect(unit).toMatch(/^Type=notify$/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/hostnetd --config \/etc\/hostnetd\/config\.json \$HOSTNETD_OPTS$/m);
    const restore = await readFile(path.join(tree, 'lib/systemd/system/hostnetd-restore.service'), 'utf8');
    expect(restore).toMatch(/^ExecStart=\/usr\/bin\/hostnetd restore --config \/etc\/hostnetd\/config\.json \$HOSTNETD_OPTS$/m);
    expect(restore).toMatch(/^Before=.*\bnetwork-online\.target\b/m);
  });

  it('has maintainer scripts that enable without starting on install, try-restart on upgrade, purge the state', async () => {
    const script = async (name: string) => (await execa('dpkg-deb', ['-I', deb, name])).stdout;
    const postinst = await script('postinst');
    expect(postinst).toMatch(/deb-systemd-helper enable "\$unit"/);
    expect(postinst).toMatch(/deb-systemd-invoke try-restart hostnetd\.service/);
    expect(postinst).not.toMatch(/deb-systemd-invoke (start|restart) /);
    expect(await script('prerm')).toMatch(/deb-systemd-invoke stop hostnetd\.service/);
    expect(await script('postrm')).toMatch(/purge\)[\s\S]*rm -rf \/var\/lib\/hostnetd/);
  });

  it('runs from the extracted tree alone: both programs start, the notify addon loads', async () => {
    const daemon = await execa(path.join(tree, 'usr/bin/hostnetd'), ['--help'], { reject: false });
    expect(daemon.stderr).toBe('');
    expect(daemon.stdout).toMatch(/^Usage: hostnetd/);
    expect(daemon.exitCode).toBe(0);
    const ctl = await execa(path.join(tree, 'usr/bin/hostnetctl'), ['--help'], { reject: false });
    expect(ctl.exitCode).toBe(0);
    // the daemon's whole import graph (pino, ws, execa, xmldom, prom-client) resolves from the package
    const graph = await execa('node', ['-e', `import(${JSON.stringify(path.join(tree, 'usr/lib/hostnetd/dist/daemon/daemon.js'))}).then(() => console.log('ok'))`]);
    expect(graph.stdout).toBe('ok');
    const addon = await execa('node', ['-p', `typeof require(${JSON.stringify(path.join(tree, 'usr/lib/hostnetd/build/Release/hostnet_notify.node'))}).notify`]);
    expect(addon.stdout).toBe('function');
  });

  it('has man pages for both programs, stamped with the version, that man renders without a warning', async () => {
    for (const page of ['hostnetd', 'hostnetctl']) {
      const file = path.join(tree, `usr/share/man/man8/${page}.8.gz`);
      const r = await execa('man', ['--warnings', '-l', file], { env: { MANWIDTH: '80', MAN_KEEP_FORMATTING: '0' }, reject: false });
      expect(r.exitCode, page).toBe(0);
      expect(r.stderr, page).toBe('');
      // grotty's overstrike (bold, underline) when the output is not a terminal
      const text = r.stdout.replace(/.\x08/g, '');
      expect(text).toMatch(new RegExp(`^${page.toUpperCase()}\\(8\\)`));
      expect(text).toMatch(new RegExp(`^hostnetd ${version.replace(/\./g, '\\.')}\\s+2026-`, 'm'));
      expect(text).toMatch(/^SEE ALSO$/m);
    }
  });

  it('refuses a Node older than 20 with a clear message', async () => {
    const fakeBin = await mkdtemp(path.join(tmpdir(), 'hostnetd-node18-'));
    try {
      await execa('sh', ['-c', `printf '#!/bin/sh\\necho v18.19.0\\n' > ${fakeBin}/node && chmod +x ${fakeBin}/node`]);
      for (const prog of ['hostnetd', 'hostnetctl']) {
        const r = await execa(path.join(tree, 'usr/bin', prog), ['--help'], { reject: false, env: { PATH: `${fakeBin}:${process.env.PATH}` } });
        expect(r.exitCode).toBe(2);
        expect(r.stderr).toBe(`${prog}: needs Node.js 20 or newer, found v18.19.0 (${fakeBin}/node): install nodejs 20 from NodeSource (README, "Install")`);
      }
    } finally {
      await rm(fakeBin, { recursive: true, force: true });
    }
  });

  it('leaves lintian only the tags the README explains', { timeout: 10 * 60_000 }, async () => {
    if (!existsSync('/usr/bin/lintian')) throw new Error('lintian is not installed (scripts/setup-deps.sh installs it)');
    const r = await execa('lintian', ['--tag-display-limit', '0', deb], { reject: false });
    const tags = r.stdout.split('\n').filter((l) => /^[EWIPX]: /.test(l)).map((l) => l.split(' ')[2]!);
    expect(tags.filter((t) => !EXPLAINED_TAGS.has(t))).toEqual([]);
    expect(r.stdout).not.toMatch(/^E: /m);
  });
});
