/**
 * PortMirrors' exclusion with setupNetworks (40 both ways), its validation, which answers
 * before anything is read or run, and a failed verification (101, nothing committed): an Iproute fake records every command and can hold one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { RequestContext } from '../../../src/model/context.js';
import type { NetworkChanger } from '../../../src/model/changer.js';
import type { Iproute } from '../../../src/kernel/iproute.js';
import type { HostConfig, Network } from '../../../src/model/types.js';
import { PortMirrors } from '../../../src/mirror/service.js';

const log = pino({ level: 'silent' });
const ctx = { requestId: 1, peer: 'test', log } as RequestContext;
const net = (name: string, bridged = true): Network => ({
  name, bridged, nic: 'veth_0', mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false,
  nameservers: [], bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy', bootproto: 'none', dhcpv6: false,
});
const config: HostConfig = { networks: { vmnet: net('vmnet'), plain: net('plain', false) }, bonds: {} };

function fakeIpr(hold?: Promise<void>) {
  const calls: string[] = [];
  const ipr: Iproute = {
    async ip(args) {
      calls.push(`ip ${args.join(' ')}`);
      if (hold) await hold;
      return args.includes('link') && args.includes('show') ? '[{"ifname":"vmnet","flags":[]},{"ifname":"vnet1","flags":[]}]' : '';
    },
    async bridge() {
      return '';
    },
    async tc(args) {
      calls.push(`tc ${args.join(' ')}`);
      return args[0] === '-j' ? '[]' : '';
    },
  };
  return { ipr, calls };
}

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});
const stateDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'hnmu-'));
  dirs.push(d);
  return d;
};

describe('PortMirrors', () => {
  it.each([
    [{ network: 'nonet', tap: 'vnet1' }, 27, "network 'nonet' is not a bridged network"],
    [{ network: 'plain', tap: 'vnet1' }, 27, "network 'plain' is not a bridged network"],
    [{ network: '../x', tap: 'vnet1' }, 27, "network '../x'"],
    [{ network: null, tap: 'vnet1' }, 27, 'network must be a string'],
    [{ network: 'vmnet', tap: 'a b' }, 21, 'tap must be an interface name'],
    [{ network: 'vmnet', tap: 'x'.repeat(16) }, 21, 'tap must be an interface name'],
    [{ network: 'vmnet', tap: 'vmnet' }, 21, "network's own bridge"],
    [{ network: '__proto__', tap: 'vnet1' }, 27, "network '__proto__' is not a bridged network"],
  ])('refuses %j with %i before touching anything', async (req, code, text) => {
    const { ipr, calls } = fakeIpr();
    const m = new PortMirrors({ ipr, stateDir: stateDir(), config: () => config, log });
    await expect(m.set(req, ctx)).rejects.toMatchObject({ code, message: expect.stringContaining(text) });
    expect(calls).toEqual([]);
  });

  it('a mirror change while a setupNetworks runs is refused with 40, and the other way round', async () => {
    let release!: () => void;
    const setupHeld = new Promise<void>((r) => (release = r));
    const changer: NetworkChanger = { setup: () => setupHeld, setSafe: async () => undefined };
    const { ipr } = fakeIpr();
    const m = new PortMirrors({ ipr, stateDir: stateDir(), config: () => config, log });
    const wrapped = m.wrap(changer);
    const setup = wrapped.setup({ networks: {}, bondings: {}, options: {} } as never, ctx);
    await expect(m.set({ network: 'vmnet', tap: 'vnet1' }, ctx)).rejects.toMatchObject({ code: 40, message: expect.stringContaining('Host.setupNetworks is running') });
    release();
    await setup;

    let releaseIp!: () => void;
    const ipHeld = new Promise<void>((r) => (releaseIp = r));
    const held = fakeIpr(ipHeld);
    const m2 = new PortMirrors({ ipr: held.ipr, stateDir: stateDir(), config: () => config, log });
    const set = m2.set({ network: 'vmnet', tap: 'vnet1' }, ctx);
    await expect(m2.wrap(changer).setup({ networks: {}, bondings: {}, options: {} } as never, ctx))
      .rejects.toMatchObject({ code: 40, message: expect.stringContaining('Host.setPortMirroring is running') });
    releaseIp();
    // this fake's tc never changes: the verification fails (101) and nothing is committed
    await expect(set).rejects.toMatchObject({ code: 101, message: expect.stringContaining('tc does not show the mirrors') });
    expect(held.calls.filter((c) => c.startsWith('tc') && c.includes('-batch'))).toHaveLength(1);
    expect(m2.status()).toEqual({});
  });
});
