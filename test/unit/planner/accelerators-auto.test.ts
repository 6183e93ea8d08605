// `resources.accelerators: auto` in the pure planner (docs/planner.md#accelerators-auto): open
// before any run (any accelerator the runtimes allow, CPU-only machines when they allow cpu),
// then the configuration of the latest run, right-sized like `plan --right-size`; its runs
// stay one history (the usage fingerprint of what the file wrote) whatever each was sized to.
import {expect} from 'chai'

import {AUTO_REQUEST, type JobSpec} from '../../../src/model/job-spec.js'
import type {UsageObservation, UsageSummary} from '../../../src/model/usage.js'
import {planJob} from '../../../src/planner/index.js'
import {asMeasured, autoChosen, rightSizeAdvice, rightSizeVariants, usageNeed} from '../../../src/planner/right-size.js'
import type {Candidate} from '../../../src/planner/types.js'
import {usageFingerprint} from '../../../src/providers/usage-samples.js'
import {hoursFromNow, input, job, offer} from './fixtures.js'

const auto = (resources: Partial<JobSpec['resources']> = {}): JobSpec =>
  job({work: null, resources: {accelerators: [AUTO_REQUEST], auto: {choice: null}, ...resources}})

const OFFERS = [
  offer({acc: null, count: 0, od: 0.5, vcpus: 16}),
  offer({acc: 'SLOW', count: 1, od: 2}),
  offer({acc: 'H100', count: 8, od: 40}),
  offer({acc: 'Ascend910B', count: 8, od: 20}),
]

function run(accelerator: string | null, summary: Partial<UsageSummary> = {}, count = 1): UsageObservation {
  return {
    attemptId: 'a1',
    jobName: 'test-job',
    fingerprint: 'f',
    provider: 'aws',
    accelerator,
    acceleratorCount: accelerator === null ? null : count,
    runSeconds: 3600,
    summary: {
      samples: 360,
      firstAt: null,
      lastAt: null,
      cpuBusy: 0.95,
      cores: 16,
      memPeakMiB: 4096,
      memTotalMiB: 131072,
      accelerators: accelerator === null ? 0 : count,
      acceleratorTool: accelerator === null ? null : 'nvidia-smi',
      acceleratorBusy: accelerator === null ? null : 0.02,
      acceleratorMemPeakMiB: accelerator === null ? null : 10240,
      acceleratorMemTotalMiB: accelerator === null ? null : 81920,
      last: null,
      ...summary,
    },
  }
}

const instances = (j: JobSpec) => planJob(input(j, OFFERS)).candidates.map((c) => c.instanceType)
const reasons = (j: JobSpec) => Object.fromEntries(planJob(input(j, OFFERS)).excluded.map((g) => [`${g.reason}:${g.subject}`, g.count]))

