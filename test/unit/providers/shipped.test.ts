// Reading back what a cloud attempt shipped (src/providers/vm/shipped.ts), over an in-memory
// reader: samples across segment ends (whole lines only, the offset in bytes of the file), the
// log after the console's lines (gap notes counted), and the console's error when nothing was
// shipped.
import {expect} from 'chai'

import {ProviderError} from '../../../src/errors.js'
import type {LaunchHandle} from '../../../src/model/attempt.js'
import type {AttemptObjectReader, ShippedFile} from '../../../src/model/checkpoint.js'
import {shippedLog, shippedSamples, shipHandleData, withShippedLog} from '../../../src/providers/vm/shipped.js'

const SEGMENT = 10

/** A reader over a file cut into SEGMENT-byte objects, as the runner ships it; counts reads. */
function readerOf(files: Partial<Record<ShippedFile, string>>): AttemptObjectReader & {reads: string[]} {
  const reads: string[] = []
  return {
    reads,
    async segment(_store, jobId, attemptId, file, index, from = 0) {
      reads.push(`${jobId}/${attemptId}/${file}#${index}@${from}`)
      const bytes = Buffer.from(files[file] ?? '', 'utf8')
      if (index * SEGMENT >= bytes.length) return null
      return bytes.subarray(index * SEGMENT, (index + 1) * SEGMENT).subarray(from)
    },
  }
}

const handle = (ship = true): LaunchHandle => ({
  provider: 'aws',
  externalId: 'i-1',
  region: 'us-east-1',
  zone: null,
  data: {
    jobId: 'j-1',
    attemptId: 'a-1',
    ...(ship
      ? shipHandleData({
          manifestUrl: 'https://example.com/list?X-Amz-Signature=x',
          store: {url: 's3://b/p', region: 'us-east-1', endpoint: null},
          location: 's3://b/p/j-1/attempts/a-1/',
          segmentBytes: SEGMENT,
          shipSeconds: 2,
          expiresAt: '2026-12-14T00:00:00.000Z',
        })
      : {}),
  },
})

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

async function* lines(...items: string[]): AsyncIterable<string> {
  yield* items
}

