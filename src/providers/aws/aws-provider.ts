// AWS EC2 behind skyhop's Provider interface.
//
// Launch: one RunInstances per attempt, ClientToken = the attempt's idempotency key (so a
// retried launch never starts a second instance), tags skyhop:job-id / skyhop:attempt-id
// on the instance and its volumes, spot through InstanceMarketOptions (with the job's max
// price in USD when it has one), and the shared boot script (vm/boot-script.ts) as user
// data; InstanceInitiatedShutdownBehavior=terminate makes the instance release itself when
// the job ends.
//
// Status and logs channel (documented in docs/providers/aws.md): nothing inbound is opened and no
// key pair is needed. The boot script mirrors the runner's events and the job's output to
// the serial console; poll() reads the instance state with one DescribeInstances per
// region (filter by instance id, so unknown ids do not fail the batch) and, once an
// instance has ended, its console output (GetConsoleOutput, Latest) for the exit code.
// logs() follows the same console output; EC2 keeps its last 64 KB, so a job that prints
// faster than logs() polls loses lines from the stream (a gap line says how many).
// Cancel and preempt: signal() sets the tag skyhop:stop-request=`<kind> <grace>`; the boot
// script reads it from instance metadata (instance tags in IMDS are enabled at launch) and
// hands it to the runner as `stop-request` + SIGTERM, exactly as the local provider does.
// Spot interruptions reach the runner through IMDSv2 spot/instance-action (two minutes).
import {ProviderError} from '../../errors.js'
import type {VmAdapterOptions} from '../vm/adapter-options.js'
import {clientOptionsFor} from '../../clouds/common/api-client.js'
import {bootScript, readRunnerScript, userData} from '../vm/boot-script.js'
import {checkByListingZones} from '../vm/check.js'
import {asciiClientToken} from '../../clouds/common/client-token.js'
import {eventTime, ExitLineGrace, finalState, linesAfter, parseConsole} from '../vm/console-channel.js'
import {CredentialCache, type LoadedCredentials} from '../../clouds/common/credentials.js'
import {AdapterDispatcher} from '../../http/dispatcher.js'
import {PromiseCache} from '../../util/promise-cache.js'
import {configuredRegions, groupByRegion, regionsToScan} from '../vm/regions.js'
import {rfc3986Encode} from '../../clouds/common/signing-util.js'
import {abortableSleep} from '../../http/sleep.js'
import type {CheckResult, LaunchRequest, LogOptions, OwnedQuery, Provider} from '../provider.js'
import type {AttemptState, LaunchHandle, PollResult} from '../../model/attempt.js'
import {loadAwsCredentials, type AwsCredentialOptions, type AwsCredentials} from '../../clouds/aws/credentials.js'
import {Ec2Client, type Ec2Instance, type SpotPrice} from '../../clouds/aws/ec2-client.js'
import type {Env} from '../../clouds/aws/endpoints.js'
import {ImageResolver} from './images.js'

export const AWS_TAGS = {
  jobId: 'skyhop:job-id',
  attemptId: 'skyhop:attempt-id',
  jobName: 'skyhop:job-name',
  stopRequest: 'skyhop:stop-request',
} as const

/** EC2's limit on user data before base64. */
export const EC2_USER_DATA_LIMIT = 16 * 1024

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down']

export interface AwsProviderOptions extends VmAdapterOptions {
  /** Regions listOwned() scans and check() probes (the first). Default: AWS_REGION or us-east-1. */
  regions?: string[]
  /** How to find credentials (profile, home dir), or a loader of your own. */
  credentials?: AwsCredentialOptions | (() => Promise<LoadedCredentials<AwsCredentials>>)
  /** EC2 endpoint for every region; otherwise SKYHOP_AWS_ENDPOINT / AWS_ENDPOINT_URL(_EC2) / the default. */
  endpoint?: string
  /** Launch networking: subnet per zone, security groups per region, instance profile. */
  network?: {subnetIds?: Record<string, string>; securityGroupIds?: Record<string, string[]>; iamInstanceProfile?: string}
  /** Metadata base for the runner and the stop probe on the instance; `{attemptId}` is replaced. Default IMDS (169.254.169.254). */
  metadataBaseUrl?: string
}

