// First boot under systemd, imported at the end of systemd-boot1.inner.ts (test/vm/systemd.test.ts): the DHCP
// clients as transient units of their own. dnsmasq serves veth_0/veth_1 from a namespace (the
// VM's slirp NICs answer DHCP themselves); `dyn` stays in the safe config for the second boot.
import { readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dnsmasq } from '../../helpers/dnsmasq.js';
import { startDhcpSwitch } from './dhcp-switch.js';
import { hostnetctl, journal, prop, show, waitUnit } from './systemd.js';

const UNIT = 'hostnetd-dhcp-dyn.service';
const UNIT2 = 'hostnetd-dhcp-dyn2.service';
const NET_CAPS = 0x3000n; // CAP_NET_ADMIN (12), CAP_NET_RAW (13)

let server: Dnsmasq | undefined;
afterAll(async () => {
  await server?.stop();
});

/** The Cap* lines of /proc/PID/status as numbers. */
async function caps(pid: number | string): Promise<Record<string, bigint>> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Object.fromEntries(status.split('\n').filter((l) => l.startsWith('Cap')).map((l) => {
    const [k, v] = l.split(/:\s+/) as [string, string];
    return [k, BigInt(`0x${v}`)];
  }));
}

const v4 = async (dev: string) => (JSON.parse((await execa('ip', ['-j', '-4', 'addr', 'show', 'dev', dev])).stdout) as { addr_info: { local: string; prefixlen: number }[] }[])
  .flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));

async function netCaps(name: string): Promise<Record<string, unknown>> {
  const r = await hostnetctl('--json', 'caps');
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout).networks[name] as Record<string, unknown>;
}

const mainPid = async (unit: string) => Number(await prop(unit, 'MainPID'));

