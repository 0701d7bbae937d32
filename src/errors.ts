/**
 * Every error code hostnetd answers with, in one table (as VDSM's errors.py).
 * 10..40 are VDSM's network codes; 100+ are hostnetd's own for failures VDSM has no code for.
 * The JSON-RPC standard codes are used only by the rpc layer for shape errors.
 */
export const ErrorCode = {
  LOST_CONNECTION: 10,
  BAD_PARAMS: 21,
  BAD_ADDR: 22,
  BAD_NIC: 23,
  USED_NIC: 24,
  BAD_BONDING: 25,
  BAD_VLAN: 26,
  BAD_BRIDGE: 27,
  USED_BOND: 31,
  /** VDSM's ERR_FAILED_IFUP: a blockingdhcp network got no lease within --dhcp-timeout; rolled back. */
  FAILED_IFUP: 29,
  UNAVAIL: 40,
  /** iproute2 refused a line of the plan; the host was rolled back. */
  APPLY_FAILED: 100,
  /** The kernel did not reach the desired state after applying; the host was rolled back. */
  VERIFY_FAILED: 101,
  /** libvirt refused a network change while it was reachable; the host was rolled back. */
  LIBVIRT_FAILED: 102,
  /** Reading or writing the running/safe config or the journal failed. */
  STORE_FAILED: 103,
  /** Rollback itself failed: the host may be in a mixed state; details in the message and log. */
  ROLLBACK_FAILED: 104,
  /** A verb did not finish within its time limit (its work may still complete or roll back). */
  TIMED_OUT: 105,
  /** A STOMP frame could not be read; the connection gets an ERROR frame and is closed. */
  BAD_FRAME: 106,
  /** libvirt cannot be used at all (addon not built, no event loop); hostnetd runs without it. */
  LIBVIRT_UNAVAILABLE: 107,
  /** Reading the kernel's state over rtnetlink failed (reader addon missing, a dump refused). */
  KERNEL_READ_FAILED: 108,

  // Never on the wire: the command line's own failures, so that one type serves the CLI too.
  /** A bad command line, --config file or --listen URL (exit status 2). */
  USAGE: 110,
  /** A client cannot reach the daemon or lost it, or a listener's socket is taken. */
  CONNECTION: 111,

  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
} as const;


export interface HostnetErrorOptions<D> {
  /** the error this one explains (fs, execa, netlink, libvirt...), kept for the log */
  cause?: unknown;
  /** JSON-RPC `error.data`: goes on the wire */
  data?: unknown;
  /** what the adapter that raised it knows (stderr, libvirt's code...): for its callers and the log, never on the wire */
  detail?: D;
}

/**
 * hostnetd's one error type: its code and message go on the wire unchanged. Adapters wrap the
 * raw errors they catch into it with the code of the README's table, the raw one as `cause`;
 * a caller that must tell one adapter failure from another reads `detail` (each adapter exports
 * a guard for its own), never a subclass.
 */
export class HostnetError<D = unknown> extends Error {
  readonly data?: unknown;
  readonly detail: D | undefined;

  constructor(
    readonly code: number,
    message: string,
    opts: HostnetErrorOptions<D> = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HostnetError';
    if (opts.data !== undefined) this.data = opts.data;
    this.detail = opts.detail;
  }
}

/** Whether `e` is a HostnetError, of `code` when one is given. */
export const isHostnetError = (e: unknown, code?: number): e is HostnetError =>
  e instanceof HostnetError && (code === undefined || e.code === code);

/** A HostnetError whose detail carries `kind` (how adapters tag their failures). */
export const hasDetail = <D extends { kind: string }>(e: unknown, kind: D['kind']): e is HostnetError<D> & { detail: D } =>
  e instanceof HostnetError && (e.detail as { kind?: unknown } | undefined)?.kind === kind;

/** `topic`: the command whose --help the message points to. */
/** VDSM's answer to a verb that overlaps an exclusive one: refused at once (40), not queued. */
export const resourceUnavailable = (holder: string) =>
  new HostnetError(ErrorCode.UNAVAIL, `Resource unavailable: ${holder} is running; try again when it ends`);

export const usageError = (msg: string, topic?: string, cause?: unknown) =>
  new HostnetError<{ topic?: string }>(ErrorCode.USAGE, msg, { cause, detail: topic === undefined ? {} : { topic } });
export const connectionError = (msg: string, cause?: unknown) => new HostnetError(ErrorCode.CONNECTION, msg, { cause });

export const badParams = (msg: string) => new HostnetError(ErrorCode.BAD_PARAMS, msg);
export const badAddr = (msg: string) => new HostnetError(ErrorCode.BAD_ADDR, msg);
export const badNic = (msg: string) => new HostnetError(ErrorCode.BAD_NIC, msg);
export const usedNic = (msg: string) => new HostnetError(ErrorCode.USED_NIC, msg);
export const badBonding = (msg: string) => new HostnetError(ErrorCode.BAD_BONDING, msg);
export const badVlan = (msg: string) => new HostnetError(ErrorCode.BAD_VLAN, msg);
export const badBridge = (msg: string) => new HostnetError(ErrorCode.BAD_BRIDGE, msg);
export const usedBond = (msg: string) => new HostnetError(ErrorCode.USED_BOND, msg);
