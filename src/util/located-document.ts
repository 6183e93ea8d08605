// Reads a YAML/JSON file into a document that remembers where every value came from,
// validates it against a JSON Schema, and turns every problem into a FileIssue with
// FILE:LINE:COL, the field path and a "did you mean". Shared by job and catalog files.
import type {ErrorObject, ValidateFunction} from 'ajv'

import {readFileSync, statSync} from 'node:fs'
import {CST, Document, Lexer, LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, visit} from 'yaml'

import {type FileIssue, InvalidFileError} from '../errors.js'
import {didYouMean} from './did-you-mean.js'

/** Job and catalog files are small; anything larger is a mistake (a dataset, a binary). */
export const MAX_FILE_BYTES = 1024 * 1024

/**
 * Deeper than any job, catalog or config file nests (they need a handful of levels). yaml
 * composes nodes recursively: a file of thousands of `[` ran the stack out after seconds of
 * work (about 6 s under load for 20,000 levels) and was reported as "Maximum call stack size
 * exceeded" at a meaningless column.
 */
export const MAX_NESTING = 100

export interface SourceDocument {
  file: string
  doc: Document.Parsed
  lines: LineCounter
  value: unknown
}

type Segment = string | number

/** Reads and parses a file; throws InvalidFileError for unreadable, binary, empty or malformed input. */
export function readDocument(file: string, errorCode: string): SourceDocument {
  const fail = (message: string, extra: Partial<FileIssue> = {}): never => {
    throw new InvalidFileError([{file, path: '', message, ...extra}], {code: errorCode})
  }
  let size: number
  try {
    const st = statSync(file)
    if (st.isDirectory()) fail('is a directory, not a file')
    size = st.size
  } catch (error) {
    if (error instanceof InvalidFileError) throw error
    const code = (error as NodeJS.ErrnoException).code
    return fail(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot read (${code ?? 'unknown error'})`)
  }
  if (size > MAX_FILE_BYTES) fail(`file is ${(size / 1024 / 1024).toFixed(1)} MiB; job and catalog files must be under 1 MiB`)
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (error) {
    return fail(`cannot read (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`)
  }
  if (bytes.includes(0)) fail('looks like a binary file (contains NUL bytes), not YAML or JSON')
  let text: string
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(bytes)
  } catch {
    return fail('is not valid UTF-8 text')
  }
  if (text.trim() === '' || text.split('\n').every((l) => l.trim() === '' || l.trim().startsWith('#'))) {
    fail('file is empty; a job file needs at least `name` and `run`')
  }
  const lines = new LineCounter()
  const tooDeep = nestingPast(text, MAX_NESTING)
  if (tooDeep !== null) {
    const before = text.slice(0, tooDeep)
    const line = before.split('\n').length
    const column = tooDeep - before.lastIndexOf('\n')
    fail(`nests more than ${MAX_NESTING} levels deep; a job, catalog or config file needs a handful`, {line, column})
  }
  const doc = parseDocument(text, {lineCounter: lines, uniqueKeys: true, prettyErrors: true, strict: true})
  if (doc.errors.length > 0) {
    const issues: FileIssue[] = doc.errors.map((e) => {
      const pos = e.linePos?.[0]
      const message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
      return {file, line: pos?.line, column: pos?.col, path: '', message: yamlMessage(e.code, message)}
    })
    throw new InvalidFileError(issues, {code: errorCode})
  }
  // A key that is a list or mapping (`? [a, b]`) has no place in a job or catalog file, and
  // converting it would print a Node warning instead of a located error.
  const at = (node: {range?: [number, number, number] | null} | null | undefined): Partial<FileIssue> => {
    const offset = node?.range?.[0]
    if (offset === undefined) return {}
    const pos = lines.linePos(offset)
    return {line: pos.line, column: pos.col}
  }
  let complexKey: Partial<FileIssue> | undefined
  let firstAlias: Partial<FileIssue> | undefined
  visit(doc, {
    Pair(_, pair) {
      if (complexKey === undefined && pair.key !== null && !isScalar(pair.key) && !isAlias(pair.key)) complexKey = at(pair.key as never)
    },
    Alias(_, alias) {
      if (firstAlias === undefined) firstAlias = at(alias)
    },
  })
  if (complexKey !== undefined) fail('a key must be a plain name, not a list or a mapping (`? [a, b]`)', complexKey)
  let value: unknown
  try {
    value = doc.toJS({maxAliasCount: 100})
  } catch (error) {
    const message = (error as Error).message
    // yaml's own words ("resource exhaustion attack") carry no position; point at the aliases.
    if (/alias count/i.test(message))
      return fail('aliases (*name) expand to too many values; write the values out or use fewer aliases', firstAlias)
    return fail(`cannot be read as data: ${message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(`the top level must be a mapping of keys (like \`name: …\`), not ${describeType(value)}`, {line: 1, column: 1})
  }
  return {file, doc, lines, value}
}

/** The yaml lexer's markers, which stand for no source text. */
const LEXER_MARKERS = new Set(['\u0002', '\u0018', '\u001f'])

/**
 * The source offset where the text first nests deeper than `limit`, or null. From the yaml
 * lexer's tokens, which it produces without recursion: flow collections (`[`, `{`) count one
 * level each; outside them, a line's block depth is the number of enclosing indentation levels
 * plus its compact items (`- - - x`, `? ? x`). An estimate of yaml's own depth, never below it
 * by more than a level, which is all a cap needs.
 */
export function nestingPast(text: string, limit: number): number | null {
  let offset = 0
  let flow = 0
  const indents: number[] = []
  let lineStart = true
  let indent = 0
  let lineDepth = 0
  for (const token of new Lexer().lex(text)) {
    if (LEXER_MARKERS.has(token)) continue
    const type = CST.tokenType(token)
    const at = offset
    offset += token.length
    if (type === 'newline' || (type === 'space' && lineStart && token.endsWith('\n'))) {
      lineStart = true
      indent = 0
      continue
    }
    if (type === 'space' || type === 'comment') {
      if (lineStart && type === 'space') indent = token.length
      continue
    }
    if (lineStart && flow === 0) {
      // The first content of a line: it closes every level indented as much or more.
      while (indents.length > 0 && indents[indents.length - 1] >= indent) indents.pop()
      indents.push(indent)
      lineDepth = indents.length
    }
    lineStart = token.endsWith('\n')
    if (type === 'flow-map-start' || type === 'flow-seq-start') flow++
    else if (type === 'flow-map-end' || type === 'flow-seq-end') flow = Math.max(0, flow - 1)
    else if (flow === 0 && (type === 'seq-item-ind' || type === 'explicit-key-ind')) lineDepth++
    if (lineDepth + flow > limit) return at
  }
  return null
}

function yamlMessage(code: string, message: string): string {
  // yaml's own words name its API (parseAllDocuments), which means nothing to the file's author.
  if (code === 'MULTIPLE_DOCS') return 'the file holds several YAML documents (separated by `---`); it must hold one'
  if (code === 'DUPLICATE_KEY')
    return `duplicate key: ${message.replace(/^Map keys must be unique;?\s*/i, '') || 'a key appears twice'}`.replace(/: $/, '')
  return `YAML syntax error: ${message}`
}

/** The position of a value (or of its key, for unknown-key errors) in the source. */
export function locate(src: SourceDocument, path: Segment[], which: 'value' | 'key' = 'value'): {line?: number; column?: number} {
  let node: unknown = src.doc.contents
  let keyNode: unknown
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment))
      if (!pair) break
      keyNode = pair.key
      node = pair.value
    } else if (isSeq(node) && typeof segment === 'number') {
      keyNode = undefined
      node = node.items[segment]
    } else {
      break
    }
  }
  const target = (which === 'key' && keyNode ? keyNode : node) as {range?: [number, number, number]} | undefined
  const offset = target?.range?.[0]
  if (offset === undefined) return {}
  const pos = src.lines.linePos(offset)
  return {line: pos.line, column: pos.col}
}

