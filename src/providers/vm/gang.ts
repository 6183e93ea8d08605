// Gangs (multi-node attempts) on the VM clouds, shared by the AWS, Alibaba, Huawei, Tencent, GCP and Azure
// adapters. One attempt is one gang: every node is launched in one call where the API allows
// it, all or nothing (fewer granted than asked, or a later step failing, releases what was
// granted). The nodes share the job's object store (GangObjects, signed by the controller):
// before the launch the adapter PUTs the runner, which every node GETs at boot (one user data
// for all, and EC2's 16 KB would not hold it beside the gang's signed URLs); once the private
// addresses are known it PUTs the instance ids and the IPs, rank order. Each node's boot
// script finds its rank by its own instance id (the one cloud-init records) and its runner
// waits for the IP list (runner.conf nodeIpsUrl). A notice at one rank reaches the others
// through the gang notice object. The handle is the head's (rank 0) with `data.nodes` listing
// every node; polls aggregate the nodes with gangPoll (providers/gang.ts).
import type {Dispatcher} from 'undici'

import {CHECKPOINT_CONTENT_TYPE} from '../../clouds/common/presign.js'
import {ProviderError} from '../../errors.js'
import {HttpClient} from '../../http/client.js'
import type {GangNode, LaunchHandle, PollResult} from '../../model/attempt.js'
import type {GangObjects} from '../../model/checkpoint.js'
import type {RunnerConfig} from '../../runner/contract.js'
import {gangPoll} from '../gang.js'
import type {LaunchRequest, LogOptions} from '../provider.js'

/** How many nodes the request asks for (1 for a single-node attempt). */
export function nodeCount(request: LaunchRequest): number {
  return Math.max(1, request.spec.nodes ?? 1)
}

/**
 * The gang's objects when the request is a gang; null for one node. Refuses a gang larger
 * than the adapter can launch (a user error: the planner excludes such offers already), or
 * one without an object store to share its peer list through (this provider cannot run it;
 * the message says what to set).
 */
export function gangObjectsFor(provider: string, request: LaunchRequest, maxNodes: number): GangObjects | null {
  const nodes = nodeCount(request)
  if (nodes === 1) return null
  if (nodes > maxNodes) {
    throw new ProviderError(provider, 'user', `the job asks for ${nodes} nodes; ${provider} launches at most ${maxNodes} in one gang`, {
      code: 'GANG_TOO_LARGE',
    })
  }
  if (!request.gang) {
    // Not the job's fault as a whole: local and Slurm run the gang without a store, so the
    // controller blocks this provider and tries them; the message says what to set.
    throw new ProviderError(
      provider,
      'unavailable',
      `a ${nodes}-node job on ${provider} needs an object store for its nodes to find each other: set checkpoint.store in the job file (or checkpoint_store in the config) to an s3://, oss://, cos:// or obs:// BUCKET/PREFIX`,
      {code: 'GANG_STORE_MISSING', scope: 'provider'},
    )
  }
  return request.gang
}

/**
 * runner.conf's gang keys for a cloud node beside jobRunnerConfig's numNodes: where the peers
 * and the notice are. The rank comes from the boot script (SKYHOP_RUNNER_NODE_RANK).
 */
export function gangRunnerConfig(request: LaunchRequest): Partial<RunnerConfig> {
  const gang = nodeCount(request) > 1 ? request.gang : null
  if (!gang) return {}
  return {
    nodeIpsUrl: gang.nodeIps.getUrl,
    gangNoticePutUrl: gang.notice.putUrl,
    gangNoticeGetUrl: gang.notice.getUrl,
  }
}

/**
 * PUTs one of a gang's objects through its signed URL, with the content type every store URL
 * is signed for (OSS and OBS sign the header).
 */
function gangPut(dispatcher: Dispatcher, provider: string): (url: string, body: string) => Promise<unknown> {
  const http = new HttpClient({provider, dispatcher, timeoutMs: 20_000, retry: {retries: 3}})
  return (url, body) => http.request({method: 'PUT', url, headers: {'content-type': CHECKPOINT_CONTENT_TYPE}, body, idempotent: true})
}

/**
 * Writes the runner the gang's nodes fetch at boot (before the launch, so it is there when
 * they look): a gang's user data carries the boot script and its signed URLs, not the runner.
 */
export async function publishRunner(dispatcher: Dispatcher, provider: string, gang: GangObjects, runnerScript: string): Promise<void> {
  await gangPut(dispatcher, provider)(gang.runner.putUrl, runnerScript)
}

/**
 * Writes the rank list and then the peer list (the runners wait for the latter, so the ranks
 * are always there first). Every node's private IP must be known.
 */
export async function publishGang(dispatcher: Dispatcher, provider: string, gang: GangObjects, nodes: GangNode[]): Promise<void> {
  const missing = nodes.filter((n) => !n.ip)
  if (missing.length > 0)
    throw new ProviderError(provider, 'transient', `no private IP yet for ${missing.map((n) => n.externalId).join(', ')}`)
  const put = gangPut(dispatcher, provider)
  await put(gang.nodeIds.putUrl, `${nodes.map((n) => n.externalId).join(' ')}\n`)
  await put(gang.nodeIps.putUrl, `${nodes.map((n) => n.ip).join(' ')}\n`)
}

