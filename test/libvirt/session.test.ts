/**
 * The daemon's one libvirt session, shared by the network manager and the guest-MAC reader,
 * against libvirt's test driver (inside libvirt.so: no libvirtd). The one-client check against
 * a real libvirtd (virt-admin) is in libvirtd.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { libvirtError, LibvirtConnection, VirErr, type LibvirtEvent } from '../../src/libvirt/binding.js';
import { LibvirtNetworkManager } from '../../src/libvirt/networks.js';
import { LibvirtSession } from '../../src/libvirt/session.js';
import { LibvirtGuestMacs } from '../../src/ports/guests.js';
import { makeTestNode, VM } from './helpers/testdriver.js';

const log = pino({ level: 'silent' });

/** resolves when `pred` holds after one of the session's events */
function eventWhere(session: LibvirtSession, pred: (ev: LibvirtEvent) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const off = session.onEvent((ev) => {
      if (pred(ev)) {
        off();
        resolve();
      }
    });
  });
}

describe('one LibvirtSession for the network manager and the guest-MAC reader', () => {
  let node: ReturnType<typeof makeTestNode>;
  let session: LibvirtSession | undefined;
  let mgr: LibvirtNetworkManager | undefined;
  let guests: LibvirtGuestMacs | undefined;
  beforeAll(() => {
    node = makeTestNode();
  });
  afterEach(async () => {
    await guests?.stop();
    await mgr?.stop();
    await session?.stop();
  });
  afterAll(() => node.cleanup());

  /** both users on one session; `wrap` may replace calls of the connection it opens */
  async function start(wrap: (c: LibvirtConnection) => LibvirtConnection = (c) => c) {
    const opened: LibvirtConnection[] = [];
    session = new LibvirtSession({
      uri: node.uri, log, backoff: { initialMs: 5, maxMs: 20 },
      connect: async (uri) => {
        const c = await LibvirtConnection.open(uri);
        opened.push(c);
        return wrap(c);
      },
    });
    mgr = new LibvirtNetworkManager({ session, log, vlanFiltering: true });
    guests = new LibvirtGuestMacs({ session, log });
    await guests.start();
    await session.start();
    return { opened, session, mgr, guests };
  }

  it('opens one connection, and each user gets every event once', async () => {
    const { opened, session, mgr, guests } = await start();
    expect(opened).toHaveLength(1);
    const seen: LibvirtEvent[] = [];
    session.onEvent((ev) => seen.push(ev));
    const started = eventWhere(session, (ev) => ev.type === 'network-lifecycle' && ev.name === 'vdsm-hnlS' && ev.event === 'started');
    const r = await mgr.sync([{ name: 'hnlS', portIsolation: true, macTableManager: 'libvirt' }]);
    expect(r.applied).toBe(true);
    await started;
    const mine = seen.filter((ev) => ev.type === 'network-lifecycle' && ev.name === 'vdsm-hnlS').map((ev) => ev.type === 'network-lifecycle' && ev.event);
    expect(mine).toEqual(['defined', 'started']);
    // the guest reader reads through the same connection
    expect((await guests.macs()).get('testnet0')).toEqual([VM.macs[0]]);
    expect(opened).toHaveLength(1);
  });

  it('a guest read does not queue behind a network call that hangs; concurrent reads share one libvirt call', async () => {
    let release: () => void = () => undefined;
    const hung = new Promise<void>((r) => {
      release = r;
    });
    let domainReads = 0;
    const { mgr, guests } = await start((c) => Object.assign(Object.create(c) as LibvirtConnection, {
      listNetworksWithXml: async (...a: Parameters<LibvirtConnection['listNetworksWithXml']>) => {
        await hung;
        return c.listNetworksWithXml(...a);
      },
      listActiveDomainsWithXml: (...a: Parameters<LibvirtConnection['listActiveDomainsWithXml']>) => {
        domainReads++;
        return c.listActiveDomainsWithXml(...a);
      },
    }));
    const sync = mgr.sync([{ name: 'hnlH', portIsolation: false, macTableManager: 'kernel' }]);
    const [a, b] = await Promise.all([guests.macs(), guests.macs()]);
    expect(a.get('testnet1')).toEqual([VM.macs[1]]);
    expect(b).toBe(a);
    expect(domainReads).toBe(1);
    release();
    expect((await sync).applied).toBe(true);
  });

  it('a lost connection is reconnected once for both users, and both catch up', async () => {
    const { opened, session, mgr, guests } = await start();
    let changes = 0;
    guests.onChange(() => changes++);
    const reconnected = new Promise<void>((resolve) => session.onConnected(() => resolve()));
    // a call that failed because libvirtd went away
    expect(session.lost(libvirtError(VirErr.NO_CONNECT, 7, 'libvirtd went away'))).toBe(true);
    expect(session.connected).toBe(false);
    // meanwhile the manager owes its networks
    const r = await mgr.sync([{ name: 'hnlR', portIsolation: false, macTableManager: 'kernel' }]);
    expect(r.applied).toBe(false);
    // owed: the new network, and the node's vdsm-hnlnet1 the request drops
    expect(mgr.status().pending).toEqual(['hnlR', 'hnlnet1']);
    await reconnected;
    expect(opened).toHaveLength(2);
    expect(changes).toBe(1);
    // the same request again queues behind the manager's catch-up on reconnect, and finds nothing to do
    const again = await mgr.sync([{ name: 'hnlR', portIsolation: false, macTableManager: 'kernel' }]);
    expect(again).toMatchObject({ applied: true, steps: [] });
    expect(mgr.status()).toMatchObject({ connected: true, networks: { hnlR: { name: 'vdsm-hnlR', active: true } } });
    expect(mgr.status().pending).toBeUndefined();
    // a failure that is not a lost connection keeps the connection
    expect(session.lost(libvirtError(VirErr.NO_NETWORK, 19, 'no such network'))).toBe(false);
    expect(session.connected).toBe(true);
  });
});
