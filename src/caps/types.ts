import type { Lease } from '../model/lease.js';
import type { LibvirtStatus } from '../model/libvirt-status.js';
import type { HostConfig } from '../model/types.js';
import type { DeviceTc, KernelFeatures, KernelState } from '../model/kernel-state.js';

/** Everything the capabilities report is rendered from; gathered by the shell, rendered purely. */
export interface CapsInput {
  state: KernelState;
  running: HostConfig;
  /** running config differs from the safe one */
  netConfigDirty: boolean;
  features: KernelFeatures;
  /** globs of devices treated as NICs besides physical ones (--fake-nics) */
  fakeNics: string[];
  /** from the resolver file (--resolv-conf) */
  nameservers: string[];
  version: string;
  libvirt: LibvirtStatus;
  /** network → its port mirror taps (Host.setPortMirroring) */
  mirrors?: Record<string, string[]>;
  /** the DHCP lease of a device, if a client runs there (the learned gateway of a network without the default route) */
  leases?: (dev: string) => Lease | undefined;
  /** traffic control of the networks' nics and bonds (hostQos); absent: not reported */
  tc?: Record<string, DeviceTc>;
}

/** VDSM's shapes: every mtu a string, bond opts values numeric strings. */
export type NetworkCapabilities = {
  networks: Record<string, Record<string, unknown>>;
  bridges: Record<string, Record<string, unknown>>;
  nics: Record<string, Record<string, unknown>>;
  bondings: Record<string, Record<string, unknown>>;
  vlans: Record<string, Record<string, unknown>>;
  nameservers: string[];
  supportsIPv6: boolean;
  netConfigDirty: boolean;
  hostnet: {
    version: string;
    kernel: KernelFeatures;
    libvirt: { uri: string; connected: boolean; pending?: string[]; nwfilters?: Record<string, string> };
    /** network → the taps its traffic is mirrored to */
    mirrors: Record<string, string[]>;
  };
};
