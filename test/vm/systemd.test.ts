// VM tier: hostnetd installed from its Debian package under a real systemd (PID 1), three boots
// sharing one state directory (/vmshare/state, bound on /var/lib/hostnetd before systemd
// starts; the package is installed again at each boot because the root overlay is tmpfs):
//   1. units enabled by postinst and started at boot, ordering, Type=notify, restart after
//      kill -9, journald JSON lines, capabilities; networks set up and made safe; then a DHCP
//      network whose client runs in a transient unit (dnsmasq behind a veth), made safe too;
//   2. one of the two NICs gone: the boot-time restore brings back the networks whose NICs are
//      there (the DHCP one with its lease, from a switch unit ordered before the restore),
//      skips the other, and the daemon serves and adopts the client; then the safe config is broken;
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

export const DHCP_TIMEOUT = 45;

const shareDir = await mkdtemp(join(tmpdir(), 'hostnetd-vm-systemd-'));
afterAll(() => rm(shareDir, { recursive: true, force: true }));

// --warm-up 0: under TCG the warm-up's few hundred ms of JIT work take seconds, paid at every
// start and restart these boots make; the daemon suite checks the warm-up on the host.
// The guest's root is this machine's, whose Docker-style /usr/sbin/policy-rc.d (exit 101) forbids
// maintainer scripts to start or restart services; a real host has none.
const preSystemd = `set -e
rm -f /usr/sbin/policy-rc.d
mkdir -p /vmshare/state /var/lib/hostnetd
mount --bind /vmshare/state /var/lib/hostnetd
dpkg -i ${deb} > /vmshare/dpkg-install.log 2>&1 || { cat /vmshare/dpkg-install.log; exit 1; }
echo 'HOSTNETD_OPTS="--dhcp-timeout ${DHCP_TIMEOUT} --warm-up 0"' > /etc/default/hostnetd
`;
// The second boot's DHCP server: veth_0 with dnsmasq behind it in a namespace, up before the
// boot-time restore (Type=forking: dnsmasq forks once its sockets are bound).
const dhcpSwitchUnit = `cat > /etc/systemd/system/hostnetd-test-dhcpsw.service <<'UNIT'
[Unit]
DefaultDependencies=no
After=local-fs.target
Before=hostnetd-restore.service
[Service]
Type=forking
ExecStartPre=/bin/sh -ec 'ip netns add dhcpsw; ip -n dhcpsw link add sw type bridge; ip -n dhcpsw addr add 192.0.2.1/24 dev sw; ip -n dhcpsw link set sw up; ip link add veth_0 type veth peer name swp0 netns dhcpsw; ip -n dhcpsw link set swp0 master sw up; ip link set veth_0 up'
ExecStart=/bin/sh -c 'exec ip netns exec dhcpsw dnsmasq --conf-file=/dev/null --user=root --port=0 --interface=sw --bind-interfaces --dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,2m --dhcp-option=option:router,192.0.2.1 --dhcp-leasefile=/vmshare/boot2-dnsmasq.leases --dhcp-authoritative --log-dhcp --log-facility=/vmshare/boot2-dnsmasq.log --pid-file=/run/hostnetd-test-dnsmasq.pid'
PIDFile=/run/hostnetd-test-dnsmasq.pid
UNIT
mkdir -p /etc/systemd/system/hostnetd-restore.service.wants
ln -sf ../hostnetd-test-dhcpsw.service /etc/systemd/system/hostnetd-restore.service.wants/hostnetd-test-dhcpsw.service
`;
// the first boot runs two inner files; under TCG on a loaded 2-core machine it took over 16 min
const common = { shareDir, systemd: true, preSystemd, timeoutMs: 30 * 60_000 };
await defineVmSuite({ nics: 2, files: ['test/vm/inner/systemd-boot1.inner.ts'], ...common });
await defineVmSuite({ nics: 1, files: ['test/vm/inner/systemd-boot2.inner.ts'], ...common, preSystemd: preSystemd + dhcpSwitchUnit,
  env: { HOSTNETD_TEST_DHCP_TIMEOUT: String(DHCP_TIMEOUT) } });
await defineVmSuite({ nics: 1, files: ['test/vm/inner/systemd-boot3.inner.ts'], ...common });
