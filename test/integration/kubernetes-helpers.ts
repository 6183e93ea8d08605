// The set-up the Kubernetes tests share: fake API servers (one per context) whose kubelet
// runs each pod's command on this machine, a kubeconfig naming them, and a provider on it.
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Agent} from 'undici'

import type {Offer} from '../../src/model/catalog.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {KubernetesProvider, type KubernetesProviderOptions} from '../../src/providers/kubernetes/kubernetes-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import {FakeKubernetesServer, type FakeKubernetesOptions, type FakeNode} from '../fakes/fake-kubernetes-server.js'
import {testJobSpec} from '../helpers/job-spec.js'

export const TOKEN = 'fake-sa-token-0123456789abcdef'

export const H100_NODE: FakeNode = {
  name: 'gpu-1',
  labels: {'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3', 'nvidia.com/gpu.count': '8'},
  allocatable: {cpu: '96', memory: '1056000000Ki', 'nvidia.com/gpu': '8', pods: '110'},
  taints: [{key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule'}],
}

export const ASCEND_NODE: FakeNode = {
  name: 'npu-1',
  labels: {accelerator: 'huawei-Ascend910', 'accelerator-type': 'module-910b-8', 'host-arch': 'huawei-arm'},
  allocatable: {cpu: '192', memory: '1500Gi', 'huawei.com/Ascend910': '8', pods: '110'},
}

export const CPU_NODE: FakeNode = {name: 'cpu-1', allocatable: {cpu: '8', memory: '32Gi', pods: '110'}}

export interface KubeWorld {
  fakes: Record<string, FakeKubernetesServer>
  kubeconfig: string
  dir: string
  provider: KubernetesProvider
  agent: Agent
  close(): Promise<void>
}

/** One fake API server per context, a kubeconfig with them (token auth), and a provider on it. */
export async function kubeWorld(
  contexts: Record<string, Partial<FakeKubernetesOptions> & {nodes: FakeNode[]; kubeconfigToken?: string}>,
  providerOptions: Partial<KubernetesProviderOptions> = {},
): Promise<KubeWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-k8s-'))
  const fakes: Record<string, FakeKubernetesServer> = {}
  for (const [name, o] of Object.entries(contexts)) {
    fakes[name] = new FakeKubernetesServer({token: TOKEN, ...o})
    await fakes[name].start()
  }
  const kubeconfig = join(dir, 'config')
  writeFileSync(
    kubeconfig,
    kubeconfigText(
      Object.fromEntries(Object.entries(fakes).map(([n, f]) => [n, {server: f.url, token: contexts[n].kubeconfigToken ?? TOKEN}])),
    ),
  )
  const agent = new Agent({connect: {timeout: 2000}})
  const provider = new KubernetesProvider({
    env: {KUBECONFIG: kubeconfig},
    home: dir,
    dispatcher: agent,
    scheduleWaitMs: 1500,
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 200))),
    ...providerOptions,
  })
  return {
    fakes,
    kubeconfig,
    dir,
    provider,
    agent,
    async close() {
      await provider.close()
      await Promise.all(Object.values(fakes).map((f) => f.stop()))
      await agent.close()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

export function kubeconfigText(contexts: Record<string, {server: string; token: string}>): string {
  const names = Object.keys(contexts)
  const lines = ['apiVersion: v1', 'kind: Config', `current-context: ${names[0]}`, 'clusters:']
  for (const [n, c] of Object.entries(contexts)) lines.push(`- name: ${n}`, '  cluster:', `    server: ${c.server}`)
  lines.push('users:')
  for (const [n, c] of Object.entries(contexts)) lines.push(`- name: ${n}-user`, '  user:', `    token: ${c.token}`)
  lines.push('contexts:')
  for (const n of names) lines.push(`- name: ${n}`, '  context:', `    cluster: ${n}`, `    user: ${n}-user`, '    namespace: ml')
  return `${lines.join('\n')}\n`
}

let counter = 0

export function kubeRequest(offer: Offer, spec: JobSpec, overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  counter += 1
  const attemptId = overrides.attemptId ?? `a-${process.pid.toString(16)}${counter}`
  return {
    jobId: 'j-0123456789',
    jobName: 'train',
    attemptId,
    attempt: 1,
    restartCount: 0,
    idempotencyKey: attemptId,
    spec,
    offer,
    spot: false,
    env: {SKYHOP_JOB_ID: 'j-0123456789', GREETING: "it's $HOME; `x`"},
    checkpointDir: '/var/lib/skyhop/checkpoints/j-0123456789',
    checkpointSync: null,
    graceSeconds: 5,
    ...overrides,
  }
}

export const spec = (run: string, fields: Partial<Parameters<typeof testJobSpec>[0]> = {}): JobSpec => testJobSpec({run, ...fields})
