/**
 * libvirt's own round-trip corpus (tests/networkxml2xmltest.c of libvirt 11.3.0), read in place
 * from the shared fixtures: every input libvirt parses must parse here and serialize to a
 * document equal in meaning to libvirt's output; every input libvirt refuses must be refused
 * with a network XML error (isNetworkXmlError) naming the element.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { isNetworkXmlError, parseNetworkXml, serializeNetworkXml } from '../../src/libvirt/network-xml.js';
import { fixturePath } from './helpers/fixtures.js';
import { normalizeNetworkXml } from './helpers/normalize.js';

const dir = fixturePath('libvirt-networkxml');
const manifest = fixturePath('libvirt-networkxml', 'MANIFEST.tsv');

interface Case {
  name: string;
  expect: 'success' | 'parse_error';
}

function readManifest(): Case[] {
  const [header, ...rows] = readFileSync(manifest, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const cols = (header ?? '').split('\t');
  const col = cols.indexOf('expect_libvirt_11.3.0');
  if (col < 0) throw new Error(`${manifest}: no expect_libvirt_11.3.0 column`);
  return rows
    .map((r) => r.split('\t'))
    .map((f) => ({ name: f[0] ?? '', expect: f[col] as Case['expect'] }))
    .filter((c) => c.expect === 'success' || c.expect === 'parse_error');
}

/** The element each refused input is refused for (libvirt's reason, see the corpus README). */
const REFUSED_FOR: Record<string, string> = {
  'routed-network-no-dns-extra-elements': 'dns',
  'open-network-with-forward-dev': 'forward',
  'hostdev-duplicate': 'address',
  'passthrough-duplicate': 'interface',
};

if (!existsSync(manifest)) {
  describe('networkxml conformance', () => {
    // a missing corpus is a broken checkout, not a reason to pass: fail and say where it was looked for
    it('finds the libvirt fixtures', () => {
      throw new Error(`fixtures folder ${dir} is missing: put ../shared/fixtures beside the checkout or set HOSTNETD_FIXTURES`);
    });
  });
} else {
  const cases = readManifest();
  let passed = 0;

  describe('networkxml conformance', () => {
    afterAll(() => {
      console.log(`networkxml conformance: ${passed}/${cases.length} passed`);
    });

    it('the manifest lists cases', () => {
      expect(cases.length).toBeGreaterThan(40);
    });

    for (const c of cases) {
      const input = () => readFileSync(`${dir}/networkxml2xmlin/${c.name}.xml`, 'utf8');
      if (c.expect === 'success') {
        it(`${c.name}: parses and formats like libvirt`, () => {
          const def = parseNetworkXml(input());
          const out = serializeNetworkXml(def);
          const want = readFileSync(`${dir}/networkxml2xmlout/${c.name}.xml`, 'utf8');
          expect(normalizeNetworkXml(out)).toEqual(normalizeNetworkXml(want));
          // and our own output reads back to the same model
          expect(parseNetworkXml(out)).toEqual(def);
          passed++;
        });
      } else {
        it(`${c.name}: is refused`, () => {
          let err: unknown;
          try {
            parseNetworkXml(input());
          } catch (e) {
            err = e;
          }
          if (!isNetworkXmlError(err)) throw new Error(`expected a network XML error, got ${String(err)}`);
          const element = REFUSED_FOR[c.name];
          if (element !== undefined) {
            expect(err.detail.element).toBe(element);
            expect(err.message).toContain(`<${element}>`);
          }
          passed++;
        });
      }
    }
  });
}
