/**
 * DOM helpers of the network XML modules: reading (attributes checked as libvirt checks them,
 * each failure a networkXmlError() naming the element) and writing (XmlOut: elements built with
 * xmldom, never by string concatenation, indented as libvirt indents them).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { DOMImplementation, DOMParser, XMLSerializer, type Document, type Element, type Node } from '@xmldom/xmldom';
import { networkXmlError } from './model.js';
import { isMac } from '../../model/mac.js';

// ---------------------------------------------------------------------------------------------
// reading

export type El = Element;

export const elements = (parent: El): El[] =>
  Array.from(parent.childNodes).filter((n): n is El => n.nodeType === 1);

export const children = (parent: El, name: string): El[] =>
  elements(parent).filter((e) => e.namespaceURI === null && e.localName === name);

export const child = (parent: El, name: string): El | undefined => children(parent, name)[0];

export const attr = (e: El, name: string): string | undefined =>
  e.hasAttribute(name) ? (e.getAttribute(name) ?? undefined) : undefined;

export const textOf = (e: El): string => (e.textContent ?? '').trim();

export function yesNo(e: El, name: string, where: string): boolean | undefined {
  const v = attr(e, name);
  if (v === undefined) return undefined;
  if (v === 'yes') return true;
  if (v === 'no') return false;
  throw networkXmlError(where, `attribute ${name}='${v}' must be 'yes' or 'no'`);
}

export function onOff(e: El, name: string, where: string): boolean | undefined {
  const v = attr(e, name);
  if (v === undefined) return undefined;
  if (v === 'on' || v === 'yes') return true;
  if (v === 'off' || v === 'no') return false;
  throw networkXmlError(where, `attribute ${name}='${v}' must be 'on' or 'off'`);
}

export function uint(e: El, name: string, where: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = attr(e, name);
  if (v === undefined) return undefined;
  const n = /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > max) {
    throw networkXmlError(where, `attribute ${name}='${v}' is not an integer in 0..${max}`);
  }
  return n;
}

export function required(e: El, name: string, where: string): string {
  const v = attr(e, name);
  if (v === undefined || v === '') throw networkXmlError(where, `missing required attribute ${name}`);
  return v;
}

export function oneOf<T extends string>(e: El, name: string, allowed: readonly T[], where: string): T | undefined {
  const v = attr(e, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    throw networkXmlError(where, `attribute ${name}='${v}' must be one of ${allowed.join(', ')}`);
  }
  return v as T;
}

export const isIp = (s: string) => isIPv4(s) || isIPv6(s);

export function ipAttr(e: El, name: string, where: string, need: boolean): string | undefined {
  const v = need ? required(e, name, where) : attr(e, name);
  if (v !== undefined && !isIp(v)) throw networkXmlError(where, `${name}='${v}' is not an IP address`);
  return v;
}

/** libvirt (virMacAddrParse) also takes one hex digit per octet: padded, it is hostnetd's form. */
export function parseMac(v: string, where: string): string {
  const octets = v.split(':');
  const mac = octets.map((b) => b.padStart(2, '0')).join(':').toLowerCase();
  if (octets.some((b) => b === '') || !isMac(mac)) throw networkXmlError(where, `'${v}' is not a MAC address`);
  return mac;
}

/**
 * The <network> root of a document, read leniently: no rule of libvirt's is checked, only that
 * it is XML with a <network> root. For callers that look at a few elements and must not judge
 * the rest (see ownedPartsOf in ../networks.ts). undefined when it is not such a document.
 */
export function readNetworkRoot(xml: string): El | undefined {
  let doc: Document;
  try {
    doc = new DOMParser({ onError: (level, msg) => {
      if (level !== 'warning') throw new Error(msg);
    } }).parseFromString(xml, 'text/xml');
  } catch {
    return undefined;
  }
  const root = doc.documentElement as El | null;
  return root && root.localName === 'network' && root.namespaceURI === null ? root : undefined;
}

// ---------------------------------------------------------------------------------------------
// writing

/** attributes in libvirt's order; undefined ones are left out */
export type Attrs = [string, string | number | boolean | undefined][];

const XMLNS = 'http://www.w3.org/2000/xmlns/';
export const yesNoText = (v: boolean) => (v ? 'yes' : 'no');
export const onOffText = (v: boolean) => (v ? 'on' : 'off');

/** A document under construction; toString() indents it two spaces per level, as libvirt does. */
export class XmlOut {
  readonly doc: Document;
  /** nodes copied verbatim (unknown elements, metadata): never re-indented inside */
  private readonly verbatim = new Set<Node>();

  constructor(rootName: string) {
    this.doc = new DOMImplementation().createDocument(null, rootName, null);
  }

  get root(): El {
    return this.doc.documentElement as El;
  }

  /** declare a namespace prefix on the root */
  declare(prefix: string, uri: string): void {
    this.root.setAttributeNS(XMLNS, `xmlns:${prefix}`, uri);
  }

  /** set attributes on `e` in order, skipping undefined; booleans through `bool` */
  attrs(e: El, list: Attrs, bool: (v: boolean) => string = yesNoText): El {
    for (const [k, v] of list) if (v !== undefined) e.setAttribute(k, typeof v === 'boolean' ? bool(v) : String(v));
    return e;
  }

  /** append <name attrs.../> to parent */
  el(parent: El, name: string, list: Attrs = [], bool: (v: boolean) => string = yesNoText): El {
    const e = this.attrs(this.doc.createElement(name), list, bool);
    parent.appendChild(e);
    return e;
  }

  /** append <name>text</name> to parent */
  text(parent: El, name: string, text: string): El {
    const e = this.el(parent, name);
    e.appendChild(this.doc.createTextNode(text));
    return e;
  }

  /** append verbatim XML (elements the model keeps as text), read with the root's namespace declarations */
  raw(parent: El, xml: string, namespaces: readonly [string, string][]): void {
    const holder = new DOMParser().parseFromString('<hnl-raw/>', 'text/xml').documentElement as El;
    for (const [p, uri] of namespaces) holder.setAttributeNS(XMLNS, `xmlns:${p}`, uri);
    const wrapped = new XMLSerializer().serializeToString(holder).replace(/\/>$/, () => `>${xml}</hnl-raw>`);
    const frag = new DOMParser().parseFromString(wrapped, 'text/xml').documentElement as El;
    for (const n of Array.from(frag.childNodes)) {
      const copy = this.doc.importNode(n, true);
      parent.appendChild(copy);
      this.verbatim.add(copy);
    }
  }

  toString(): string {
    this.indent(this.root, 0);
    return `${new XMLSerializer().serializeToString(this.doc)}\n`;
  }

  /** whitespace between elements, as libvirt writes it; text content and verbatim nodes untouched */
  private indent(e: El, depth: number): void {
    const nodes = Array.from(e.childNodes);
    const hasElements = nodes.some((n) => n.nodeType === 1);
    const hasText = nodes.some((n) => (n.nodeType === 3 || n.nodeType === 4) && (n.nodeValue ?? '').trim() !== '');
    if (!hasElements || hasText) return;
    const pad = (d: number) => this.doc.createTextNode(`\n${'  '.repeat(d)}`);
    for (const n of nodes) {
      if (n.nodeType === 3) {
        e.removeChild(n);
        continue;
      }
      e.insertBefore(pad(depth + 1), n);
      if (n.nodeType === 1 && !this.verbatim.has(n)) this.indent(n as El, depth + 1);
    }
    e.appendChild(pad(depth));
  }
}