export function pointer(path: Segment[]): string {
  return path.length === 0 ? '' : '/' + path.map((s) => String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('/')
}

function parsePointer(p: string): Segment[] {
  if (p === '') return []
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s))
}

/** Runs a compiled ajv validator and maps its errors onto FileIssues. */
export function schemaIssues(src: SourceDocument, validate: ValidateFunction): FileIssue[] {
  if (validate(src.value)) return []
  const errors = simplifyOneOf([...(validate.errors ?? [])])
  const issues: FileIssue[] = []
  const seen = new Set<string>()
  for (const e of errors) {
    const issue = toIssue(src, e)
    const key = `${issue.path}|${issue.message}`
    if (seen.has(key)) continue
    seen.add(key)
    issues.push(issue)
  }
  return sortIssues(issues)
}

export function sortIssues(issues: FileIssue[]): FileIssue[] {
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) || a.path.localeCompare(b.path))
}

/**
 * ajv reports every branch of a failed oneOf. A person wants the errors of the branch
 * that matches the shape they wrote (a string, a list, a mapping), or one summary.
 */
function simplifyOneOf(errors: ErrorObject[]): ErrorObject[] {
  let result = errors
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf').sort((a, b) => b.schemaPath.length - a.schemaPath.length)
  for (const one of oneOfs) {
    if (!result.includes(one)) continue
    const prefix = one.schemaPath + '/'
    const branchErrors = result.filter((e) => e.schemaPath.startsWith(prefix))
    const byBranch = new Map<string, ErrorObject[]>()
    for (const e of branchErrors) {
      const branch = e.schemaPath.slice(prefix.length).split('/')[0]
      byBranch.set(branch, [...(byBranch.get(branch) ?? []), e])
    }
    const compatible = [...byBranch.values()].filter(
      (errs) => !errs.some((e) => e.instancePath === one.instancePath && (e.keyword === 'type' || e.keyword === 'oneOf')),
    )
    const keep = compatible.length > 0 ? compatible[0] : []
    result = result.filter((e) => !branchErrors.includes(e) || keep.includes(e))
    if (keep.length > 0) result = result.filter((e) => e !== one)
  }
  return result
}

