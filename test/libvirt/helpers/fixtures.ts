import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (this file is test/libvirt/helpers/fixtures.ts). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The shared fixtures folder: $HOSTNETD_FIXTURES, else ../shared/fixtures beside the project.
 * Read in place, never copied into the repository.
 */
export function fixturesDir(): string {
  return process.env.HOSTNETD_FIXTURES ?? resolve(projectRoot, '../shared/fixtures');
}

export const fixturePath = (...parts: string[]) => resolve(fixturesDir(), ...parts);
