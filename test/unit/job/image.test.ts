// `image:`: a VM image or a container image, classified and parsed by the loader, with a
// located error for a container reference that does not parse.
import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {InvalidFileError} from '../../../src/errors.js'
import {classifyImage, ImageReferenceError, parseContainerReference} from '../../../src/job/image.js'
import {loadJobFile} from '../../../src/job/load.js'

const dir = mkdtempSync(join(tmpdir(), 'skyhop-image-'))
function load(content: string) {
  const file = join(dir, `f${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, content)
  return loadJobFile(file)
}

describe('job image: VM or container', () => {
  it('classifies container references: docker: prefix, a registry host, namespace/name:tag, a digest', () => {
    const digest = 'sha256:' + 'a'.repeat(64)
    const cases: Array<
      [string, {reference: string; registry: string | null; repository: string; tag: string | null; digest: string | null}]
    > = [
      ['docker:ubuntu:22.04', {reference: 'ubuntu:22.04', registry: null, repository: 'ubuntu', tag: '22.04', digest: null}],
      ['docker:ubuntu', {reference: 'ubuntu', registry: null, repository: 'ubuntu', tag: null, digest: null}],
      [
        'nvcr.io/nvidia/pytorch:24.05-py3',
        {reference: 'nvcr.io/nvidia/pytorch:24.05-py3', registry: 'nvcr.io', repository: 'nvidia/pytorch', tag: '24.05-py3', digest: null},
      ],
      [
        'localhost/skyhop-test:busybox',
        {reference: 'localhost/skyhop-test:busybox', registry: 'localhost', repository: 'skyhop-test', tag: 'busybox', digest: null},
      ],
      [
        'registry.example.com:5000/team/train@' + digest,
        {
          reference: 'registry.example.com:5000/team/train@' + digest,
          registry: 'registry.example.com:5000',
          repository: 'team/train',
          tag: null,
          digest,
        },
      ],
      [
        'pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime',
        {
          reference: 'pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime',
          registry: null,
          repository: 'pytorch/pytorch',
          tag: '2.3.0-cuda12.1-cudnn8-runtime',
          digest: null,
        },
      ],
      [
        'swr.cn-south-1.myhuaweicloud.com/ascendhub/ascend-pytorch:24.0.RC1-A2-2.1.0',
        {
          reference: 'swr.cn-south-1.myhuaweicloud.com/ascendhub/ascend-pytorch:24.0.RC1-A2-2.1.0',
          registry: 'swr.cn-south-1.myhuaweicloud.com',
          repository: 'ascendhub/ascend-pytorch',
          tag: '24.0.RC1-A2-2.1.0',
          digest: null,
        },
      ],
    ]
    for (const [text, image] of cases) expect(classifyImage(text), text).to.deep.equal({kind: 'container', image})
  })

  it('leaves VM image names and ids to the provider', () => {
    for (const name of [
      'ami-0123456789abcdef0',
      'Deep Learning OSS Nvidia Driver AMI GPU PyTorch 2.3 (Ubuntu 22.04)',
      'ubuntu_22_04_x64_20G_alibase_20240220.vhd',
      'family:acs:ubuntu_22_04_x64',
      'img-487zeit5',
      'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*',
      'a4f3e1c2-5b6d-4e7f-8a9b-0c1d2e3f4a5b',
    ]) {
      expect(classifyImage(name), name).to.deep.equal({kind: 'vm', name})
    }
  })

  it('rejects malformed container references, saying which part is wrong', () => {
    const bad: Array<[string, RegExp]> = [
      ['docker:', /empty/],
      ['docker:Ubuntu:22.04', /"Ubuntu" .*lower case/],
      ['docker:ubuntu:-bad', /tag "-bad"/],
      ['nvcr.io/nvidia/pytorch:24.05 py3', /whitespace/],
      ['nvcr.io/nvidia//pytorch:1', /"" is not a valid repository name component/],
      ['docker:ubuntu@sha256:xyz', /not a digest/],
      ['bad_host.io:port/x:1', /not a registry host/],
      ['docker:' + 'a'.repeat(256), /longer than 255/],
    ]
    for (const [text, message] of bad) expect(() => classifyImage(text), text).to.throw(ImageReferenceError, message)
    expect(() => parseContainerReference('a/b/c:' + 'x'.repeat(129))).to.throw(ImageReferenceError, /tag/)
  })

  it('the loader sets container for a container image and keeps image as written', () => {
    const {spec} = load('name: a\nrun: x\nimage: localhost/skyhop-test:busybox\n')
    expect(spec.image).to.equal('localhost/skyhop-test:busybox')
    expect(spec.container).to.deep.include({reference: 'localhost/skyhop-test:busybox', registry: 'localhost', tag: 'busybox'})
    expect(load('name: a\nrun: x\nimage: ami-0123456789abcdef0\n').spec.container).to.equal(null)
    expect(load('name: a\nrun: x\n').spec.container).to.equal(null)
  })

  it('the loader reports a malformed reference at its line and field (exit 3)', () => {
    try {
      load('name: a\nrun: x\nimage: docker:nvidia/PyTorch:1\n')
      expect.fail('should have thrown')
    } catch (error) {
      expect(error).to.be.instanceOf(InvalidFileError)
      const e = error as InvalidFileError
      expect(e.exitCode).to.equal(3)
      expect(e.issues).to.have.length(1)
      expect(e.issues[0]).to.deep.include({line: 3, path: '/image'})
      expect(e.issues[0].message).to.match(/"PyTorch" is not a valid repository name component \(repository names are lower case\)/)
    }
  })
})