/** The idempotency key as EC2's ClientToken. */
export const clientTokenFor = asciiClientToken

/** The bash the boot script runs to read a stop request from the instance's tags in IMDS. */
export function awsStopProbe(metadataBase: string): string {
  const base = metadataBase.replace(/\/$/, '')
  return [
    `t=$(curl -sf -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' '${base}/latest/api/token') || return 0`,
    `curl -sf -m 2 -H "X-aws-ec2-metadata-token: $t" '${base}/latest/meta-data/tags/instance/${AWS_TAGS.stopRequest}' || true`,
  ].join('\n')
}

export class AwsProvider implements Provider {
  readonly name = 'aws'
  // Each attempt runs on an instance of its own: checkpoints travel through checkpoint.store.
  readonly attemptStorage = 'per-instance' as const
  private readonly env: Env
  private readonly credentialCache: CredentialCache<AwsCredentials>
  private readonly dispatcher: AdapterDispatcher
  private readonly clients = new PromiseCache<Ec2Client>()
  private readonly images = new ImageResolver()
  private readonly exitGrace = new ExitLineGrace()

  constructor(private readonly options: AwsProviderOptions = {}) {
    this.env = options.env ?? process.env
    this.dispatcher = new AdapterDispatcher(options.dispatcher)
    const creds = options.credentials
    const load =
      typeof creds === 'function'
        ? creds
        : async () =>
            loadAwsCredentials({env: this.env, ...creds, dispatcher: creds?.dispatcher ?? (await this.dispatcher.get()), now: options.now})
    this.credentialCache = new CredentialCache(load, {now: options.now ? () => options.now!().getTime() : undefined})
  }

  private client(region: string): Promise<Ec2Client> {
    return this.clients.get(
      region,
      async () => new Ec2Client(clientOptionsFor(region, this.credentialCache, await this.dispatcher.get(), this.env, this.options)),
    )
  }

