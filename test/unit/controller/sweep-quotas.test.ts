// A sweep is planned within the quotas the config sets: more jobs than a region may run
// at once spill to the next region instead of piling onto the cheapest one.
import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadConfig} from '../../../src/config.js'
import {gatherPlanningInputs} from '../../../src/services/planning.js'
import {planSweepJobs} from '../../../src/services/sweep.js'
import {loadJobFile} from '../../../src/job/load.js'

describe('sweep planning within configured quotas', () => {
  it('caps a region at its max_instances and spills the rest', async () => {
    const home = mkdtempSync(join(tmpdir(), 'skyhop-quota-'))
    writeFileSync(
      join(home, 'offers.yaml'),
      [
        'offers:',
        '  - {provider: aws, region: us-east-1, instanceType: g5.xlarge, accelerator: {name: A10G, count: 1}, vcpus: 4, memoryGiB: 16, price: {onDemand: 1.0, currency: USD}}',
        '  - {provider: aws, region: us-west-2, instanceType: g5.xlarge, accelerator: {name: A10G, count: 1}, vcpus: 4, memoryGiB: 16, price: {onDemand: 1.2, currency: USD}}',
        '',
      ].join('\n'),
    )
    writeFileSync(
      join(home, 'config.yaml'),
      'providers:\n  slurm: {enabled: false}\nquotas:\n  - {provider: aws, region: us-east-1, max_instances: 3}\n',
    )
    writeFileSync(
      join(home, 'job.yaml'),
      'name: q\nresources: {accelerators: A10G:1}\nwork: {hours: 1}\nmatrix: {seed: [1, 2, 3, 4, 5]}\nrun: echo $seed\n',
    )
    const config = loadConfig(home)
    expect(config.quotas).to.deep.equal([{provider: 'aws', region: 'us-east-1', maxInstances: 3}])
    const inputs = await gatherPlanningInputs({
      home,
      config,
      providers: new Map(),
      catalogFile: join(home, 'offers.yaml'),
      allProviders: true,
    })
    const {spec, file} = loadJobFile(join(home, 'job.yaml'))
    const planned = await planSweepJobs({spec, file, sets: {}, budget: null, env: {}}, inputs)
    const regions = planned.plan.assignments.map((a) => a.candidate?.region)
    expect(regions.filter((r) => r === 'us-east-1')).to.have.length(3)
    expect(regions.filter((r) => r === 'us-west-2')).to.have.length(2)
  })
})
