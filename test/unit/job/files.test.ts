// `files:` and `outputs:` in a job file: what they become, and every bad entry a located
// error (exit 3) at its line, with the entry's path.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {InvalidFileError} from '../../../src/errors.js'
import {loadJobFile} from '../../../src/job/load.js'

const dir = mkdtempSync(join(tmpdir(), 'skyhop-files-'))
mkdirSync(join(dir, 'code'))
mkdirSync(join(dir, 'dataset'))
writeFileSync(join(dir, 'vocab.txt'), 'a\nb\n')

function load(body: string) {
  const file = join(dir, `job-${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, `name: f\nrun: echo hi\n${body}`)
  return loadJobFile(file)
}

function issues(body: string) {
  try {
    load(body)
  } catch (error) {
    expect(error).to.be.instanceOf(InvalidFileError)
    expect((error as InvalidFileError).exitCode).to.equal(3)
    return (error as InvalidFileError).issues
  }
  throw new Error('expected the file to be refused')
}

describe('job file: files and outputs', () => {
  it('normalizes local paths, bucket objects, mounts and outputs', () => {
    const {spec} = load(
      [
        'files:',
        '  /data/vocab.txt: ./vocab.txt',
        '  /data/set/: dataset',
        '  /data/model.bin: {source: s3://models/llama/model.bin, region: us-west-2}',
        '  /mnt/corpus: {source: oss://corpus/2026/, mode: mount}',
        '  /mnt/gcs: {source: gs://open-data/x/, mode: mount}',
        'outputs:',
        '  /results: s3://out/run-1/',
        '  /logs: store',
        '',
      ].join('\n'),
    )
    expect(spec.files).to.deep.equal([
      {path: '/data/vocab.txt', mode: 'copy', source: {kind: 'local', path: join(dir, 'vocab.txt'), directory: false}},
      {path: '/data/set', mode: 'copy', source: {kind: 'local', path: join(dir, 'dataset'), directory: true}},
      {
        path: '/data/model.bin',
        mode: 'copy',
        source: {kind: 'bucket', scheme: 's3', bucket: 'models', key: 'llama/model.bin', region: 'us-west-2', endpoint: null},
      },
      {
        path: '/mnt/corpus',
        mode: 'mount',
        source: {kind: 'bucket', scheme: 'oss', bucket: 'corpus', key: '2026/', region: null, endpoint: null},
      },
      {
        path: '/mnt/gcs',
        mode: 'mount',
        source: {kind: 'bucket', scheme: 'gs', bucket: 'open-data', key: 'x/', region: null, endpoint: null},
      },
    ])
    expect(spec.outputs).to.deep.equal([
      {path: '/results', to: {kind: 'bucket', scheme: 's3', bucket: 'out', key: 'run-1', region: null, endpoint: null}},
      {path: '/logs', to: {kind: 'store'}},
    ])
  })

  it('counts a bucket source with its size as data: does, for the egress estimate', () => {
    const {spec} = load(
      [
        'data: [{uri: s3://other/x, location: aws/us-east-1, size: 10GB}]',
        'files:',
        '  /data/set: {source: oss://corpus/2026/, mode: mount, region: cn-hangzhou, size: 500GB}',
        '  /data/m.bin: {source: s3://models/m.bin, size: 2GB}',
        '  /data/small: s3://models/small.bin',
        '',
      ].join('\n'),
    )
    expect(spec.data).to.deep.equal([
      {uri: 's3://other/x', provider: 'aws', region: 'us-east-1', sizeGB: 10},
      {uri: 'oss://corpus/2026/', provider: 'aliyun', region: 'cn-hangzhou', sizeGB: 500},
      {uri: 's3://models/m.bin', provider: 'aws', region: null, sizeGB: 2},
    ])
  })

  it('mounts: is files: whose entries are all mounts, sizes counted as data: too', () => {
    const {spec} = load(
      [
        'files:',
        '  /data/vocab.txt: ./vocab.txt',
        'mounts:',
        '  /mnt/corpus: oss://corpus/2026/',
        '  /mnt/weights: {source: s3://models/llama/, region: us-west-2, size: 40GB}',
        '',
      ].join('\n'),
    )
    expect(spec.files).to.deep.equal([
      {path: '/data/vocab.txt', mode: 'copy', source: {kind: 'local', path: join(dir, 'vocab.txt'), directory: false}},
      {
        path: '/mnt/corpus',
        mode: 'mount',
        source: {kind: 'bucket', scheme: 'oss', bucket: 'corpus', key: '2026/', region: null, endpoint: null},
      },
      {
        path: '/mnt/weights',
        mode: 'mount',
        source: {kind: 'bucket', scheme: 's3', bucket: 'models', key: 'llama/', region: 'us-west-2', endpoint: null},
      },
    ])
    expect(spec.data).to.deep.equal([{uri: 's3://models/llama/', provider: 'aws', region: 'us-west-2', sizeGB: 40}])
  })

  it('leaves a spec without them as it was', () => {
    const {spec} = load('')
    expect(spec).not.to.have.property('files')
    expect(spec).not.to.have.property('outputs')
  })

  const bad: Array<{title: string; body: string; line: number; path: string; message: RegExp; suggestion?: string}> = [
    {
      title: 'a local source that does not exist',
      body: 'files:\n  /data: ./nope\n',
      line: 4,
      path: '/files/~1data',
      message: /\.\/nope does not exist \(looked for .*nope\)/,
    },
    {
      title: 'a bucket URL with an unknown scheme',
      body: 'files:\n  /data/x: gss://bucket/x\n',
      line: 4,
      path: '/files/~1data~1x',
      message: /"gss:\/\/" is not a bucket URL skyhop knows; expected one of s3:\/\/, oss:\/\/, obs:\/\/, cos:\/\/, gs:\/\//,
      suggestion: 'gs://bucket/x',
    },
    {
      title: 'a relative destination',
      body: 'files:\n  data/x: ./vocab.txt\n',
      line: 4,
      path: '/files/data~1x',
      message: /the destination "data\/x" is relative; write an absolute path/,
    },
    {
      title: 'a destination on the checkpoint directory',
      body: 'checkpoint: {dir: /ckpt}\nfiles:\n  /ckpt/init: ./vocab.txt\n',
      line: 5,
      path: '/files/~1ckpt~1init',
      message: /\/ckpt\/init collides with the checkpoint directory \/ckpt \(checkpoint.dir\)/,
    },
    {
      title: 'a mount over the checkpoint directory',
      body: 'checkpoint: {dir: /data/ckpt}\nfiles:\n  /data: {source: s3://b/p/, mode: mount}\n',
      line: 5,
      path: '/files/~1data',
      message: /collides with the checkpoint directory/,
    },
    {
      title: 'a destination on the workdir',
      body: `workdir: code\nfiles:\n  ${join(dir, 'code', 'data')}: ./vocab.txt\n`,
      line: 5,
      path: `/files/${join(dir, 'code', 'data').replace(/\//g, '~1')}`,
      message: /collides with the workdir/,
    },
    {
      title: 'a local path mounted',
      body: 'files:\n  /data: {source: ./dataset, mode: mount}\n',
      line: 4,
      path: '/files/~1data',
      message: /mode: mount takes a bucket URL/,
    },
    {
      title: 'a size on a local path',
      body: 'files:\n  /data: {source: ./vocab.txt, size: 1GB}\n',
      line: 4,
      path: '/files/~1data',
      message: /region, endpoint and size are a bucket's/,
    },
    {
      title: 'a size that is not one',
      body: 'files:\n  /data: {source: s3://bkt/k, size: lots}\n',
      line: 4,
      path: '/files/~1data/size',
      message: /"lots" is not a size; expected e.g. 80GB/,
    },
    {
      title: 'a copy under a mount',
      body: 'files:\n  /data: {source: s3://bucket/set/, mode: mount}\n  /data/extra: ./vocab.txt\n',
      line: 5,
      path: '/files/~1data~1extra',
      message: /overlaps \/data, and one of them is a mount/,
    },
    {
      title: 'an unknown mode',
      body: 'files:\n  /data: {source: s3://bkt/k, mode: sync}\n',
      line: 4,
      path: '/files/~1data/mode',
      message: /"sync" is not allowed; expected one of: copy, mount/,
    },
    {
      title: 'a COS bucket without its APPID',
      body: 'files:\n  /data: cos://bucket/k\n',
      line: 4,
      path: '/files/~1data',
      message: /a COS bucket is named BUCKET-APPID/,
    },
    {
      title: 'an output that is relative',
      body: 'outputs:\n  results: store\n',
      line: 4,
      path: '/outputs/results',
      message: /an output "results" is relative/,
    },
    {
      title: 'an output to neither a bucket nor the store',
      body: 'outputs:\n  /results: stor\n',
      line: 4,
      path: '/outputs/~1results',
      message: /"stor" is neither a bucket URL/,
      suggestion: 'store',
    },
    {
      title: 'two outputs to one object',
      body: 'outputs:\n  /a/results: store\n  /b/results: store\n',
      line: 5,
      path: '/outputs/~1b~1results',
      message: /\/b\/results and \/a\/results would both be uploaded as store\/results.tar/,
    },
    {
      title: 'a local path under mounts:',
      body: 'mounts:\n  /data: ./vocab.txt\n',
      line: 4,
      path: '/mounts/~1data',
      message: /mounts: takes a bucket URL .*; a local path is copied: put it under files:/,
    },
    {
      title: 'a mode under mounts:',
      body: 'mounts:\n  /data: {source: s3://corpus/x/, mode: copy}\n',
      line: 4,
      path: '/mounts/~1data/mode',
      message: /unknown key "mode"/,
    },
    {
      title: 'a file placed inside a mount of mounts:',
      body: 'files:\n  /data/v.txt: ./vocab.txt\nmounts:\n  /data: s3://corpus/x/\n',
      line: 6,
      path: '/mounts/~1data',
      message: /\/data overlaps \/data\/v.txt, and one of them is a mount/,
    },
  ]
  for (const c of bad) {
    it(`refuses ${c.title}, at its line`, () => {
      const found = issues(c.body)
      expect(found, JSON.stringify(found)).to.have.length(1)
      expect(found[0].path).to.equal(c.path)
      expect(found[0].line).to.equal(c.line)
      expect(found[0].message).to.match(c.message)
      if (c.suggestion) expect(found[0].suggestion).to.equal(c.suggestion)
    })
  }
  it('a service takes copies but no outputs: (located at the outputs, exit 3)', () => {
    const service = ['service:', '  port: 8080']
    const {spec} = load(['files:', '  /data/vocab.txt: ./vocab.txt', ...service, ''].join('\n'))
    expect(spec.files?.map((f) => f.path)).to.deep.equal(['/data/vocab.txt'])
    const found = issues(['outputs:', '  /results: store', ...service, ''].join('\n'))
    expect(found.map((i) => [i.path, i.line])).to.deep.equal([['/outputs', 4]])
    expect(found[0].message).to.match(/^a service cannot have outputs: its replicas run side by side until stopped/)
  })
})
