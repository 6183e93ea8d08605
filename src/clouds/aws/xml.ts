// A small, safe XML reader for AWS Query API responses (EC2, STS). It builds an element
// tree and nothing more: no DTDs (a DOCTYPE is refused, so no entity expansion attacks),
// only the five predefined entities and numeric character references, a depth limit, and
// namespace prefixes dropped from names since AWS responses use one default namespace.
import {BackendError} from '../../errors.js'

export interface XmlElement {
  name: string
  attributes: Record<string, string>
  children: XmlElement[]
  /** Concatenated character data directly inside this element (CDATA included). */
  text: string
}

/** A response that is not the XML it claims to be; its callers turn it into the API's own MalformedResponse. */
export class XmlParseError extends BackendError {
  readonly code = 'XML_MALFORMED'
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`)
  }
}

const MAX_DEPTH = 64
const NAME = /^[A-Za-z_:][-A-Za-z0-9_.:]*/
const PREDEFINED: Record<string, string> = {lt: '<', gt: '>', amp: '&', quot: '"', apos: "'"}

function localName(qname: string): string {
  const colon = qname.indexOf(':')
  return colon < 0 ? qname : qname.slice(colon + 1)
}

export function decodeEntities(text: string, offset = 0): string {
  return text.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);|&/g, (match, ref: string | undefined) => {
    if (ref === undefined) throw new XmlParseError('bare & in text', offset)
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10)
      if (!Number.isFinite(code) || code > 0x10ffff || code < 1) throw new XmlParseError(`bad character reference ${match}`, offset)
      return String.fromCodePoint(code)
    }
    const value = PREDEFINED[ref]
    if (value === undefined) throw new XmlParseError(`unknown entity ${match}`, offset)
    return value
  })
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&${({'<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos'} as Record<string, string>)[c]};`)
}

/** Parses one XML document and returns its root element. */
export function parseXml(source: string): XmlElement {
  let i = 0
  const stack: XmlElement[] = []
  let root: XmlElement | null = null

  const skipMisc = (): boolean => {
    if (source.startsWith('<?', i)) {
      const end = source.indexOf('?>', i + 2)
      if (end < 0) throw new XmlParseError('unterminated processing instruction', i)
      i = end + 2
      return true
    }
    if (source.startsWith('<!--', i)) {
      const end = source.indexOf('-->', i + 4)
      if (end < 0) throw new XmlParseError('unterminated comment', i)
      i = end + 3
      return true
    }
    if (source.startsWith('<!DOCTYPE', i) || source.startsWith('<!ENTITY', i)) throw new XmlParseError('DTDs are not accepted', i)
    return false
  }

  while (i < source.length) {
    const lt = source.indexOf('<', i)
    const textEnd = lt < 0 ? source.length : lt
    if (textEnd > i) {
      const raw = source.slice(i, textEnd)
      if (stack.length > 0) stack[stack.length - 1].text += decodeEntities(raw, i)
      else if (raw.trim() !== '') throw new XmlParseError('text outside the root element', i)
      i = textEnd
      if (lt < 0) break
    }
    if (skipMisc()) continue
    if (source.startsWith('<![CDATA[', i)) {
      const end = source.indexOf(']]>', i + 9)
      if (end < 0 || stack.length === 0) throw new XmlParseError('bad CDATA section', i)
      stack[stack.length - 1].text += source.slice(i + 9, end)
      i = end + 3
      continue
    }
    if (source.startsWith('</', i)) {
      const m = NAME.exec(source.slice(i + 2, i + 2 + 512))
      const open = stack.pop()
      if (!m || !open || localName(m[0]) !== open.name) throw new XmlParseError(`mismatched closing tag ${m?.[0] ?? ''}`, i)
      const gt = source.indexOf('>', i)
      if (gt < 0 || source.slice(i + 2 + m[0].length, gt).trim() !== '') throw new XmlParseError('bad closing tag', i)
      i = gt + 1
      continue
    }
    // Start tag.
    const m = NAME.exec(source.slice(i + 1, i + 1 + 512))
    if (!m) throw new XmlParseError('bad tag name', i)
    if (root !== null && stack.length === 0) throw new XmlParseError('more than one root element', i)
    let j = i + 1 + m[0].length
    const attributes: Record<string, string> = {}
    let selfClosing = false
    for (;;) {
      while (j < source.length && /\s/.test(source[j])) j++
      if (source.startsWith('/>', j)) {
        selfClosing = true
        j += 2
        break
      }
      if (source[j] === '>') {
        j++
        break
      }
      const an = NAME.exec(source.slice(j, j + 512))
      if (!an) throw new XmlParseError('bad attribute', j)
      j += an[0].length
      while (/\s/.test(source[j] ?? '')) j++
      if (source[j] !== '=') throw new XmlParseError('attribute without value', j)
      j++
      while (/\s/.test(source[j] ?? '')) j++
      const quote = source[j]
      if (quote !== '"' && quote !== "'") throw new XmlParseError('unquoted attribute value', j)
      const close = source.indexOf(quote, j + 1)
      if (close < 0) throw new XmlParseError('unterminated attribute value', j)
      attributes[an[0]] = decodeEntities(source.slice(j + 1, close), j)
      j = close + 1
    }
    const element: XmlElement = {name: localName(m[0]), attributes, children: [], text: ''}
    if (stack.length > 0) stack[stack.length - 1].children.push(element)
    else root = element
    if (!selfClosing) {
      if (stack.length >= MAX_DEPTH) throw new XmlParseError('nesting too deep', i)
      stack.push(element)
    }
    i = j
  }
  if (stack.length > 0) throw new XmlParseError(`unclosed element <${stack[stack.length - 1].name}>`, source.length)
  if (root === null) throw new XmlParseError('no root element', 0)
  return root
}

export function child(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((c) => c.name === name)
}

export function childrenNamed(element: XmlElement | undefined, name: string): XmlElement[] {
  return element ? element.children.filter((c) => c.name === name) : []
}

/** Follows a `/`-separated path of child names; undefined if any step is missing. */
export function at(element: XmlElement | undefined, path: string): XmlElement | undefined {
  let cur = element
  for (const step of path.split('/')) cur = child(cur, step)
  return cur
}

/** Trimmed text at a path, or undefined. */
export function textAt(element: XmlElement | undefined, path: string): string | undefined {
  const found = at(element, path)
  return found === undefined ? undefined : found.text.trim()
}

/** The `<item>` children of the element at `path` (the EC2 list shape). */
export function items(element: XmlElement | undefined, path: string): XmlElement[] {
  return childrenNamed(at(element, path), 'item')
}
