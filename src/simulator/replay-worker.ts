// A replay worker (worker_threads): given the market input once, it replays the tasks the
// main thread hands it — one policy (by its registered name; -1 = the on-demand baseline)
// from a list of start ticks — and answers with the outcomes in that order and the latency
// histogram of their decide calls. simulateMarketsParallel (run.ts) merges them in seed order.
import {parentPort, workerData} from 'node:worker_threads'

import {BugError} from '../errors.js'
import {findPolicy} from './policies.js'
import {BASELINE_POLICY, type ReplayInput, replayer} from './replay.js'
import {LatencyHistogram} from './stats.js'
import type {PolicySpec, RunOutcome} from './types.js'

export interface WorkerData {
  input: ReplayInput
  policies: string[]
}

export interface ReplayTask {
  id: number
  /** Index into WorkerData.policies; -1 for the baseline. */
  policy: number
  starts: number[]
}

export interface ReplayAnswer {
  id: number
  outcomes: RunOutcome[]
  latency: {counts: Float64Array; count: number; max: number}
}

const data = workerData as WorkerData
const specs: PolicySpec[] = data.policies.map((name) => {
  const spec = findPolicy(name)
  if (spec === undefined) throw new BugError(`replay worker: unknown policy ${name}`)
  return spec
})
const replay = replayer(data.input)
const port = parentPort
if (port === null) throw new BugError('replay-worker.ts runs as a worker thread')
port.on('message', (task: ReplayTask) => {
  const baseline = task.policy < 0
  const spec = baseline ? BASELINE_POLICY : specs[task.policy]
  const latency = new LatencyHistogram()
  const outcomes = task.starts.map((s) => replay(spec, s, baseline ? undefined : latency))
  const answer: ReplayAnswer = {id: task.id, outcomes, latency: latency.snapshot()}
  port.postMessage(answer)
})