describe('DHCP clients under systemd', { timeout: 300_000 }, () => {
  let pid = 0;
  let addrs: string[] = [];

  it('a DHCP network: its client runs in a transient unit of its own, with the capabilities it needs', async () => {
    server = await startDhcpSwitch();
    const r = await hostnetctl('setup', '--net', 'dyn', '--nic', 'veth_0', '--dhcp', '--blocking-dhcp', '--no-check');
    const why = async () => `${r.stdout}\n${r.stderr}\n${(await journal('hostnetd')).slice(-15).join('\n')}\n${(await execa('journalctl', ['--no-pager', '-o', 'cat', '-u', UNIT], { reject: false })).stdout}`;
    expect(r.exitCode, await why()).toBe(0);
    const unit = await show(UNIT, 'ActiveState', 'SubState', 'ControlGroup', 'MainPID', 'Type');
    expect(unit.get('ActiveState'), await why()).toBe('active');
    expect(unit.get('ControlGroup')).toBe(`/system.slice/${UNIT}`);
    expect(unit.get('ControlGroup')).not.toContain('hostnetd.service');
    pid = Number(unit.get('MainPID'));
    expect(pid).toBeGreaterThan(1);
    expect(await readFile(`/proc/${pid}/cgroup`, 'utf8')).toContain(`/system.slice/${UNIT}`);
    // dhcpcd: raw sockets and interface changes, port 68, privilege separation
    const client = await caps(pid);
    for (const bit of [10n, 12n, 13n]) expect((client.CapBnd! >> bit) & 1n, `client bounding set has bit ${bit}`).toBe(1n);
    const daemon = await caps(await prop('hostnetd.service', 'MainPID'));
    expect(daemon.CapBnd).toBe(NET_CAPS);
    expect(daemon.CapEff).toBe(NET_CAPS);
  });

  it('the lease is reported in the capabilities', async () => {
    addrs = await v4('dyn');
    expect(addrs).toEqual([expect.stringMatching(/^192\.0\.2\.1[0-5]\d\/24$/)]);
    expect(await netCaps('dyn')).toMatchObject({ dhcpv4: true, bootproto4: 'dhcp', ipv4addrs: addrs, gateway: '192.0.2.1' });
  });

  it('systemctl restart hostnetd: the same client process runs on, the lease is kept (no release), the daemon adopts it', async () => {
    const mark = server!.log().length;
    const daemonBefore = await prop('hostnetd.service', 'MainPID');
    const restart = await execa('systemctl', ['restart', 'hostnetd.service'], { reject: false });
    if (restart.exitCode !== 0) {
      const status = (await execa('systemctl', ['status', '--no-pager', '-n', '30', 'hostnetd.service'], { reject: false })).stdout;
      expect.fail(`systemctl restart hostnetd failed: ${restart.stderr}\n${status}\n${(await journal('hostnetd')).slice(-20).join('\n')}`);
    }
    expect(await prop('hostnetd.service', 'MainPID')).not.toBe(daemonBefore);
    expect(await mainPid(UNIT)).toBe(pid);
    expect(await prop(UNIT, 'ActiveState')).toBe('active');
    expect(await v4('dyn')).toEqual(addrs);
    expect(await netCaps('dyn')).toMatchObject({ dhcpv4: true, ipv4addrs: addrs });
    expect(server!.log().slice(mark)).not.toContain('DHCPRELEASE');
    // the new daemon started no client: it adopted the running one
    const since = (await journal('hostnetd')).map((l) => JSON.parse(l) as { event?: string; pid?: number; msg: string });
    const lastReady = since.map((e) => e.msg).lastIndexOf('ready');
    expect(since.slice(lastReady).filter((e) => e.event === 'dhcp-client-started')).toEqual([]);
    expect(since.slice(0, lastReady).some((e) => e.event === 'dhcp-client-started')).toBe(true);
  });

  it('kill -9 of the client: the unit is started again and the server acks it again', async () => {
    // never kill(0): that is this test's own process group
    expect(pid).toBeGreaterThan(1);
    const mark = server!.log().length;
    process.kill(pid, 'SIGKILL');
    const again = await waitUnit(UNIT, (m) => m.get('ActiveState') === 'active' && Number(m.get('MainPID')) > 0 && Number(m.get('MainPID')) !== pid,
      ['ActiveState', 'MainPID'], 90_000).catch(async (e: Error) => {
      const unitLog = (await execa('journalctl', ['--no-pager', '-o', 'cat', '-u', UNIT], { reject: false })).stdout;
      throw new Error(`${e.message}\n${(await journal('hostnetd')).slice(-20).join('\n')}\n${unitLog.split('\n').slice(-20).join('\n')}`);
    });
    pid = Number(again.get('MainPID'));
    expect(await readFile(`/proc/${pid}/cgroup`, 'utf8')).toContain(`/system.slice/${UNIT}`);
    // the new client asks for the address it had; dnsmasq gives it back
    await server!.waitLog(new RegExp(`DHCPACK\\(sw\\) ${addrs[0]!.split('/')[0]!.replace(/\./g, '\\.')}`), 60_000, mark);
    expect(await v4('dyn')).toEqual(addrs);
  });

  it('removing a network stops its unit and releases its lease', async () => {
    const r = await hostnetctl('setup', '--net', 'dyn2', '--nic', 'veth_1', '--dhcp', '--blocking-dhcp', '--no-check');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await prop(UNIT2, 'ActiveState')).toBe('active');
    const leased = (await v4('dyn2'))[0]!.split('/')[0]!;
    const mark = server!.log().length;
    const rm = await hostnetctl('setup', '--remove', 'dyn2', '--no-check');
    expect(rm.exitCode, rm.stderr).toBe(0);
    await server!.waitLog(new RegExp(`DHCPRELEASE\\(sw\\) ${leased.replace(/\./g, '\\.')}`), 30_000, mark).catch(async (e: Error) => {
      const routes = (await execa('ip', ['-4', 'route'], { reject: false })).stdout;
      const unitLog = (await execa('journalctl', ['--no-pager', '-o', 'cat', '-u', UNIT2], { reject: false })).stdout;
      throw new Error(`${e.message}\nroutes:\n${routes}\n${UNIT2}:\n${unitLog.split('\n').slice(-15).join('\n')}`);
    });
    // --collect: the unit is gone once its process ended
    const gone = await show(UNIT2, 'ActiveState', 'LoadState');
    expect(gone.get('ActiveState')).toBe('inactive');
    expect(gone.get('LoadState')).toBe('not-found');
    expect(await mainPid(UNIT)).toBe(pid);
  });

  it('the DHCP network goes into the safe config for the next boot', async () => {
    expect((await hostnetctl('persist')).exitCode).toBe(0);
    const safe = JSON.parse(await readFile('/var/lib/hostnetd/safe.json', 'utf8'));
    expect(Object.keys(safe.networks).sort()).toEqual(['data', 'dyn', 'mgmt']);
    expect(safe.networks.dyn).toMatchObject({ bootproto: 'dhcp' });
    await writeFile('/vmshare/boot1-dhcp-done', '');
  });
});
