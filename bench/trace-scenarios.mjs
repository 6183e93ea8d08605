// The scenarios of the simulate benchmarks (bench/simulate.mjs, bench/simulate-controller.mjs
// --all): every trace file in the shared folder alone (one zone), each set's files of one
// kind together (all its zones), and for sets with both V100 and K80 traces the two
// together (heterogeneous accelerators). The job is the Can't Be Late setting: job fraction
// 0.8, k = 3 (spot 1, on-demand 3 USD/h), 48 h of work in 60 h, shortened to half the trace
// for sets shorter than 120 h.
import {writeFileSync} from 'node:fs'
import {basename, dirname, join, relative} from 'node:path'

/** Needs the built modules: {loadTraceDir, loadJobFile, priceKey}. */
export function traceScenarios({tracesDir, tmp, registry, now, loadTraceDir, loadJobFile, priceKey}) {
  const all = loadTraceDir(tracesDir, registry)
  const sets = new Map()
  for (const t of all) {
    const set = relative(tracesDir, dirname(t.file))
    if (!sets.has(set)) sets.set(set, [])
    sets.get(set).push(t)
  }

  /** A job file for one kind of trace: {accelerators: [V100:1], reference: V100:1}, or {} for a CPU job. */
  function jobFor(name, kind, workHours, deadlineHours, extra = '') {
    const file = join(tmp, `job-${name.replace(/[^a-z0-9]/gi, '')}-${workHours}-${deadlineHours}.yaml`)
    const acc = kind.accelerators ?? null
    writeFileSync(
      file,
      `name: bench\n${acc ? `resources:\n  accelerators: [${acc.join(', ')}]\n` : 'resources:\n  cpus: 1\n'}work:\n  ${acc ? `reference: ${kind.reference}\n  ` : ''}hours: ${workHours}\n${extra}deadline: ${deadlineHours}h\nrun: x\n`,
    )
    const spec = loadJobFile(file, {now}).spec
    // The file beside the spec, for benchmarks that run the CLI on it.
    Object.defineProperty(spec, 'jobFile', {value: file, enumerable: false})
    return spec
  }

  const PRICES = {spot: new Map([['*', 1]]), onDemand: new Map([['*', 3]]), flags: ['--spot-price', '1', '--on-demand-price', '3']}
  const scenarios = []
  for (const [set, traces] of [...sets].sort()) {
    const hours = Math.min(...traces.map((t) => (t.data.length * t.gapSeconds) / 3600))
    const deadline = Math.min(60, Math.floor(hours / 2))
    const work = Math.round(deadline * 0.8 * 100) / 100
    const kinds = new Map()
    for (const t of traces) {
      const key = `${t.label}_${t.count}`
      if (!kinds.has(key)) kinds.set(key, [])
      kinds.get(key).push(t)
    }
    for (const [key, group] of kinds) {
      const t0 = group[0]
      const kind = t0.accelerator ? {accelerators: [`${t0.accelerator}:${t0.count}`], reference: `${t0.accelerator}:${t0.count}`} : {}
      const throughput = t0.accelerator ? `throughput: {${t0.accelerator}: 1}\n` : ''
      const spec = jobFor(key, kind, work, deadline, throughput)
      for (const t of group) scenarios.push({set, name: `${basename(t.file, '.json')}`, zones: 1, spec, traces: [t], prices: PRICES})
      if (group.length > 1)
        scenarios.push({set, name: `${key} × ${group.length} zones`, zones: group.length, spec, traces: group, prices: PRICES})
    }
    // Heterogeneous: V100 and K80 (one device each) together; speeds from the FP32 datasheet
    // ratio (the registry has no K80 figures), prices from AWS p3.2xlarge / p2.xlarge.
    const v100 = traces.filter((t) => t.label === 'v100' && t.count === 1)
    const k80 = traces.filter((t) => t.label === 'k80' && t.count === 1)
    if (v100.length > 0 && k80.length > 0) {
      const spec = jobFor(
        'hetero',
        {accelerators: ['V100:1', 'K80:1'], reference: 'V100:1'},
        24,
        40,
        'throughput: {V100: 15.7, K80: 4.37}\n',
      )
      const prices = {
        spot: new Map([
          [priceKey('v100'), 0.918],
          [priceKey('k80'), 0.27],
        ]),
        onDemand: new Map([
          [priceKey('v100'), 3.06],
          [priceKey('k80'), 0.9],
        ]),
        flags: ['--spot-price', 'V100=0.918', '--spot-price', 'K80=0.27', '--on-demand-price', 'V100=3.06', '--on-demand-price', 'K80=0.9'],
      }
      scenarios.push({
        set,
        name: 'V100 + K80, 24 V100-hours in 40 h',
        zones: v100.length + k80.length,
        spec,
        traces: [...v100, ...k80],
        prices,
        hetero: true,
      })
    }
  }
  return {all, sets, scenarios}
}