describe('accelerators: auto (pure planner)', () => {
  it('before any run plans every machine: CPU-only and accelerators of any vendor and count, cheapest first', () => {
    expect(instances(auto())).to.deep.equal(['cpux0', 'SLOWx1', 'Ascend910Bx8', 'H100x8'])
  })

  it('keeps to the runtimes: cann lands only on Ascend, cuda without cpu leaves CPU-only machines out', () => {
    expect(instances(auto({runtimes: ['cann']}))).to.deep.equal(['Ascend910Bx8'])
    expect(reasons(auto({runtimes: ['cann']}))).to.deep.include({'runtime-mismatch:cpu-only': 1, 'runtime-mismatch:H100': 1})
    expect(instances(auto({runtimes: ['cuda']}))).to.deep.equal(['SLOWx1', 'H100x8'])
    expect(instances(auto({runtimes: ['cuda', 'cpu']}))).to.deep.equal(['cpux0', 'SLOWx1', 'H100x8'])
  })

  it('keeps to the deadline', () => {
    // 10 h of work on every machine (no reference to scale by): a 5 h deadline leaves nothing.
    const j = {...auto(), work: {reference: null, hours: 10}, deadline: hoursFromNow(5)}
    const plan = planJob(input(j, OFFERS))
    expect(plan.candidates).to.deep.equal([])
    expect(plan.excluded.map((g) => g.reason)).to.include('deadline')
    expect(instances({...j, deadline: hoursFromNow(24)})).to.have.length(4)
  })

  it('takes the latest run as the configuration to right-size, and a CPU run keeps its cores', () => {
    const history = [run('H100', {}, 8), run('SLOW')]
    const need = usageNeed(history)!
    const measured = asMeasured(auto(), history, need)!
    expect(measured.resources.accelerators).to.deep.equal([
      {names: ['H100'], vendors: null, memoryGB: null, count: {min: 8, max: 8}, text: 'H100:8'},
    ])
    expect(measured.resources.auto!.choice).to.deep.include({runs: 2, kind: 'as-measured', request: 'H100:8'})
    expect(instances(measured)).to.deep.equal(['H100x8'])

    const cpu = asMeasured(auto(), [run(null)], usageNeed([run(null)])!)!
    expect(cpu.resources.accelerators).to.deep.equal([])
    expect(cpu.resources.cpus).to.deep.equal({value: 16, atLeast: true})
    expect(cpu.resources.auto!.choice!.request).to.equal('cpu')
    // Only an open auto is measured: a job that names its accelerators, or one already chosen, is not.
    expect(asMeasured(job(), history, need)).to.equal(null)
    expect(asMeasured(measured, history, need)).to.equal(null)
  })

  it('applies the cheapest right-sizing option, within the runtimes, and keeps one history for every size', () => {
    const history = [run('H100', {}, 8)]
    const need = usageNeed(history)!
    const open = auto()
    const measured = asMeasured(open, history, need)!
    const best = (j: JobSpec): Candidate | null => planJob(input(j, OFFERS)).chosen
    const variants = rightSizeVariants(measured, need)
    expect(variants.map((v) => v.kind)).to.include('cpu-only')
    const advice = rightSizeAdvice(
      need,
      best(measured),
      variants.map((variant) => ({variant, best: best(variant.spec)})),
    )
    const top = variants.find((v) => v.kind === advice.options[0].kind)!
    const chosen = autoChosen(measured, top, advice)
    expect(chosen.resources.auto!.choice).to.deep.include({kind: 'cpu-only', request: 'cpu', runs: 1})
    expect(chosen.resources.auto!.choice!.text).to.match(
      /: planned cpu instead of H100:8 \(the accelerators idled while the CPUs were saturated\)$/,
    )
    expect(instances(chosen)).to.deep.equal(['cpux0'])
    // The runs of every size are found as one job's: by what the file wrote.
    expect(usageFingerprint(chosen)).to.equal(usageFingerprint(open))
    expect(usageFingerprint(measured)).to.equal(usageFingerprint(open))
    expect(usageFingerprint(job())).not.to.equal(usageFingerprint(open))

    // Fewer of the same devices (busy 20%, memory full) is named as a job file would write it.
    const withTwo = [...OFFERS, offer({acc: 'H100', count: 2, od: 10})]
    const busier = [run('H100', {acceleratorBusy: 0.2, acceleratorMemPeakMiB: 81000, cpuBusy: 0.3}, 8)]
    const busierNeed = usageNeed(busier)!
    const eight = asMeasured(open, busier, busierNeed)!
    const fewer = rightSizeVariants(eight, busierNeed).find((v) => v.kind === 'fewer-accelerators')!
    const bestOfTwo = (j: JobSpec) => planJob(input(j, withTwo)).chosen
    const fewerAdvice = rightSizeAdvice(busierNeed, bestOfTwo(eight), [{variant: fewer, best: bestOfTwo(fewer.spec)}])
    expect(autoChosen(eight, fewer, fewerAdvice).resources.auto!.choice!.request).to.equal('H100:2')

    // With runtimes that leave out cpu, no CPU-only option is made.
    const cuda = auto({runtimes: ['cuda']})
    expect(rightSizeVariants(asMeasured(cuda, history, need)!, need).map((v) => v.kind)).not.to.include('cpu-only')
  })
})
