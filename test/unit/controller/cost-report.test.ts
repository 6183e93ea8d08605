// Cost accounting against hand-computed figures: attempts recorded in a real store (temp
// home, fixed clock) with known launch, start, end and release times, billed by each
// provider's rules. Every expected number below is worked out in the comment beside it.
import {expect} from 'chai'
import {rmSync} from 'node:fs'

import {bundledFx} from '../../../src/catalog/fx.js'
import {attemptCost, billingPolicy, costFromStore, formatHours} from '../../../src/controller/cost.js'
import type {JobSpec} from '../../../src/model/job-spec.js'
import type {Store} from '../../../src/state/store.js'
import {describeEngines} from '../../helpers/engines.js'
import {type AttemptRecordState} from '../../../src/model/records.js'

const FX = {...bundledFx(), cnyPerUsd: 7.2}
const at = (hhmmss: string) => `2026-11-20T${hhmmss}.000Z`

function spec(name: string, checkpointIntervalSeconds: number | null = null): JobSpec {
  return {
    name,
    run: 'true',
    envs: {},
    secrets: [],
    checkpoint: {dir: null, intervalSeconds: checkpointIntervalSeconds},
    idleTimeoutSeconds: 60,
  } as unknown as JobSpec
}

interface AttemptInput {
  provider: string
  spot: boolean
  price: number | null
  currency: 'USD' | 'CNY'
  onDemand: number | null
  state: AttemptRecordState
  launched: string | null
  started?: string
  ended?: string
  released?: string
}

