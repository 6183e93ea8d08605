// `launch --wait` of a short job on AWS through the built CLI (bin/run.js) against the fake EC2,
// whose instances run their boot script here as cloud-init would: the job only echoes, and its
// instance ends before the console is read again (every 5 s, the default). The lines are
// printed all the same: once the job ended, what the stream had not shown is read once more
// (issue 23: "an AWS job that only echoes prints nothing"). No store: the console has them.
// Run `npm run build` first. The fake lives in this process, so the CLI runs async.
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {runCliAsync} from '../helpers/cli.js'
import {KEY as AWS_KEY} from './aws-helpers.js'
import {AWS_TYPE, fakeOffers} from './cloud-world.js'

describe('skyhop CLI: launch --wait prints a short AWS job whole (fake EC2)', function () {
  this.timeout(180_000)
  let home: string
  let ec2: FakeEc2Server

  beforeEach(async () => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-aws-wait-'))
    ec2 = new FakeEc2Server({
      keys: [AWS_KEY],
      capacity: {'us-east-1': {'us-east-1a': {[AWS_TYPE]: 4}}},
      spotPrices: {'us-east-1a': {[AWS_TYPE]: 0.03}},
      vcpus: {[AWS_TYPE]: 2},
      bootDir: join(home, 'fake-ec2'),
    })
  })
  afterEach(async () => {
    await ec2?.stop()
    rmSync(home, {recursive: true, force: true})
  })

  it('prints every line of a job that only echoes', async () => {
    const url = await ec2.start()
    const catalog = join(home, 'offers.json')
    writeFileSync(catalog, JSON.stringify({offers: fakeOffers().filter((o) => o.zone === 'us-east-1a')}))
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n  local: {enabled: false}\n')
    const file = join(home, 'echo.yaml')
    writeFileSync(file, 'name: echo\nspot: on-demand\nrun: |\n  echo "hello from aws"\n  echo "second line"\n')
    const userHome = mkdtempSync(join(home, 'user-'))
    const r = await runCliAsync(['launch', file, '--catalog', catalog, '--wait', '--yes'], {
      home,
      env: {
        HOME: userHome,
        SKYHOP_CONFIG: config,
        AWS_ENDPOINT_URL_EC2: url,
        AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId,
        AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey,
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    })
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.include('hello from aws').and.to.include('second line')
    expect(r.stdout + r.stderr).to.not.include(AWS_KEY.secretAccessKey)
  })
})
