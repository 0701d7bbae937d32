/** What libvirt/networks.ts reports of libvirt's side, and the capabilities show (caps/types.ts). */
export interface LibvirtStatus {
  uri: string;
  connected: boolean;
  /** libvirt network per hostnetd network name: name and whether it is active; absent = not known */
  networks?: Record<string, { name: string; active: boolean } | null>;
  /** networks whose libvirt definition is owed (libvirt was unreachable) */
  pending?: string[];
  /** the network filters hostnetd keeps defined, and their state */
  nwfilters?: Record<string, 'defined' | 'pending' | 'failed'>;
}