describeEngines('cost accounting (hand-computed)', (engine) => {
  let home: string
  let store: Store
  let clock = new Date(at('00:00:00'))

  function job(name: string, attempts: AttemptInput[], interval: number | null = null, preemptRequested = false) {
    clock = new Date(attempts[0].launched ?? at('07:00:00'))
    const j = store.createJob({name, file: null, spec: spec(name, interval)})
    for (const a of attempts) {
      clock = new Date(a.launched ?? at('07:00:00'))
      const rec = store.recordAttemptIntent({
        jobId: j.id,
        provider: a.provider,
        region: 'r',
        zone: null,
        instanceType: 'it',
        accelerator: null,
        acceleratorCount: null,
        spot: a.spot,
        pricePerHour: a.price,
        currency: a.currency,
        onDemandPricePerHour: a.onDemand,
      })!
      store.updateAttempt(rec.id, {
        state: a.state,
        launchedAt: a.launched ?? undefined,
        startedAt: a.started,
        endedAt: a.ended,
        releasedAt: a.released,
        handle: a.launched ? {provider: a.provider, externalId: rec.id, region: 'r', zone: null, data: {}} : undefined,
      })
      if (preemptRequested) store.addEvent(j.id, rec.id, 'preempt-requested', {graceSeconds: 30})
    }
    return j
  }

  before(() => {
    home = engine.home()
    store = engine.open(home, {clock: () => clock})
    // A: AWS spot, $1/h (on-demand $3/h), checkpoints every 600 s.
    //   #1 launched 10:00, started 10:05, preempted 11:17, released 11:17:30: held 4650 s
    //      (over an hour: billed), provisioning 300, run 4320, idle 30, lost 4320 mod 600 = 120.
    //      cost 4650/3600 = $1.291667; on demand $3.875.
    //   #2 launched 11:18, started 11:20, succeeded 12:20, released 12:21: held 3780 s,
    //      provisioning 120, run 3600, idle 60; cost $1.05, on demand $3.15.
    job(
      'a',
      [
        {
          provider: 'aws',
          spot: true,
          price: 1,
          currency: 'USD',
          onDemand: 3,
          state: 'PREEMPTED',
          launched: at('10:00:00'),
          started: at('10:05:00'),
          ended: at('11:17:00'),
          released: at('11:17:30'),
        },
        {
          provider: 'aws',
          spot: true,
          price: 1,
          currency: 'USD',
          onDemand: 3,
          state: 'SUCCEEDED',
          launched: at('11:18:00'),
          started: at('11:20:00'),
          ended: at('12:20:00'),
          released: at('12:21:00'),
        },
      ],
      600,
    )
    // B: Alibaba on-demand 7.2 CNY/h: launched 10:00, started 10:01, failed 10:31 = held 1860 s,
    //   3.72 CNY = $0.516667 at 7.2; provisioning 60.
    job('b', [
      {
        provider: 'aliyun',
        spot: false,
        price: 7.2,
        currency: 'CNY',
        onDemand: 7.2,
        state: 'FAILED',
        launched: at('10:00:00'),
        started: at('10:01:00'),
        ended: at('10:31:00'),
        released: at('10:31:00'),
      },
    ])
    // C: AWS spot $2/h interrupted by EC2 after 1860 s (< 1 h): no charge. On demand ($6/h)
    //   it would have cost 1860/3600*6 = $3.10, all of it saved. No checkpoints: the 1800 s run is lost.
    job('c', [
      {
        provider: 'aws',
        spot: true,
        price: 2,
        currency: 'USD',
        onDemand: 6,
        state: 'PREEMPTED',
        launched: at('09:00:00'),
        started: at('09:01:00'),
        ended: at('09:31:00'),
        released: at('09:31:00'),
      },
    ])
    // D: AWS on-demand $3.60/h held 40 s: the 60 s minimum bills $0.06; provisioning 20, run 20, rounding 20.
    job('d', [
      {
        provider: 'aws',
        spot: false,
        price: 3.6,
        currency: 'USD',
        onDemand: 3.6,
        state: 'SUCCEEDED',
        launched: at('13:00:00'),
        started: at('13:00:20'),
        ended: at('13:00:40'),
        released: at('13:00:40'),
      },
    ])
    // E: Slurm $2/h: 30 min in the queue (not billed), ran 1 h: $2.00, no provisioning waste.
    job('e', [
      {
        provider: 'slurm',
        spot: false,
        price: 2,
        currency: 'USD',
        onDemand: null,
        state: 'SUCCEEDED',
        launched: at('08:00:00'),
        started: at('08:30:00'),
        ended: at('09:30:00'),
        released: at('09:30:00'),
      },
    ])
    // F: local, still running at 14:00 since 13:50: 600 s held, price 0.
    job('f', [
      {
        provider: 'local',
        spot: false,
        price: 0,
        currency: 'USD',
        onDemand: 0,
        state: 'RUNNING',
        launched: at('13:50:00'),
        started: at('13:50:00'),
      },
    ])
    // G: AWS spot $1/h preempted by `skyhop preempt` (a rehearsal, so EC2's waiver does not apply):
    //   launched 12:00, started 12:00:30, ended 12:10:30: held 630 s = $0.175; on demand ($3/h) $0.525;
    //   provisioning 30, run 600, all lost (no checkpoints).
    job(
      'g',
      [
        {
          provider: 'aws',
          spot: true,
          price: 1,
          currency: 'USD',
          onDemand: 3,
          state: 'PREEMPTED',
          launched: at('12:00:00'),
          started: at('12:00:30'),
          ended: at('12:10:30'),
          released: at('12:10:30'),
        },
      ],
      null,
      true,
    )
    // H: a launch that failed: never launched, nothing paid.
    job('h', [
      {provider: 'aws', spot: false, price: 5, currency: 'USD', onDemand: 5, state: 'FAILED', launched: null, ended: at('07:00:01')},
    ])
  })

  after(() => {
    store.close()
    rmSync(home, {recursive: true, force: true})
  })

  const report = (since: string | null = null, by: 'job' | 'provider' | 'sweep' = 'provider') =>
    costFromStore(store, {now: new Date(at('14:00:00')), fx: FX, by, since})

  it('totals: paid, ran, waste by kind, money in USD and in the billed currencies', () => {
    const t = report().total
    const close = (actual: number, expected: number) => expect(actual).to.be.closeTo(expected, 1e-5)
    expect(t.attempts).to.equal(9)
    // billed: 4650 + 3780 + 1860 + 0 + 60 + 3600 + 600 + 630 = 15180 s
    close(t.paidHours, 15180 / 3600)
    // run: 4320 + 3600 + 1800 + 1800 + 20 + 3600 + 600 + 600 = 16340 s; lost 120 + 1800 + 600 = 2520 s
    close(t.runHours, 16340 / 3600)
    close(t.usefulHours, (16340 - 2520) / 3600)
    close(t.waste.provisioningHours, (300 + 120 + 60 + 60 + 20 + 30) / 3600)
    close(t.waste.idleHours, (30 + 60) / 3600)
    close(t.waste.preemptionLostHours, 2520 / 3600)
    close(t.waste.billingMinimumHours, 20 / 3600)
    close(t.waste.hours, (590 + 90 + 2520 + 20) / 3600)
    // 1.291667 + 1.05 + 0.516667 + 0 + 0.06 + 2 + 0 + 0.175 = 5.093333
    close(t.cost.usd!, 4650 / 3600 + 1.05 + 3.72 / 7.2 + 0.06 + 2 + 0.175)
    close(t.cost.byCurrency.USD!, 4650 / 3600 + 1.05 + 0.06 + 2 + 0.175)
    close(t.cost.byCurrency.CNY!, 3.72)
    // 3.875 + 3.15 + 0.516667 + 3.1 + 0.06 + 2 + 0 + 0.525 = 13.226667
    close(t.onDemandUsd, 3.875 + 3.15 + 3.72 / 7.2 + 3.1 + 0.06 + 2 + 0.525)
    // spot: (3.875 − 1.291667) + (3.15 − 1.05) + 3.1 + (0.525 − 0.175) = 8.133333
    close(t.spotSavedUsd, 3.875 - 4650 / 3600 + 3.15 - 1.05 + 3.1 + 0.35)
    // waste money: A1 450/3600, A2 180/3600, B 60/1860 of 3.72 CNY, D 40/60 of $0.06, G all of $0.175
    close(t.waste.usd, 0.125 + 0.05 + 0.12 / 7.2 + 0.04 + 0.175)
    expect(t.liveAttempts).to.equal(1)
    expect(t.unknownPriceAttempts).to.equal(0)
    expect(t.summary).to.match(
      /^paid for 4\.2 h, job ran 4\.5 h; waste: 0\.2 h provisioning, 1\.5 min idle after the job ended, 0\.7 h of work lost to preemption, 20 s billing rounding and minimums; \$5\.09 spent, on demand would have cost \$13\.23 \(spot saved \$8\.13\)$/,
    )
  })

  it('converts the CNY attempt at the dated public rate and names it, date and source, in the report and its table', async () => {
    const r = costFromStore(store, {now: new Date(at('14:00:00')), fx: bundledFx(), by: 'provider', since: null})
    expect(r.fx).to.deep.equal({cnyPerUsd: 6.9858, asOf: '2026-01-27', source: bundledFx().source})
    // attempt B: 3.72 CNY billed on aliyun, at CFETS's 6.9858 CNY/USD of 2026-01-27 (the report keeps 6 decimals).
    expect(r.groups.find((g) => g.key === 'aliyun')!.cost.usd).to.be.closeTo(3.72 / 6.9858, 1e-6)
    const {renderCostReport} = await import('../../../src/cli/render-sweep.js')
    const text = renderCostReport(r)
    expect(text).to.include('CNY at 6.9858/USD of 2026-01-27, CFETS central parity rate')
    expect(text).to.include('chinamoney.com.cn')
  })

  it('groups by provider, job and sweep', () => {
    const byProvider = new Map(report().groups.map((g) => [g.key, g]))
    expect([...byProvider.keys()].sort()).to.deep.equal(['aliyun', 'aws', 'local', 'slurm'])
    expect(byProvider.get('aws')!.attempts).to.equal(6)
    expect(byProvider.get('aws')!.cost.usd).to.be.closeTo(4650 / 3600 + 3780 / 3600 + 0.06 + 0.175, 1e-6)
    expect(byProvider.get('slurm')!.waste.provisioningHours).to.equal(0)
    expect(byProvider.get('aliyun')!.cost.byCurrency).to.deep.equal({CNY: 3.72})
    const byJob = report(null, 'job').groups
    expect(byJob.map((g) => g.label)).to.include.members(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'])
    expect(byJob.find((g) => g.label === 'c')!.cost.usd).to.equal(0)
    const bySweep = report(null, 'sweep').groups
    expect(bySweep).to.have.length(1)
    expect(bySweep[0].label).to.equal('(not in a sweep)')
  })

  it('counts only attempts requested since the given time', () => {
    const t = report(at('12:30:00')).total
    // D (13:00) and F (13:50): 60 + 600 s billed.
    expect(t.attempts).to.equal(2)
    expect(t.paidHours).to.be.closeTo(660 / 3600, 1e-6)
  })

  it('bills per the provider rules', () => {
    expect(billingPolicy('aws')).to.include({
      granularitySeconds: 1,
      minimumSeconds: 60,
      startsAt: 'launch',
      spotInterruptedFirstHourFree: true,
    })
    expect(billingPolicy('slurm')).to.include({granularitySeconds: 1, minimumSeconds: 0, startsAt: 'start'})
    expect(billingPolicy('local')).to.include({granularitySeconds: 1, startsAt: 'start'})
    for (const p of ['aliyun', 'tencentcloud', 'huaweicloud'])
      expect(billingPolicy(p)).to.include({granularitySeconds: 1, minimumSeconds: 0, startsAt: 'launch'})
    expect(billingPolicy('nimbus').assumption).to.equal(true)
    // 1.2 s held on a 1 s granularity: 2 s billed.
    const row = store.costRows().find((r) => r.jobName === 'd')!
    const c = attemptCost(
      {
        ...row,
        attempt: {
          ...row.attempt,
          launchedAt: at('13:00:00'),
          startedAt: at('13:00:00'),
          endedAt: '2026-11-20T13:00:01.200Z',
          releasedAt: '2026-11-20T13:00:01.200Z',
          provider: 'tencentcloud',
        },
      },
      new Date(at('14:00:00')),
      FX,
    )
    expect(c.billedSeconds).to.equal(2)
    expect(c.roundingSeconds).to.be.closeTo(0.8, 1e-9)
  })

  it('formats hours for the summary line', () => {
    expect(formatHours(5)).to.equal('5.0 h')
    expect(formatHours(0.05)).to.equal('3.0 min')
    expect(formatHours(20 / 3600)).to.equal('20 s')
    expect(formatHours(0)).to.equal('0 h')
  })
})

describeEngines('cost accounting: an unknown price is never summed as 0 (issue 23)', (engine) => {
  let home: string
  let store: Store
  let clock = new Date(at('10:00:00'))

  before(() => {
    home = engine.home()
    store = engine.open(home, {clock: () => clock})
    // One Huawei attempt at an unknown price held an hour, one AWS attempt at $1/h held an hour.
    for (const [name, provider, price] of [
      ['ascend', 'huaweicloud', null],
      ['cuda', 'aws', 1],
    ] as const) {
      clock = new Date(at('10:00:00'))
      const j = store.createJob({name, file: null, spec: spec(name)})
      const rec = store.recordAttemptIntent({
        jobId: j.id,
        provider,
        region: 'r',
        zone: null,
        instanceType: 'it',
        accelerator: null,
        acceleratorCount: null,
        spot: false,
        pricePerHour: price,
        currency: 'USD',
        onDemandPricePerHour: price,
      })!
      store.updateAttempt(rec.id, {
        state: 'SUCCEEDED',
        launchedAt: at('10:00:00'),
        startedAt: at('10:00:00'),
        endedAt: at('11:00:00'),
        releasedAt: at('11:00:00'),
        handle: {provider, externalId: rec.id, region: 'r', zone: null, data: {}},
      })
    }
  })

  after(() => {
    store.close()
    rmSync(home, {recursive: true, force: true})
  })

  it('makes the total unknown, keeps the known part apart, and says so', async () => {
    const report = costFromStore(store, {now: new Date(at('14:00:00')), fx: FX, by: 'provider', since: null})
    expect(report.total.unknownPriceAttempts).to.equal(1)
    expect(report.total.cost.usd).to.equal(null)
    expect(report.total.cost.knownUsd).to.be.closeTo(1, 1e-9)
    expect(report.total.summary).to.match(/cost unknown: 1 attempt at an unknown price, \$1\.00 spent on the others$/)
    expect(report.total.summary).not.to.match(/counted as \$0/)
    const byProvider = new Map(report.groups.map((g) => [g.key, g]))
    expect(byProvider.get('huaweicloud')!.cost).to.deep.include({usd: null, knownUsd: 0})
    expect(byProvider.get('aws')!.cost).to.deep.include({usd: 1, knownUsd: 1})
    const {renderCostReport} = await import('../../../src/cli/render-sweep.js')
    const text = renderCostReport(report)
    expect(text).to.match(/^huaweicloud\s+1\s+.*\s\?\s+-\s+\?\s+\?$/m)
    expect(text).not.to.match(/^huaweicloud.*\$0\.00/m)
  })
})

describeEngines('cost accounting: paid time split by what the accelerators did (issue 25)', (engine) => {
  let home: string
  let store: Store
  let clock = new Date(at('00:00:00'))

  before(() => {
    home = engine.home()
    store = engine.open(home, {clock: () => clock})
    // One GPU attempt at $4/h, local billing (from start): started 10:00, ended 12:00, released
    // 12:00 = 7200 s billed, $8. Samples say the GPU was 25% busy: busy 1800 s, idle 5400 s,
    // idle cost 8 × 5400/7200 = $6. It was stopped by the idle policy.
    // A second, CPU-only attempt of another job (no accelerator answered): sampled, no split.
    const mk = (name: string, accelerators: number, busy: number | null) => {
      clock = new Date(at('10:00:00'))
      const j = store.createJob({name, file: null, spec: spec(name)})
      const rec = store.recordAttemptIntent({
        jobId: j.id,
        provider: 'local',
        region: 'local',
        zone: null,
        instanceType: 'local',
        accelerator: accelerators ? 'H100' : null,
        acceleratorCount: accelerators || null,
        spot: false,
        pricePerHour: 4,
        currency: 'USD',
        onDemandPricePerHour: 4,
      })!
      store.updateAttempt(rec.id, {
        state: 'CANCELLED',
        launchedAt: at('10:00:00'),
        startedAt: at('10:00:00'),
        endedAt: at('12:00:00'),
        releasedAt: at('12:00:00'),
        handle: {provider: 'local', externalId: rec.id, region: 'local', zone: null, data: {}},
      })
      const summary = {
        samples: 720,
        firstAt: at('10:00:10'),
        lastAt: at('12:00:00'),
        cpuBusy: 0.97,
        cores: 8,
        memPeakMiB: 3000,
        memTotalMiB: 64000,
        accelerators,
        acceleratorTool: accelerators ? 'nvidia-smi' : null,
        acceleratorBusy: busy,
        acceleratorMemPeakMiB: accelerators ? 22000 : null,
        acceleratorMemTotalMiB: accelerators ? 81559 : null,
        last: null,
      }
      store.recordUsage({attemptId: rec.id, jobId: j.id, jobName: name, fingerprint: 'f', summary, idleSeconds: 1800})
      return {j, rec}
    }
    const gpu = mk('gpu-idle', 1, 0.25)
    store.addEvent(gpu.j.id, gpu.rec.id, 'usage-idle-stop', {action: 'stop'})
    mk('cpu-only', 0, null)
  })

  after(() => {
    store.close()
    rmSync(home, {recursive: true, force: true})
  })

  it('splits the run into accelerators busy and idle, prices the idle part, and counts idle-policy stops', () => {
    const report = costFromStore(store, {now: new Date(at('14:00:00')), fx: FX, by: 'job', since: null})
    const byJob = new Map(report.groups.map((g) => [g.label, g]))
    const gpu = byJob.get('gpu-idle')!
    expect(gpu.utilisation).to.deep.equal({
      sampledAttempts: 1,
      acceleratorRunHours: 2,
      acceleratorBusyHours: 0.5,
      acceleratorIdleHours: 1.5,
      acceleratorIdleUsd: 6,
      cpuBusy: 0.97,
      idlePolicyStops: 1,
    })
    expect(gpu.summary).to.include('accelerators busy 0.5 h, idle 1.5 h of the run ($6.00 paid for idle accelerators)')
    expect(gpu.summary).to.include('1 attempt stopped by the idle policy')
    const cpu = byJob.get('cpu-only')!
    expect(cpu.utilisation.acceleratorRunHours).to.equal(0)
    expect(cpu.summary).not.to.include('accelerators busy')
    expect(report.total.utilisation).to.deep.include({sampledAttempts: 2, acceleratorIdleUsd: 6, idlePolicyStops: 1, cpuBusy: 0.97})
  })

  it('shows the accelerators busy share and what was paid while they idled in the table', async () => {
    const {renderCostReport} = await import('../../../src/cli/render-sweep.js')
    const text = renderCostReport(costFromStore(store, {now: new Date(at('14:00:00')), fx: FX, by: 'job', since: null}))
    expect(text).to.match(/ACCEL BUSY\s+PAID IDLE$/m)
    expect(text).to.match(/^gpu-idle\s.*\s25%\s+\$6\.00$/m)
    expect(text).to.match(/^cpu-only\s.*\$0\.00\s+-\s+-$/m)
  })
})
