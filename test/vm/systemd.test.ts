// VM tier: hostnetd installed from its Debian package under a real systemd (PID 1), three boots
// sharing one state directory (/vmshare/state, bound on /var/lib/hostnetd before systemd
// starts; the package is installed again at each boot because the root overlay is tmpfs):
//   1. units enabled by postinst and started at boot, ordering, Type=notify, restart after
//      kill -9, journald JSON lines, capabilities; networks set up and made safe;
//   2. one of the two NICs gone: the boot-time restore brings back the network whose NIC is
//      there, skips the other, and the daemon serves; then the safe config is broken;
//   3. a safe config its schema refuses: restore fails with 103, changes nothing, boot goes on.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { defineVmSuite, listingOnly } from './suite.js';
import { REPO_ROOT } from './vm.js';

const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
const deb = join(REPO_ROOT, 'pkg', `hostnetd_${version}_amd64.deb`);
// build the package unless it is newer than everything that goes into it
const inputs = ['src', 'bin', 'systemd', 'packaging', 'native', 'binding.gyp', 'scripts/package.sh', 'package.json', 'package-lock.json'];
const stale = !listingOnly() && (!existsSync(deb) || (await execa('find', [...inputs, '-newer', deb], { cwd: REPO_ROOT })).stdout.trim() !== '');
if (stale) await execa('bash', ['scripts/package.sh'], { cwd: REPO_ROOT, env: { HOSTNETD_LINTIAN: '0' } });

const shareDir = await mkdtemp(join(tmpdir(), 'hostnetd-vm-systemd-'));
afterAll(() => rm(shareDir, { recursive: true, force: true }));

// The guest's root is this machine's, whose Docker-style /usr/sbin/policy-rc.d (exit 101) forbids
// maintainer scripts to start or restart services; a real host has none.
const preSystemd = `set -e
rm -f /usr/sbin/policy-rc.d
mkdir -p /vmshare/state /var/lib/hostnetd
mount --bind /vmshare/state /var/lib/hostnetd
dpkg -i ${deb} > /vmshare/dpkg-install.log 2>&1 || { cat /vmshare/dpkg-install.log; exit 1; }
`;
const common = { shareDir, systemd: true, preSystemd, timeoutMs: 16 * 60_000 };
await defineVmSuite({ nics: 2, files: ['test/vm/inner/systemd-boot1.inner.ts'], ...common });
await defineVmSuite({ nics: 1, files: ['test/vm/inner/systemd-boot2.inner.ts'], ...common });
await defineVmSuite({ nics: 1, files: ['test/vm/inner/systemd-boot3.inner.ts'], ...common });