/** Every node of an attempt, rank order: `data.nodes` of a gang, else the one instance. */
export function gangNodes(handle: LaunchHandle): GangNode[] {
  const nodes = handle.data.nodes
  if (Array.isArray(nodes) && nodes.length > 0) return nodes as GangNode[]
  return [{rank: 0, externalId: handle.externalId, ip: null}]
}

/** The instance ids of every node of every handle. */
export function allNodeIds(handles: LaunchHandle[]): string[] {
  return handles.flatMap((h) => gangNodes(h).map((n) => n.externalId))
}

/** The nodes whose logs are asked for (LogOptions.node: a rank, default the head, or 'all'). */
export function logNodes(handle: LaunchHandle, node: LogOptions['node']): GangNode[] {
  const nodes = gangNodes(handle)
  if (node === 'all') return nodes
  const rank = node ?? 0
  const found = nodes.find((n) => n.rank === rank)
  if (!found) {
    throw new ProviderError(String(handle.provider), 'user', `this attempt has no node ${rank} (ranks 0 to ${nodes.length - 1})`, {
      code: 'NODE_NOT_FOUND',
    })
  }
  return [found]
}

/**
 * Lines of several nodes as they come, each prefixed `[rank N] ` (LogOptions.node 'all'); one
 * node's lines unprefixed.
 */
export async function* mergedLogs(streams: Array<{rank: number; lines: AsyncIterable<string>}>, prefix: boolean): AsyncIterable<string> {
  const iterators = streams.map((s) => ({rank: s.rank, it: s.lines[Symbol.asyncIterator]()}))
  const pending = new Map<number, Promise<{index: number; result: IteratorResult<string>}>>()
  const next = (index: number) =>
    pending.set(
      index,
      iterators[index].it.next().then((result) => ({index, result})),
    )
  iterators.forEach((_, i) => next(i))
  try {
    while (pending.size > 0) {
      const {index, result} = await Promise.race(pending.values())
      if (result.done) {
        pending.delete(index)
        continue
      }
      next(index)
      yield prefix ? `[rank ${iterators[index].rank}] ${result.value}` : result.value
    }
  } finally {
    await Promise.all(iterators.map(({it}) => it.return?.()))
  }
}

/** A single instance's poll, or the gang's aggregate (gangPoll, the one rule of every provider) when the handle is a gang's. */
export function pollOfHandle(handle: LaunchHandle, byId: (id: string) => PollResult): PollResult {
  const nodes = gangNodes(handle)
  if (nodes.length === 1 && !Array.isArray(handle.data.nodes)) return byId(handle.externalId)
  return gangPoll(nodes.map((n) => byId(n.externalId)))
}

/** Fewer nodes granted than asked: a capacity failure of the offer's zone. */
export function shortfall(provider: string, granted: number, asked: number, where: string, backendCode?: string): ProviderError {
  return new ProviderError(provider, 'capacity', `only ${granted} of ${asked} nodes were granted in ${where}; released them`, {
    code: 'GANG_PARTIAL_CAPACITY',
    scope: 'zone',
    ...(backendCode ? {backendCode} : {}),
  })
}

/**
 * Runs the steps after the instances exist (tags, addresses, the peer list); when one fails,
 * releases everything granted before the error goes on, so nothing stays billed. A transient
 * error comes out as this offer being unavailable for now: retried as it was, the launch
 * would send the same idempotency token and be answered with the instances just released.
 */
export async function orRollBack<T>(provider: string, step: () => Promise<T>, release: () => Promise<void>): Promise<T> {
  try {
    return await step()
  } catch (error) {
    await release().catch(() => {
      // The launch error is what the controller must see; a release that failed here is
      // found again by tag (listOwned) and released by the orphan sweep.
    })
    if (error instanceof ProviderError && error.category === 'transient') {
      throw new ProviderError(provider, 'unavailable', `${error.message.replace(/^[a-z]+: /, '')}; the gang was released`, {
        code: error.code,
        scope: 'offer',
        ...(error.backendCode ? {backendCode: error.backendCode} : {}),
        cause: error,
      })
    }
    throw error
  }
}

/** Ids in rank order with their IPs: the handle's `data.nodes`. */
export function rankNodes(instances: Array<{id: string; ip: string | null}>): GangNode[] {
  return instances.map((i, rank) => ({rank, externalId: i.id, ip: i.ip}))
}

/**
 * Deletes a gang's placement construct once its instances are gone: the clouds refuse while
 * any is still in it (EC2's instances take a while to terminate). `remove` answers false
 * while it is still in use. A construct left behind after `waitMs` costs nothing, is named
 * or tagged after the attempt, and the attempt's next cleanup deletes it.
 */
export async function removeWhenEmpty(
  remove: () => Promise<boolean>,
  clock: {now: () => number; sleep: (ms: number) => Promise<void>; waitMs: number},
): Promise<void> {
  const until = clock.now() + clock.waitMs
  for (;;) {
    if (await remove()) return
    if (clock.now() >= until) return
    await clock.sleep(2000)
  }
}
