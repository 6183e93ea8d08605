// The runner's shipping of output.log and samples.jsonl (its `ship` section) against a real HTTP
// object store (the fake serves presigned GET/PUT; signatures are the dialects' business): the
// list of signed URLs fetched once, segments PUT whole while current and left alone once full,
// the last copy before exit_code, a file larger than the URLs it was given, a refused URL, and
// a list that cannot be fetched (the job runs on). Real bash, real curl.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {readEvents, readExitCode} from '../../src/providers/attempt-dir.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {eventOf, killChildren, makeAttempt, removeDirs, startRunner} from '../helpers/runner-attempt.js'

/** A stand-in for the signature: whatever is in the URLs must never reach an event or a log. */
const SECRET = 'Signature=sEcReT-sIgNaTuRe-456'
const SEGMENT = 1000

describe('skyhop-runner.sh ships output.log and samples.jsonl to the job store', function () {
  this.timeout(60_000)
  let store: FakeObjectStore
  const key = (name: string) => `runs/job-1/attempts/a-1/${name}`
  const url = (name: string) => `${store.endpoint}/bucket/${key(name)}?${SECRET}`

  beforeEach(async () => {
    store = new FakeObjectStore()
    await store.start()
  })
  afterEach(async () => {
    killChildren()
    await store.stop()
  })
  after(removeDirs)

  /** Writes the list of `segments` signed URLs per file into the store, as the controller does. */
  function putList(segments: {o: number; s: number}): string {
    let list = ''
    for (let i = 0; i < segments.o; i++) list += `o ${i} ${url(`output-${String(i).padStart(4, '0')}.log`)}\n`
    for (let i = 0; i < segments.s; i++) list += `s ${i} ${url(`samples-${String(i).padStart(4, '0')}.jsonl`)}\n`
    store.objects.set(`bucket/${key('ship-urls')}`, {body: Buffer.from(list), contentType: null, storedAt: new Date()})
    return url('ship-urls')
  }

  const body = (name: string) => store.object('bucket', key(name))?.body.toString()
  const puts = (name: string) => store.requests.filter((r) => r.method === 'PUT' && r.key === key(name)).length

  function noSecretIn(dir: string): void {
    for (const name of ['events.jsonl', 'output.log', 'runner.log', 'samples.jsonl']) {
      let text = ''
      try {
        text = readFileSync(join(dir, name), 'utf8')
      } catch {
        continue
      }
      expect(text, name).to.not.include(SECRET)
    }
  }

  it('ships every segment of a log that outgrows one, each full one once, the last copy before exit_code', async () => {
    // 3.5 segments of output over a few seconds, shipped every second.
    const line = 'x'.repeat(99) // 100 bytes with its newline
    const a = makeAttempt({
      run: `for i in $(seq 1 35); do echo '${line}'; sleep 0.1; done`,
      config: {shipUrl: putList({o: 8, s: 2}), shipSeconds: 1, shipSegmentBytes: SEGMENT, sampleIntervalSeconds: 0.3},
    })
    const r = startRunner(a.dir)
    expect(await r.done).to.equal(0)
    expect(readExitCode(a.dir)).to.equal(0)
    const log = readFileSync(join(a.dir, 'output.log'), 'utf8')
    expect(log.length).to.equal(3500)
    expect(body('output-0000.log')! + body('output-0001.log')! + body('output-0002.log')! + body('output-0003.log')!).to.equal(log)
    expect(body('output-0004.log')).to.equal(undefined)
    // A full segment is not sent again once the next one is being sent.
    const order = store.requests.filter((q) => q.method === 'PUT').map((q) => q.key)
    for (const i of [0, 1, 2]) {
      const next = order.indexOf(key(`output-000${i + 1}.log`))
      expect(next).to.be.greaterThan(0)
      expect(order.slice(next)).to.not.include(key(`output-000${i}.log`))
    }
    expect(puts('output-0003.log')).to.be.greaterThan(0)
    const samples = readFileSync(join(a.dir, 'samples.jsonl'), 'utf8')
    expect(samples.length).to.be.greaterThan(0)
    expect((body('samples-0000.jsonl') ?? '') + (body('samples-0001.jsonl') ?? '')).to.equal(samples.slice(0, 2 * SEGMENT))
    const ship = eventOf(a.dir, 'ship')!
    expect(ship).to.deep.include({ok: true, bytes: 3500})
    // The last copy comes before the exit event (and exit_code).
    const names = readEvents(a.dir).map((e) => e.event)
    expect(names.indexOf('ship')).to.be.lessThan(names.indexOf('exit'))
    noSecretIn(a.dir)
  })

  it('stops at the segments it was given, with a warning, and the job is untouched', async () => {
    const a = makeAttempt({
      run: `head -c 2500 /dev/zero | tr '\\0' y; echo`,
      config: {shipUrl: putList({o: 2, s: 1}), shipSeconds: 30, shipSegmentBytes: SEGMENT, sampleIntervalSeconds: 0},
    })
    expect(await startRunner(a.dir).done).to.equal(0)
    expect(body('output-0000.log')!.length + body('output-0001.log')!.length).to.equal(2 * SEGMENT)
    const warning = readEvents(a.dir).find((e) => e.event === 'warning' && /larger than the 2000 bytes/.test(String(e.message)))
    expect(warning, JSON.stringify(readEvents(a.dir))).to.not.equal(undefined)
    expect(eventOf(a.dir, 'ship')).to.deep.include({ok: false})
    expect(readExitCode(a.dir)).to.equal(0)
    noSecretIn(a.dir)
  })

  it('a refused PUT stops shipping with a warning; a list it cannot fetch leaves the files on the machine', async () => {
    const refused = makeAttempt({
      run: 'echo one',
      config: {shipUrl: putList({o: 2, s: 1}), shipSeconds: 30, shipSegmentBytes: SEGMENT, sampleIntervalSeconds: 0},
    })
    store.failNext(1, 403, 'AccessDenied', /output-0000/, 'PUT')
    expect(await startRunner(refused.dir).done).to.equal(0)
    expect(
      readEvents(refused.dir).some(
        (e) => e.event === 'warning' && /refused to take output\.log \(HTTP 403 AccessDenied\)/.test(String(e.message)),
      ),
    ).to.equal(true)
    expect(eventOf(refused.dir, 'ship')).to.deep.include({ok: false})

    const missing = makeAttempt({
      run: 'echo two',
      config: {shipUrl: url('no-such-list'), shipSeconds: 30, shipSegmentBytes: SEGMENT, sampleIntervalSeconds: 0},
    })
    expect(await startRunner(missing.dir).done).to.equal(0)
    expect(readFileSync(join(missing.dir, 'output.log'), 'utf8')).to.equal('two\n')
    expect(
      readEvents(missing.dir).some((e) => e.event === 'warning' && /could not be fetched \(HTTP 404\)/.test(String(e.message))),
    ).to.equal(true)
    expect(eventOf(missing.dir, 'ship')).to.equal(undefined)
    noSecretIn(refused.dir)
    noSecretIn(missing.dir)
  })
})
