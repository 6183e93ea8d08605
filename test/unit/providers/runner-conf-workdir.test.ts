import {expect} from 'chai'

import {UsageError} from '../../../src/errors.js'
import {renderRunnerConf, workdirRunnerConfig} from '../../../src/providers/attempt-dir.js'

const BASE = {graceSeconds: 30, signal: 'SIGTERM', workdir: 'work', noticeSources: [], pollIntervalSeconds: 1}
const SHA = 'ab'.repeat(32)
const URL = 'http://127.0.0.1:9000/bkt/p/workdirs/x.tar?X-Amz-Signature=abc'

describe('runner.conf: the workdir archive', () => {
  it('writes workdirUrl and workdirSha256 from the attempt signed URLs, nothing without them', () => {
    expect(workdirRunnerConfig(null)).to.deep.equal({})
    expect(workdirRunnerConfig({})).to.deep.equal({})
    const conf = renderRunnerConf({...BASE, ...workdirRunnerConfig({workdir: {getUrl: URL, sha256: SHA}})})
    expect(conf).to.include(`workdirUrl='${URL}'\n`).and.to.include(`workdirSha256='${SHA}'\n`)
  })

  it('refuses one without the other, and a sha256 that is not 64 hex digits', () => {
    expect(() => renderRunnerConf({...BASE, workdirUrl: URL})).to.throw(UsageError, /workdirUrl and workdirSha256 go together/)
    expect(() => renderRunnerConf({...BASE, workdirSha256: SHA})).to.throw(UsageError, /go together/)
    expect(() => renderRunnerConf({...BASE, workdirUrl: URL, workdirSha256: 'ABC'})).to.throw(UsageError, /64 lowercase hex digits/)
    expect(() => renderRunnerConf({...BASE, workdirUrl: 'file:///etc/passwd', workdirSha256: SHA})).to.throw(
      UsageError,
      /not an http\(s\) URL/,
    )
  })
})