  private regions(): string[] {
    return configuredRegions(
      this.options.regions,
      undefined,
      this.env.AWS_REGION?.trim() || this.env.AWS_DEFAULT_REGION?.trim() || 'us-east-1',
    )
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))()
  }

  async check(): Promise<CheckResult> {
    return checkByListingZones(
      this.name,
      this.credentialCache,
      () => this.regions()[0],
      async (region) => (await this.client(region)).describeAvailabilityZones(),
      'availability zones',
    )
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    const {offer, spec} = request
    if (offer.provider !== this.name) throw new ProviderError(this.name, 'user', `offer of ${offer.provider} given to the AWS provider`)
    const region = offer.region
    const client = await this.client(region)
    const image = await this.images.resolve(client, offer, spec.image)
    const metadataBase = this.options.metadataBaseUrl?.replace('{attemptId}', rfc3986Encode(request.attemptId))
    const script = bootScript({
      request,
      runnerScript: await (this.options.runnerScript ?? readRunnerScript)(),
      noticeSources: [metadataBase ? `aws=${metadataBase}` : 'aws'],
      stopRequestProbe: awsStopProbe(metadataBase ?? 'http://169.254.169.254'),
      pollIntervalSeconds: this.options.instancePollSeconds,
    })
    const data = userData(script, (d) => d.length <= EC2_USER_DATA_LIMIT)
    if (!data.fits) {
      throw new ProviderError(
        this.name,
        'user',
        `the boot script is ${data.data.length} bytes even compressed; EC2 takes at most ${EC2_USER_DATA_LIMIT}`,
        {
          code: 'PROVIDER_USER_DATA_TOO_LARGE',
          hint: 'Keep run/setup short: fetch large scripts in setup, or bake them into the image.',
        },
      )
    }
    const maxPrice = request.spot && spec.maxPrice?.currency === 'USD' ? spec.maxPrice : null
    const instance = await client.runInstances({
      imageId: image.imageId,
      instanceType: offer.instanceType,
      zone: offer.zone,
      clientToken: clientTokenFor(request.idempotencyKey),
      userData: data.data.toString('base64'),
      tags: [
        {key: AWS_TAGS.jobId, value: request.jobId},
        {key: AWS_TAGS.attemptId, value: request.attemptId},
        {key: AWS_TAGS.jobName, value: request.jobName.slice(0, 256)},
        {key: 'Name', value: `skyhop-${request.jobName}-${request.attempt}`.slice(0, 256)},
      ],
      spot: request.spot ? {maxPrice} : null,
      rootVolume: spec.resources.diskGB && image.rootDeviceName ? {deviceName: image.rootDeviceName, sizeGiB: spec.resources.diskGB} : null,
      subnetId: offer.zone ? this.options.network?.subnetIds?.[offer.zone] : null,
      securityGroupIds: this.options.network?.securityGroupIds?.[region],
      iamInstanceProfile: this.options.network?.iamInstanceProfile,
    })
    return {
      provider: this.name,
      externalId: instance.instanceId,
      region,
      zone: instance.zone ?? offer.zone,
      data: {
        attemptId: request.attemptId,
        jobId: request.jobId,
        imageId: image.imageId,
        spot: request.spot,
        instanceType: offer.instanceType,
      },
    }
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const out = new Map<string, PollResult>()
    for (const [region, group] of groupByRegion(handles)) {
      const client = await this.client(region)
      // Filtering by id (not InstanceId.N) keeps one unknown id from failing the batch;
      // EC2 takes at most 200 values per filter.
      const byId = new Map<string, Ec2Instance>()
      for (let i = 0; i < group.length; i += 200) {
        const ids = group.slice(i, i + 200).map((h) => h.externalId)
        for (const found of await client.describeInstances({filters: [{name: 'instance-id', values: ids}]}))
          byId.set(found.instanceId, found)
      }
      for (const h of group) {
        const instance = byId.get(h.externalId)
        out.set(
          h.externalId,
          instance
            ? await this.pollOne(client, instance)
            : {state: 'LOST', exitCode: null, reason: 'EC2 no longer knows this instance', startedAt: null, endedAt: null},
        )
      }
    }
    return out
  }

  private async pollOne(client: Ec2Client, instance: Ec2Instance): Promise<PollResult> {
    const base = {exitCode: null, reason: instance.stateReasonMessage, startedAt: instance.launchTime, endedAt: null}
    if (instance.state === 'pending') return {...base, state: 'PROVISIONING'}
    if (instance.state === 'running') return {...base, state: 'RUNNING'}
    // The instance has ended or is ending: its console holds the job's exit.
    const report = parseConsole((await client.getConsoleOutput(instance.instanceId)) ?? '')
    const startedAt = eventTime(report, 'run-start') ?? instance.launchTime
    const endedAt = eventTime(report, 'exit')
    if (report.ended) {
      this.exitGrace.forget(instance.instanceId)
      return {...finalState(report), startedAt, endedAt}
    }
    const reason = instance.stateReasonCode ?? ''
    if (reason === 'Server.SpotInstanceTermination' || reason === 'Server.SpotInstanceShutdown') {
      return {state: 'PREEMPTED', exitCode: null, reason: instance.stateReasonMessage ?? reason, startedAt, endedAt}
    }
    if (reason.startsWith('Server.') && !report.booted) {
      return {state: 'LOST', exitCode: null, reason: instance.stateReasonMessage ?? reason, startedAt, endedAt}
    }
    // Ended without its exit line yet: EC2 updates console output with a delay.
    if (this.exitGrace.waiting(instance.instanceId, this.now().getTime(), this.options.consoleGraceMs ?? 10 * 60_000)) {
      return {
        state: 'RUNNING',
        exitCode: null,
        reason: `instance ${instance.state}; waiting for its console output`,
        startedAt,
        endedAt: null,
      }
    }
    const state: AttemptState = instance.tags[AWS_TAGS.stopRequest]?.startsWith('cancel') ? 'CANCELLED' : 'LOST'
    return {
      state,
      exitCode: null,
      reason: `instance ${instance.state} (${instance.stateReasonMessage ?? 'no reason given'}) without an exit code on its console`,
      startedAt,
      endedAt,
    }
  }

  async *logs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string> {
    const client = await this.client(handle.region)
    const sleep = this.options.sleep ?? abortableSleep
    let last = 0
    for (;;) {
      const report = parseConsole((await client.getConsoleOutput(handle.externalId)) ?? '')
      const fresh = linesAfter(report, last, (n) => `[skyhop: ${n} line(s) fell out of the EC2 console window]`)
      yield* fresh.lines
      last = fresh.last
      if (!options.follow || report.ended || options.signal?.aborted) return
      const [instance] = await client.describeInstances({filters: [{name: 'instance-id', values: [handle.externalId]}]})
      if (!instance || instance.state === 'terminated') {
        // One more read: the exit line may have landed since.
        const again = parseConsole((await client.getConsoleOutput(handle.externalId)) ?? '')
        for (const {seq, line} of again.logs)
          if (seq > last) {
            yield line
            last = seq
          }
        return
      }
      await sleep(this.options.consolePollMs ?? 5000, options.signal)
      if (options.signal?.aborted) return
    }
  }

  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const client = await this.client(handle.region)
    try {
      await client.createTags([handle.externalId], [{key: AWS_TAGS.stopRequest, value: `${kind} ${Math.max(0, Math.round(graceSeconds))}`}])
    } catch (error) {
      // Already gone: nothing left to stop.
      if (error instanceof ProviderError && error.backendCode?.startsWith('InvalidInstanceID')) return
      throw error
    }
  }

  async cleanup(handle: LaunchHandle): Promise<void> {
    const client = await this.client(handle.region)
    try {
      await client.terminateInstances([handle.externalId])
    } catch (error) {
      if (error instanceof ProviderError && error.backendCode?.startsWith('InvalidInstanceID')) return
      throw error
    }
    this.exitGrace.forget(handle.externalId)
  }

  async listOwned(query: OwnedQuery = {}): Promise<LaunchHandle[]> {
    const out: LaunchHandle[] = []
    for (const region of regionsToScan(this.regions(), query)) {
      const client = await this.client(region)
      // Looking for one attempt's run, an ended one counts too (EC2 lists terminated instances
      // for about an hour): the job may have finished while nobody was watching, and its
      // console still holds the exit code.
      const instances = await client.describeInstances({
        filters: query.attemptId
          ? [{name: `tag:${AWS_TAGS.attemptId}`, values: [query.attemptId]}]
          : [
              {name: 'tag-key', values: [AWS_TAGS.attemptId]},
              {name: 'instance-state-name', values: LIVE_STATES},
            ],
      })
      for (const i of instances) {
        out.push({
          provider: this.name,
          externalId: i.instanceId,
          region,
          zone: i.zone,
          data: {
            attemptId: i.tags[AWS_TAGS.attemptId],
            jobId: i.tags[AWS_TAGS.jobId] ?? null,
            instanceType: i.instanceType,
            spot: i.lifecycle === 'spot',
            // Already on its way out (or gone): nothing left to release.
            releasing: i.state === 'shutting-down' || i.state === 'terminated',
          },
        })
      }
    }
    return out
  }

  /** Current Linux spot prices per zone, for `catalog refresh`. */
  async spotPrices(region: string, instanceTypes: string[]): Promise<SpotPrice[]> {
    return (await this.client(region)).describeSpotPriceHistory({instanceTypes})
  }

  /** Closes the dispatcher this provider created (not an injected one). */
  async close(): Promise<void> {
    await this.dispatcher.close()
  }
}
