// Planning asks a backend for live offers and queue estimates only when the job could use
// them (issue 17): a GPU job on a machine whose Slurm cluster has no GPUs, or a job that
// keeps off Slurm, asks Slurm nothing. The Slurm provider is the real one over Slurm's
// commands replayed from output captured on the test cluster, counting what it is asked.
import {expect} from 'chai'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {SkyhopConfig} from '../../../src/config.js'
import type {JobSpec} from '../../../src/model/job-spec.js'
import type {CommandResult, SlurmCommand} from '../../../src/providers/slurm/commands.js'
import {SlurmProvider} from '../../../src/providers/slurm/slurm-provider.js'
import {gatherPlanningInputs} from '../../../src/services/planning.js'
import {testJobSpec} from '../../helpers/job-spec.js'

const SINFO = 'low|up|2|8192|(null)|1|idle|infinite\nhigh|up|2|8192|(null)|1|idle|infinite\n'
const partitionLine = (name: string, grace: number, preempt: string) =>
  `PartitionName=${name} AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=NO QoS=N/A DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=${grace} Hidden=NO MaxNodes=UNLIMITED MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=vm PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=${preempt} State=UP TotalCPUs=2 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=8G,node=1,billing=2`
const PARTITIONS = `${partitionLine('low', 10, 'REQUEUE')}\n${partitionLine('high', 0, 'OFF')}\n`
const CONFIG = 'Configuration data as of 2026-11-27T23:00:34\nClusterName             = skyhop\n'
const TEST_ONLY = 'sbatch: Job 361 to start at 2026-12-07T01:41:48 using 1 processors on nodes vm in partition high\n'

const config: SkyhopConfig = {
  providers: {
    local: {enabled: false, maxConcurrent: null, whenFull: 'queue', pricePerHourUsd: 0, maxNodes: null},
    slurm: {enabled: true, cluster: null, partitions: null, account: null, qos: null, gres: {}, pricePerHourUsd: {}},
  },
  catalog: {merge: null},
  fx: {cnyPerUsd: null, asOf: null, source: null},
  quotas: [],
  checkpointStore: null,
  file: null,
}

const gpuJob = (names: string[]): JobSpec =>
  testJobSpec({
    run: 'train',
    resources: {accelerators: [{names, vendors: null, memoryGB: null, count: {min: 8, max: 8}, text: `${names[0]}:8`}]},
  })

describe('planning asks a backend only when the job could use its live offers', () => {
  let home: string
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-live-offers-'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  /** Gathers the planning inputs for `jobs` and plans each, returning the Slurm commands asked. */
  async function asked(jobs: JobSpec[] | undefined, options: {cluster?: string; gres?: Record<string, string>} = {}) {
    const calls: string[] = []
    const slurm = new SlurmProvider({
      home,
      cluster: options.cluster,
      gres: options.gres,
      runner: async (command: SlurmCommand, args: string[]): Promise<CommandResult> => {
        calls.push(`${command} ${args[0] === '--test-only' ? '--test-only' : args.join(' ')}`.trim())
        if (command === 'sinfo') return {code: 0, stdout: SINFO, stderr: ''}
        if (command === 'scontrol' && args[1] === 'partition') return {code: 0, stdout: PARTITIONS, stderr: ''}
        if (command === 'scontrol' && args[1] === 'config') return {code: 0, stdout: CONFIG, stderr: ''}
        if (command === 'sbatch') return {code: 0, stdout: '', stderr: TEST_ONLY}
        throw new Error(`unexpected ${command} ${args.join(' ')}`)
      },
    })
    const inputs = await gatherPlanningInputs({home, config, providers: new Map([['slurm', slurm]]), jobs})
    for (const job of jobs ?? []) await inputs.queueEstimates(job)
    return calls
  }

  it('a GPU job and a cluster without GPUs: Slurm is not asked at all', async () => {
    expect(await asked([gpuJob(['H100-80GB', 'A100-80GB'])])).to.deep.equal([])
  })

  it('a CPU job: the partitions are read and each gets a queue estimate', async () => {
    const calls = await asked([testJobSpec({run: 'true'})])
    expect(calls.filter((c) => c.startsWith('sinfo'))).to.have.length(1)
    expect(calls.filter((c) => c === 'sbatch --test-only')).to.have.length(2)
  })

  it('a job that keeps off Slurm (placement providers, or regions that exclude the configured cluster) is not asked for', async () => {
    const off = testJobSpec({run: 'true', placement: {providers: {allow: ['aws'], deny: []}, regions: {allow: null, deny: []}}})
    expect(await asked([off])).to.deep.equal([])
    const denied = testJobSpec({run: 'true', placement: {providers: {allow: null, deny: ['slurm']}, regions: {allow: null, deny: []}}})
    expect(await asked([denied])).to.deep.equal([])
    const elsewhere = testJobSpec({run: 'true', placement: {providers: {allow: null, deny: []}, regions: {allow: ['us-east-1'], deny: []}}})
    expect(await asked([elsewhere], {cluster: 'hpc'})).to.deep.equal([])
    // The cluster's name unknown (not configured): it might be allowed, so Slurm is asked.
    expect(await asked([elsewhere])).to.not.deep.equal([])
  })

  it('a GPU job whose accelerator the cluster maps to GRES: asked; partitions without that GPU get no estimate', async () => {
    const calls = await asked([gpuJob(['A100-80GB'])], {gres: {'A100-80GB': 'gpu:a100'}})
    expect(calls.filter((c) => c.startsWith('sinfo'))).to.have.length(1)
    expect(calls.filter((c) => c === 'sbatch --test-only')).to.deep.equal([])
  })

  it('one job of several that could use Slurm is enough; without jobs every backend is asked as before', async () => {
    const calls = await asked([gpuJob(['H100-80GB']), testJobSpec({run: 'true'})])
    expect(calls.filter((c) => c.startsWith('sinfo'))).to.have.length(1)
    expect(await asked(undefined)).to.include('sinfo --noheader --all --format=%R|%a|%c|%m|%G|%D|%t|%l')
  })
})
