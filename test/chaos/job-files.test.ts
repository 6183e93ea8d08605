// Chaos: generated malformed job files — mutations, truncations, type swaps, YAML alias
// bombs, deep nesting, odd encodings and BOMs — through the loader `validate` and `plan` use
// (in process, for the bulk) and a sample through the built CLI. Counted: anything but an
// InvalidFileError thrown (uncaught: a stack trace for a user), an exit other than 0 or 3, and
// an issue without a line where the document has one (its YAML error, or the node its path
// names). Sizes: SKYHOP_CHAOS_SCALE=full runs 10,000 files.
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseDocument} from 'yaml'

import {InvalidFileError} from '../../src/errors.js'
import {loadJobFile} from '../../src/job/load.js'
import {seededRandom} from '../fakes/fake-faulty-endpoint.js'
import {parseEnvelope, runCliAsync, tempHome} from '../helpers/cli.js'
import {figures, reportAtEnd, SEED, size} from './figures.js'
import {type Case, generate} from './job-file-cases.js'

reportAtEnd()

const NOW = new Date('2026-12-07T12:00:00Z')
/** Whether the issue should carry a line: its YAML error, or a path naming a node the document has. */
function locatable(bytes: Buffer, path: string, parsed: Map<Buffer, ReturnType<typeof parseDocument> | null>): boolean {
  let doc = parsed.get(bytes)
  if (doc === undefined) {
    try {
      doc = parseDocument(bytes.toString('utf8'), {uniqueKeys: false})
    } catch {
      doc = null
    }
    parsed.set(bytes, doc)
  }
  if (doc === null || doc.errors.length > 0) return false // where the loader reports it depends on the parser's own position
  if (path === '' || path === '/') return false
  const segments = path
    .split('/')
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s))
  const node = doc.getIn(segments, true) as {range?: unknown} | undefined
  return node !== undefined && node !== null && typeof node === 'object' && 'range' in node && Array.isArray(node.range)
}

describe('chaos: malformed job files', function () {
  this.timeout(300_000)
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-chaos-files-'))
  after(() => rmSync(dir, {recursive: true, force: true}))
  const total = size(600, 10_000)
  const viaCli = size(16, 200)
  const cases: Array<Case & {file: string}> = []
  const random = seededRandom(SEED)
  for (let n = 0; n < total; n++) {
    const c = generate(random, n)
    cases.push({...c, file: join(dir, `f${n}-${c.label}.yaml`)})
  }

  it(`${total} files through the loader: only InvalidFileError, each issue located where the document has the place`, () => {
    const uncaught: string[] = []
    const unlocated: string[] = []
    let slowestMs = 0
    for (const c of cases) {
      writeFileSync(c.file, c.bytes)
      const t0 = performance.now()
      try {
        loadJobFile(c.file, {now: NOW})
      } catch (error) {
        if (!(error instanceof InvalidFileError)) {
          uncaught.push(`${c.file}: ${error instanceof Error ? error.stack : String(error)}`)
          continue
        }
        const parsed = new Map<Buffer, ReturnType<typeof parseDocument> | null>()
        for (const issue of error.issues) {
          // Only for files of a size a person writes: re-parsing a 30 kB nesting costs a second.
          if (issue.line === undefined && c.bytes.length < 8192 && locatable(c.bytes, issue.path, parsed))
            unlocated.push(`${c.file} ${issue.path}: ${issue.message}`)
        }
      }
      slowestMs = Math.max(slowestMs, performance.now() - t0)
    }
    figures.files = {
      total,
      viaCli: 0,
      uncaught: uncaught.length,
      wrongExit: 0,
      unlocated: unlocated.length,
      slowestMs: Math.round(slowestMs),
    }
    expect(uncaught, uncaught.slice(0, 3).join('\n')).to.deep.equal([])
    expect(unlocated, unlocated.slice(0, 5).join('\n')).to.deep.equal([])
  })

  it(`a sample of ${viaCli} through the built CLI (validate and plan, --json): exit 0 or 3, one JSON document, a location when invalid`, async () => {
    const home = tempHome('skyhop-chaos-files-cli-')
    const wrong: string[] = []
    // Every kind of case, spread over the run.
    const sample = Array.from({length: viaCli}, (_, i) => cases[Math.floor((i * cases.length) / viaCli) + (i % 10)] ?? cases[i])
    for (let i = 0; i < sample.length; i += 2) {
      const pair = sample.slice(i, i + 2)
      const results = await Promise.all(
        pair.map((c, j) => runCliAsync([(i + j) % 4 === 3 ? 'plan' : 'validate', c.file, '--json'], {home})),
      )
      results.forEach((r, j) => {
        const c = pair[j]
        if (r.code !== 0 && r.code !== 3 && !(r.code === 5 && (i + j) % 4 === 3)) {
          wrong.push(`${c.file}: exit ${r.code}: ${r.stderr.slice(0, 300)}`)
          return
        }
        let envelope
        try {
          envelope = parseEnvelope(r.stdout)
        } catch {
          wrong.push(`${c.file}: stdout is not one JSON document: ${r.stdout.slice(0, 200)}`)
          return
        }
        if (r.code === 3 && !JSON.stringify(envelope.error ?? {}).includes(c.file))
          wrong.push(`${c.file}: its error does not name the file`)
      })
    }
    figures.files = {...figures.files!, viaCli: sample.length, wrongExit: wrong.length}
    expect(wrong, wrong.slice(0, 3).join('\n')).to.deep.equal([])
  })
})
