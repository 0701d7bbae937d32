/**
 * A DHCP lease as dhcp/lease.ts parses it from the hook's files; here because the capabilities
 * and the API report leases without depending on the DHCP adapter.
 */
export interface FamilyLease {
  reason: string;
  /** 'addr/prefix'; empty when the lease is lost */
  addresses: string[];
  routers: string[];
  dns: string[];
}

export interface Lease {
  v4?: FamilyLease;
  v6?: FamilyLease;
}
