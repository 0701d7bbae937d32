/**
 * `hostnetd restore [the daemon's flags]`: the boot-time restore of the safe config (issue 3).
 * The dispatch point exists so the systemd unit and its install steps are final; the
 * transaction engine fills in the body.
 */
export async function runRestore(_argv: string[]): Promise<number> {
  process.stderr.write('hostnetd restore: not implemented yet in this version; nothing was changed\n');
  return 1;
}