describe('shipped files of a cloud attempt (vm/shipped.ts)', () => {
  it('keeps only the store and segment size in the handle, never the signed list URL', () => {
    expect(handle().data.ship).to.deep.equal({store: {url: 's3://b/p', region: 'us-east-1', endpoint: null}, segmentBytes: SEGMENT})
    expect(JSON.stringify(handle())).to.not.include('Signature')
  })

  it('reads samples as whole lines across segment ends, from a byte offset, as the usage watch asks', async () => {
    // Lines of 7, 9 and 12 bytes: the second and third cross segment ends.
    const text = '{"a":1}\n{"b":22}\n{"c":3333}\n'
    const reader = readerOf({'samples.jsonl': text + '{"d":'})
    const first = await shippedSamples(reader, handle(), 0)
    expect(first).to.deep.equal({text, offset: Buffer.byteLength(text)})
    // From there on only the cut line: nothing whole yet.
    expect(await shippedSamples(reader, handle(), first!.offset)).to.deep.equal({text: '', offset: first!.offset})
    // From the middle of the file: a ranged read of the segment the offset is in.
    reader.reads.length = 0
    expect(await shippedSamples(reader, handle(), 8)).to.deep.equal({text: '{"b":22}\n{"c":3333}\n', offset: text.length})
    expect(reader.reads[0]).to.equal('j-1/a-1/samples.jsonl#0@8')
  })

  it('returns null when nothing was shipped, or the attempt ships nothing', async () => {
    expect(await shippedSamples(readerOf({}), handle(), 0)).to.equal(null)
    expect(await shippedSamples(readerOf({'samples.jsonl': '{}\n'}), handle(false), 0)).to.equal(null)
    expect(await shippedSamples(undefined, handle(), 0)).to.equal(null)
  })

  it("reads each rank of a gang from its own objects (node-<rank>/ in the store), the head's beside the list", async () => {
    const reads: string[] = []
    const byRank = ['{"a":0}\n', '{"a":1}\n{"b":1}\n']
    const reader: AttemptObjectReader = {
      async segment(_store, _jobId, _attemptId, file, index, from = 0, rank = 0) {
        reads.push(`${file}#${index}@${from} rank ${rank}`)
        const bytes = Buffer.from(byRank[rank] ?? '', 'utf8')
        if (index * SEGMENT >= bytes.length) return null
        return bytes.subarray(index * SEGMENT, (index + 1) * SEGMENT).subarray(from)
      },
    }
    expect(await shippedSamples(reader, handle(), 0, 0)).to.deep.equal({text: '{"a":0}\n', offset: 8})
    expect(await shippedSamples(reader, handle(), 0, 1)).to.deep.equal({text: '{"a":1}\n{"b":1}\n', offset: 16})
    expect(reads).to.deep.equal(['samples.jsonl#0@0 rank 0', 'samples.jsonl#0@0 rank 1', 'samples.jsonl#1@0 rank 1'])
    // A rank that shipped nothing (yet) has nothing to read.
    expect(await shippedSamples(reader, handle(), 0, 2)).to.equal(null)
  })

  it('reads the whole log, its last line without a newline too', async () => {
    expect(await shippedLog(readerOf({'output.log': 'one\ntwo\nthree and more\nlast'}), handle())).to.deep.equal([
      'one',
      'two',
      'three and more',
      'last',
    ])
    // A log of exactly two segments: the read stops at the missing third.
    expect(await shippedLog(readerOf({'output.log': '123456789\n123456789\n'}), handle())).to.deep.equal(['123456789', '123456789'])
    expect(await shippedLog(readerOf({}), handle())).to.equal(null)
  })

  it('yields the console lines, then the shipped lines past them (a gap note counts its lines)', async () => {
    const reader = readerOf({'output.log': 'l1\nl2\nl3\nl4\nl5\n'})
    const console = () => lines('[skyhop: 2 line(s) fell out of the EC2 console window]', 'l3')
    expect(await collect(withShippedLog(reader, handle(), {follow: false}, console))).to.deep.equal([
      '[skyhop: 2 line(s) fell out of the EC2 console window]',
      'l3',
      'l4',
      'l5',
    ])
    // A running attempt's console is ahead of the store: not read then, unless the console fails.
    reader.reads.length = 0
    expect(await collect(withShippedLog(reader, handle(), {follow: false, running: true}, () => lines('l1')))).to.deep.equal(['l1'])
    expect(reader.reads).to.deep.equal([])
    // Another rank's log is the console's alone: only the head ships.
    expect(await collect(withShippedLog(reader, handle(), {follow: false, node: 1}, () => lines('r1')))).to.deep.equal(['r1'])
  })

  it('reads the store when the console fails (the instance is gone), and says why when nothing was shipped', async () => {
    const gone = () =>
      (async function* () {
        yield* []
        throw new ProviderError('aliyun', 'user', 'InvalidInstanceId.NotFound: The specified InstanceId does not exist', {
          backendCode: 'InvalidInstanceId.NotFound',
        })
      })()
    const reader = readerOf({'output.log': 'a\nb\n'})
    expect(await collect(withShippedLog(reader, handle(), {follow: false}, gone))).to.deep.equal(['a', 'b'])
    const error = await collect(withShippedLog(reader, handle(false), {follow: false}, gone)).then(
      () => null,
      (e: unknown) => e as ProviderError,
    )
    expect(error).to.be.instanceOf(ProviderError)
    expect(error!.message).to.equal('aliyun: InvalidInstanceId.NotFound: The specified InstanceId does not exist')
    expect(error!.backendCode).to.equal('InvalidInstanceId.NotFound')
    expect(error!.hint).to.match(/no object store to ship its output\.log to \(set checkpoint\.store/)
  })
})
