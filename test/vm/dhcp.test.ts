// VM tier: DHCP over a bond and over a VLAN, on a kernel with bonding and 8021q. The VM's
// virtio NICs sit on slirp, which answers DHCP itself, so the inner file puts dnsmasq in a
// namespace behind veth "NICs" inside the VM.
import { ensureBuilt } from '../helpers/daemon.js';
import { defineVmSuite } from './suite.js';

await ensureBuilt();
await defineVmSuite({ nics: 1, files: ['test/vm/inner/dhcp.inner.ts'], timeoutMs: 10 * 60_000 });
