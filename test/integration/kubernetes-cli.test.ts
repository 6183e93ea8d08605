// The built CLI on fake Kubernetes API servers, as a user would run it: KUBECONFIG in the
// environment naming the fakes' contexts, the local machine and Slurm disabled. `skyhop
// launch` plans onto a node pool, the pod really runs the runner and the job, and the job
// ends SUCCEEDED with its output; a context whose GPUs are taken fails over to the next
// context; an eviction is recorded as a preemption and the job is relaunched; a CANN job
// plans onto an Ascend node pool; `down --orphans` removes a stray pod; `check` reports the
// kubeconfig (never the token) and a broken one with file:line:col and exit 4.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Store} from '../../src/state/store.js'
import {type CliResult, parseEnvelope, runCliAsync, tempHome} from '../helpers/cli.js'
import {stateDump} from '../helpers/pg-suite.js'
import {until} from '../helpers/wait.js'
import {ASCEND_NODE, CPU_NODE, H100_NODE, TOKEN, kubeRequest, kubeWorld, spec, type KubeWorld} from './kubernetes-helpers.js'

describe('the CLI on fake Kubernetes clusters', function () {
  this.timeout(180_000)
  let w: KubeWorld
  let home: string
  afterEach(async () => w?.close())

  const setup = async (contexts: Parameters<typeof kubeWorld>[0], k8sConfig = ''): Promise<void> => {
    w = await kubeWorld(contexts)
    home = tempHome('skyhop-k8s-cli-')
    writeFileSync(
      join(home, 'config.yaml'),
      `providers:\n  slurm: {enabled: false}\n  local: {enabled: false}\n  kubernetes:\n    schedule_wait: 1s\n${k8sConfig}`,
    )
  }
  // Never spawnSync here: the fakes answer from this process's event loop.
  const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
    runCliAsync(args, {
      home,
      env: {SKYHOP_CONFIG: join(home, 'config.yaml'), KUBECONFIG: w.kubeconfig, HOME: home, SKYHOP_LEASE_TTL_SECONDS: '2', ...extra},
    })
  const jobFile = (name: string, text: string): string => {
    const file = join(home, name)
    writeFileSync(file, text)
    return file
  }

  it('check: kubernetes enabled from KUBECONFIG, its contexts answer, the token is never printed', async () => {
    await setup({lab: {nodes: [H100_NODE]}})
    const r = await cli(['check', '--json'])
    expect(r.code, r.stderr).to.equal(0)
    const k8s = (parseEnvelope(r.stdout).result.providers as Array<Record<string, unknown>>).find((p) => p.provider === 'kubernetes')
    expect(k8s).to.deep.include({enabled: true, ok: true, adapter: true, source: `${w.kubeconfig} (token)`})
    expect(k8s!.message).to.match(/^lab: v1\.31\.0-fake answers, 1 nodes, 1 with accelerators$/)
    expect(r.stdout + r.stderr).to.not.include(TOKEN)
  })

  it('check: a kubeconfig that does not parse says where, exit 4; other commands are not stopped by it', async () => {
    await setup({lab: {nodes: [CPU_NODE]}})
    writeFileSync(w.kubeconfig, 'apiVersion: v1\ncontexts:\n- name: lab\n  context: {cluster: lab\n')
    const r = await cli(['check', '--json'])
    expect(r.code).to.equal(4)
    const k8s = (parseEnvelope(r.stdout).result.providers as Array<Record<string, unknown>>).find((p) => p.provider === 'kubernetes')
    expect(k8s).to.deep.include({enabled: true, ok: false})
    expect(k8s!.message).to.include(`${w.kubeconfig}:`)
    expect(k8s!.message).to.match(/YAML syntax error/)
    const offers = await cli(['offers', '--provider', 'aws', '--limit', '1', '--json'])
    expect(offers.code, offers.stderr).to.equal(0)
    // A job that may only run on Kubernetes: the kubeconfig is the reason, exit 4, nothing recorded.
    const file = jobFile('k.yaml', 'name: only-k8s\nplacement:\n  providers: [kubernetes]\nrun: echo hi\n')
    const plan = await cli(['plan', file, '--json'])
    expect(plan.code).to.equal(4)
    expect(parseEnvelope(plan.stdout).error).to.deep.include({code: 'KUBECONFIG_INVALID'})
    const launch = await cli(['launch', jobFile('any.yaml', 'name: any\nrun: echo hi\n'), '--provider', 'kubernetes', '--yes', '--wait'])
    expect(launch.code).to.equal(4)
    expect(launch.stderr).to.match(/error\[KUBECONFIG_INVALID\]: kubernetes: kubeconfig: .*config:5:1: YAML syntax error/)
    expect(parseEnvelope((await cli(['status', '--json'])).stdout).result.jobs).to.deep.equal([])
  })

  it('launch --wait: plans onto the cluster, the pod runs the job through the runner, SUCCEEDED with its output; logs reads it back', async () => {
    await setup({lab: {nodes: [H100_NODE, CPU_NODE]}})
    const file = jobFile(
      'hello.yaml',
      'name: k8s-hello\nresources:\n  accelerators: H100:1\nrun: |\n  echo "hello from $SKYHOP_JOB_NAME, $SKYHOP_NUM_ACCELERATORS_PER_NODE GPU"\n',
    )
    const plan = await cli(['plan', file, '--json'])
    expect(plan.code, plan.stderr).to.equal(0)
    expect(parseEnvelope(plan.stdout).result.chosen).to.deep.include({
      provider: 'kubernetes',
      region: 'lab',
      instanceType: 'h100-80gb-x8.1x',
    })
    const r = await cli(['launch', file, '--yes', '--wait', '--json'])
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    const job = parseEnvelope(r.stdout).result.job
    expect(job.state).to.equal('SUCCEEDED')
    // No store here: the job's output stays in the pod, and its event says so.
    const status = await cli(['status', 'k8s-hello', '--json'])
    const events = parseEnvelope(status.stdout).result.job.events as Array<{kind: string; data: {message: string}}>
    const said = events.filter((e) => e.kind === 'logs-not-shipped')
    expect(said, JSON.stringify(events.map((e) => e.kind))).to.have.length(1)
    expect(said[0].data.message).to.match(/stay on the pod and go with it \(no checkpoint\.store\)/)
    const logs = await cli(['logs', 'k8s-hello'])
    expect(logs.stdout).to.include('hello from k8s-hello, 1 GPU')
    // Released once the attempt ended: the pod holds nothing, and is kept for its log.
    const pods = [...w.fakes.lab.pods.values()]
    expect(pods.map((p) => [p.status.phase, p.metadata.finalizers])).to.deep.equal([['Succeeded', []]])
  })

  it("a job's secrets reach the pod through a Secret of the cluster, with no object store: never the pod spec or the state", async () => {
    await setup({lab: {nodes: [CPU_NODE]}})
    const token = 'hf_cli-s3cret-4242'
    // The job checks the value by its hash: the job file (stored with the job) never holds it.
    const sha = createHash('sha256').update(token).digest('hex')
    const file = jobFile(
      'sec.yaml',
      `name: k8s-sec\nsecrets: [HF_TOKEN]\nrun: |\n  [ "$(printf %s "$HF_TOKEN" | sha256sum | cut -c1-64)" = ${sha} ] && echo token-ok\n`,
    )
    const r = await cli(['launch', file, '--yes', '--wait', '--json'], {HF_TOKEN: token})
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    expect(parseEnvelope(r.stdout).result.job.state).to.equal('SUCCEEDED')
    expect((await cli(['logs', 'k8s-sec'])).stdout).to.include('token-ok')
    const pods = [...w.fakes.lab.pods.values()]
    expect(pods).to.have.length(1)
    expect(JSON.stringify(pods[0])).to.not.include(token)
    expect(pods[0].spec.containers[0].env).to.deep.include({
      name: 'HF_TOKEN',
      valueFrom: {secretKeyRef: {name: pods[0].metadata.name, key: 'HF_TOKEN'}},
    })
    expect(r.stdout + r.stderr).to.not.include(token)
    expect(stateDump(home)).to.not.include(token)
  })

  it('a context whose GPUs are all taken fails over to the next context (capacity), and the job succeeds there', async () => {
    await setup({busy: {nodes: [H100_NODE]}, free: {nodes: [H100_NODE]}}, '    price_per_hour: {busy: 0, free: 1}\n')
    // Another tenant holds every GPU of the cheaper context.
    const offers = await w.provider.liveOffers()
    const busy8 = offers.find((o) => o.region === 'busy' && o.accelerator?.count === 8)!
    await w.provider.launch(kubeRequest(busy8, spec('sleep 120'), {jobId: 'j-othertenant'}))
    const file = jobFile('fo.yaml', 'name: k8s-fo\nresources:\n  accelerators: H100:8\nrun: echo ran on the free cluster\n')
    const r = await cli(['launch', file, '--yes', '--wait', '--json'])
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    const store = Store.open(home)
    try {
      const job = store.listJobs().find((j) => j.name === 'k8s-fo')!
      const attempts = store.listAttempts(job.id)
      expect(attempts.map((a) => `${a.region}:${a.state}`)).to.deep.equal(['busy:FAILED', 'free:SUCCEEDED'])
      expect(JSON.stringify(attempts[0].error) + attempts[0].reason).to.match(/capacity|Unschedulable/)
    } finally {
      store.close()
    }
  })

  it('an eviction is a preemption: the runner gets SIGTERM with the grace, the job is relaunched and succeeds', async () => {
    await setup({lab: {nodes: [CPU_NODE]}})
    const run = [
      'echo "attempt $SKYHOP_ATTEMPT"',
      'if [ "$SKYHOP_ATTEMPT" = 1 ]; then',
      '  trap \'echo "term at attempt 1"; exit 0\' TERM',
      '  while :; do sleep 0.2; done',
      'fi',
      'echo finished',
    ].join('\n')
    const file = jobFile('ev.yaml', `name: k8s-ev\nrecovery:\n  grace: 5s\nrun: |\n${run.replace(/^/gm, '  ')}\n`)
    const launched = await cli(['launch', file, '--yes', '--detach', '--json'])
    expect(launched.code, launched.stderr + launched.stdout).to.equal(0)
    const first = await until(
      async () => [...w.fakes.lab.pods.values()].find((p) => w.fakes.lab.log(p.metadata.name).includes('SKYHOP-LOG 1 attempt 1')),
      (p) => p !== undefined,
      60_000,
    )
    w.fakes.lab.evict(first!.metadata.name)
    const job = await until(
      async () => parseEnvelope((await cli(['status', 'k8s-ev', '--json'])).stdout).result.job,
      (j) => j.state === 'SUCCEEDED' || j.state === 'FAILED' || j.state === 'LOST',
      90_000,
      500,
    )
    expect(job.state).to.equal('SUCCEEDED')
    const logs = await cli(['logs', 'k8s-ev'])
    expect(logs.stdout).to.include('attempt 2')
    expect(logs.stdout).to.include('finished')
    const store = Store.open(home)
    try {
      const attempts = store.listAttempts(store.listJobs().find((j) => j.name === 'k8s-ev')!.id)
      expect(attempts.map((a) => a.state)).to.deep.equal(['PREEMPTED', 'SUCCEEDED'])
    } finally {
      store.close()
    }
  })

  it('a CANN job plans onto the Ascend node pool of a context', async () => {
    await setup({npu: {nodes: [ASCEND_NODE, CPU_NODE]}})
    const file = jobFile(
      'cann.yaml',
      'name: cann\nresources:\n  accelerators: {vendor: huawei, count: 8}\n  runtimes: [cann]\nrun: python train.py\n',
    )
    const r = await cli(['plan', file, '--json'])
    expect(r.code, r.stderr).to.equal(0)
    const chosen = parseEnvelope(r.stdout).result.chosen
    expect(chosen).to.deep.include({provider: 'kubernetes', region: 'npu', instanceType: 'ascend910b-x8.8x'})
    expect(chosen.accelerator).to.deep.include({name: 'Ascend910B', count: 8})
  })

  it('down --orphans finds a stray skyhop pod by its labels and removes it', async () => {
    await setup({lab: {nodes: [CPU_NODE]}})
    const offer = (await w.provider.liveOffers())[0]
    const stray = await w.provider.launch(kubeRequest(offer, spec('sleep 120'), {jobId: 'j-fromelsewhere'}))
    const dry = await cli(['down', '--orphans', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).to.equal(0)
    expect(JSON.stringify(parseEnvelope(dry.stdout).result)).to.include(stray.externalId)
    const r = await cli(['down', '--orphans', '--yes', '--json'])
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    await until(
      async () => w.fakes.lab.pods.has(stray.externalId),
      (has) => !has,
    )
  })
})