function toIssue(src: SourceDocument, e: ErrorObject): FileIssue {
  const path = parsePointer(e.instancePath)
  const base = {file: src.file}
  const parent = e.parentSchema as {description?: string; properties?: Record<string, unknown>; enum?: unknown[]} | undefined
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as {additionalProperty: string}).additionalProperty)
      const known = Object.keys(parent?.properties ?? {})
      const suggestion = didYouMean(key, known)
      const full = [...path, key]
      return {
        ...base,
        ...locate(src, full, 'key'),
        path: pointer(full),
        message: `unknown key "${key}"${known.length > 0 && !suggestion ? `; allowed keys: ${known.join(', ')}` : ''}`,
        ...(suggestion ? {suggestion} : {}),
      }
    }
    case 'required': {
      const key = (e.params as {missingProperty: string}).missingProperty
      return {...base, ...locate(src, path, 'key'), path: pointer([...path, key]), message: `missing required key "${key}"`}
    }
    case 'propertyNames': {
      const name = (e.params as {propertyName: string}).propertyName
      const full = [...path, name]
      return {
        ...base,
        ...locate(src, full, 'key'),
        path: pointer(full),
        message: `"${name}" is not a valid name: use letters, digits and _ and do not start with a digit`,
      }
    }
    case 'enum': {
      const allowed = (e.params as {allowedValues: unknown[]}).allowedValues.map(String)
      const actual = valueAt(src.value, path)
      const suggestion = typeof actual === 'string' ? didYouMean(actual, allowed) : undefined
      return {
        ...base,
        ...locate(src, path),
        path: pointer(path),
        message: `${JSON.stringify(actual)} is not allowed; expected one of: ${allowed.join(', ')}`,
        ...(suggestion ? {suggestion} : {}),
      }
    }
    case 'type': {
      const expected = (e.params as {type: string | string[]}).type
      const actual = valueAt(src.value, path)
      return {
        ...base,
        ...locate(src, path),
        path: pointer(path),
        message: `expected ${Array.isArray(expected) ? expected.join(' or ') : expected}, got ${describeType(actual)}`,
      }
    }
    case 'oneOf': {
      const actual = valueAt(src.value, path)
      return {
        ...base,
        ...locate(src, path),
        path: pointer(path),
        message: `${describeType(actual)} is not accepted here${parent?.description ? `; expected ${lowerFirst(parent.description)}` : ''}`,
      }
    }
    case 'pattern': {
      return {
        ...base,
        ...locate(src, path),
        path: pointer(path),
        message: parent?.description ?? `does not match ${(e.params as {pattern: string}).pattern}`,
      }
    }
    case 'minItems':
      return {...base, ...locate(src, path), path: pointer(path), message: 'must not be empty'}
    case 'minLength':
      return {...base, ...locate(src, path), path: pointer(path), message: 'must not be empty'}
    case 'minProperties':
      return {...base, ...locate(src, path), path: pointer(path), message: 'must not be empty'}
    default: {
      const actual = valueAt(src.value, path)
      const got = actual !== null && typeof actual !== 'object' ? `, got ${JSON.stringify(actual)}` : ''
      return {...base, ...locate(src, path), path: pointer(path), message: `${e.message ?? 'is invalid'}${got}`}
    }
  }
}

export function valueAt(value: unknown, path: Segment[]): unknown {
  let cur: unknown = value
  for (const s of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[s as string]
  }
  return cur
}

export function describeType(v: unknown): string {
  if (v === null) return 'null'
  if (v === undefined) return 'nothing'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`
  return `${typeof v} ${JSON.stringify(v)}`
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1).replace(/\.$/, '')
}
