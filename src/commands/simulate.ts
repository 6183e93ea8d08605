import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {duration} from '../cli/flags.js'
import {renderServiceSimulation, renderSimulation} from '../cli/render-simulate.js'
import {UsageError} from '../errors.js'
import {
  CONTROLLER_POLICY,
  DEFAULT_SEEDS,
  SERVICE_POLICIES,
  SIMULATED_POLICIES,
  type SimulateResult,
  type SimulateServiceResult,
  simulate,
  simulateService,
} from '../services/simulate.js'

export default class Simulate extends BaseCommand {
  static override summary = 'Replay spot availability traces: what each spot policy would have cost, and whether it met the deadline.'
  static override description = [
    "Replays the job (its work, deadline and accelerators) against spot availability traces (the Can't Be Late format: one JSON file per zone, named like us-west-2a_v100_1.json) under each policy, from --seeds random start offsets, on a simulated clock: a 45-day trace replays in well under a second.",
    'Policies: ' + SIMULATED_POLICIES.map((p) => `${p.name} (${p.summary})`).join('; ') + '.',
    `With --controller (or --policy ${CONTROLLER_POLICY}) each start is also replayed through skyhop's real controller and planner, on a simulated provider and clock: slower (a store per run), but it is the code that runs your jobs, not a mirror of it.`,
    `With --service the file is a service (a job file with a service: block): its replicas are replayed for --duration from each start, and each policy reports the fraction of the time with at least the target replicas ready, with at least one, and the cost relative to all on-demand. The target is the file's replica count, or with --qps the count that carries that rate at the lowest cost (target_qps_per_replica on the work.reference configuration, scaled by each accelerator's throughput). Service policies: ${SERVICE_POLICIES.map((p) => `${p.name} (${p.summary})`).join('; ')}.`,
    'Cost is relative to on-demand only on the same start; spot and on-demand hours are instance hours paid for. Prices come from --spot-price/--on-demand-price (USD per node-hour; one number for every market, or NAME=PRICE per accelerator) or else from the catalog.',
  ].join('\n')
  static override examples = [
    '<%= config.bin %> simulate job.yaml --traces spot-traces/availability/1-node/aws-02-15-2023 --spot-price 1 --on-demand-price 3   # a clone of github.com/skypilot-org/spot-traces',
    '<%= config.bin %> simulate job.yaml --traces traces/ --policy greedy --policy uniform-progress --policy skyhop --seeds 300 --changeover 0.2h',
    '<%= config.bin %> simulate job.yaml --traces traces/ --zone us-west-2a --spot-price V100=0.918 --spot-price K80=0.27 --json',
    '<%= config.bin %> simulate service.yaml --service --traces traces/ --spot-price 0.918 --on-demand-price 3.06 --duration 7d --startup 2m',
  ]
  static override args = {
    file: Args.string({
      description: 'job file (YAML or JSON) with work, deadline and accelerators; with --service, a service file',
      required: true,
    }),
  }
  static override flags = {
    traces: Flags.string({description: 'folder (searched recursively) or file of availability traces', required: true}),
    policy: Flags.string({
      description: `policy to replay (repeatable; default: all): ${[...SIMULATED_POLICIES.map((p) => p.name), CONTROLLER_POLICY].join(', ')}`,
      multiple: true,
    }),
    controller: Flags.boolean({description: `also replay the real controller and planner (policy ${CONTROLLER_POLICY})`, default: false}),
    seeds: Flags.integer({description: 'random start offsets in the traces, one run per policy each', default: DEFAULT_SEEDS, min: 1}),
    changeover: duration({
      description: 'changeover delay d charged on every start or switch: 0.2h, 12m, 0',
      default: 720,
      defaultHelp: async () => '0.2h',
      zero: true,
      code: 'BAD_DURATION',
    }),
    notice: duration({
      description: "preemption notice: 2m, 30s, 0 [default: the provider's, AWS 2m, GCP 30s]",
      zero: true,
      code: 'BAD_DURATION',
    }),
    'spot-price': Flags.string({description: 'spot USD per node-hour: 0.9 for every market, or V100=0.9 (repeatable)', multiple: true}),
    'on-demand-price': Flags.string({description: 'on-demand USD per node-hour: 3.06, or V100=3.06 (repeatable)', multiple: true}),
    zone: Flags.string({description: 'only traces of this zone (repeatable)', multiple: true}),
    catalog: Flags.string({description: 'take prices from exactly this catalog file of offers', env: 'SKYHOP_CATALOG'}),
    service: Flags.boolean({
      description: 'the file is a service: replay its replicas (availability and cost) instead of a job',
      default: false,
    }),
    qps: Flags.string({
      description: "with --service: the request rate to carry; sizes the replica count [default: the file's minimum replicas]",
    }),
    duration: duration({description: 'with --service: how long each replay runs [default: 7d]', code: 'BAD_DURATION'}),
    startup: duration({description: 'with --service: launch to ready of a replica [default: 2m]', zero: true, code: 'BAD_DURATION'}),
    respot: duration({
      description: 'with --service: how often an on-demand replica above the floor looks for spot again, 0 = never [default: 5m]',
      zero: true,
      code: 'BAD_DURATION',
    }),
    threads: Flags.integer({
      description: "worker threads replaying the policies [default: the machine's cores for a large replay, else 1]",
      min: 1,
    }),
  }

  async run(): Promise<SimulateResult | SimulateServiceResult> {
    const {args, flags} = await this.parse(Simulate)
    if (flags.service) {
      if (flags.controller)
        throw new UsageError('--controller replays a job through the job controller; it does not go with --service', {
          code: 'FLAGS_CONFLICT',
        })
      let demandQps: number | undefined
      if (flags.qps !== undefined) {
        demandQps = Number(flags.qps.replace(/\s*(req(uests)?\/s|qps)$/i, ''))
        if (!(Number.isFinite(demandQps) && demandQps > 0))
          throw new UsageError(`--qps "${flags.qps}": expected a request rate > 0, e.g. --qps 200`, {code: 'BAD_QPS'})
      }
      const result = await simulateService({
        file: args.file,
        traces: flags.traces,
        home: this.home,
        policies: flags.policy,
        seeds: flags.seeds,
        demandQps,
        durationHours: flags.duration === undefined ? undefined : flags.duration / 3600,
        startupSeconds: flags.startup,
        noticeSeconds: flags.notice,
        respotSeconds: flags.respot,
        spotPrice: flags['spot-price'],
        onDemandPrice: flags['on-demand-price'],
        zones: flags.zone,
        catalogFile: flags.catalog,
      })
      this.out(renderServiceSimulation(result))
      return result
    }
    for (const f of ['qps', 'duration', 'startup', 'respot'] as const)
      if (flags[f] !== undefined)
        throw new UsageError(`--${f} goes with --service`, {code: 'FLAGS_CONFLICT', hint: 'Add --service to replay a service file.'})
    const result = await simulate({
      controller: flags.controller,
      file: args.file,
      traces: flags.traces,
      home: this.home,
      policies: flags.policy,
      seeds: flags.seeds,
      changeoverSeconds: flags.changeover,
      noticeSeconds: flags.notice,
      spotPrice: flags['spot-price'],
      onDemandPrice: flags['on-demand-price'],
      zones: flags.zone,
      catalogFile: flags.catalog,
      threads: flags.threads,
    })
    this.out(renderSimulation(result))
    return result
  }
}
