// VM tier: the port agent where the host kernel cannot go — bridge vlan_filtering and a real
// virtio uplink leaving promiscuous mode (test/vm/inner/ports.inner.ts, one boot).
import { defineVmSuite } from './suite.js';

await defineVmSuite({ nics: 1, files: ['test/vm/inner/ports.inner.ts'] });
