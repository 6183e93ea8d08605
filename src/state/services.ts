// The services and replicas of `skyhop serve` in the state store (migration 3): records,
// the service controller's lease, and the orphans `recover` hands to a new controller. Beside
// store.ts rather than in it, on the same connection: services share nothing with jobs but
// the database file and the events table.
import {LeaseLostError, UsageError} from '../errors.js'
import type {LaunchHandle} from '../model/attempt.js'
import type {JobSpec} from '../model/job-spec.js'
import type {NewReplica, ReplicaRecord, ReplicaState, ServiceMetrics, ServiceRecord, ServiceState} from '../model/service.js'
import {didYouMean} from '../util/did-you-mean.js'
import {redactDeep} from '../util/redact.js'
import type {Db} from './db.js'
import {type Store, newId} from './store.js'

type Row = Record<string, unknown>

export class ServiceStore {
  private readonly db: Db

  constructor(
    readonly store: Store,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.db = store.db
  }

  private now(): string {
    return this.clock().toISOString()
  }

  /** The fencing token of each service lease this store took (store.ts: fencing). */
  private readonly fences = new Map<string, number>()

  /** Runs a controller's write to the service: refused (LeaseLostError) once another controller took its lease. */
  private fenced<T>(id: string, write: () => T): T {
    const held = this.fences.get(id)
    return this.store.transaction(() => {
      if (held === undefined) return write()
      const row = this.db.prepare(`SELECT lease_token, lease_owner FROM services WHERE id = ?${this.db.dialect.forUpdate}`).get(id) as
        {lease_token: number; lease_owner: string | null} | undefined
      if (row && row.lease_token !== held) {
        throw new LeaseLostError(
          `service ${id} is now driven by another controller (${row.lease_owner ?? 'none'}, lease token ${row.lease_token}; this one held ${held}): write refused`,
        )
      }
      return write()
    })
  }

  /**
   * Records a service; `lease` records it already claimed for the controller about to be
   * started (in the same statement, so no `recover` ever sees it unleased).
   */
  createService(input: {
    name: string
    file: string | null
    spec: JobSpec
    owner?: string | null
    lease?: {owner: string; ttlMs: number}
  }): ServiceRecord {
    const id = newId('svc')
    const now = this.now()
    const live = this.db.prepare(`SELECT id FROM services WHERE name = ? AND state IN ('RUNNING','STOPPING')`).get(input.name) as
      Row | undefined
    if (live) {
      throw new UsageError(`a service named ${input.name} is already running (${live.id as string})`, {
        code: 'SERVICE_EXISTS',
        hint: `\`skyhop serve update ${input.name} FILE\` changes it; \`skyhop serve down ${input.name}\` stops it.`,
      })
    }
    this.db
      .prepare(
        `INSERT INTO services (id, name, file, spec_json, version, state, target_replicas, created_at, updated_at, owner,
           lease_owner, lease_expires_at)
         VALUES (?, ?, ?, ?, 1, 'RUNNING', ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        input.name,
        input.file,
        JSON.stringify(input.spec),
        input.spec.service?.replicas.min ?? 0,
        now,
        now,
        input.owner ?? null,
        input.lease?.owner ?? null,
        input.lease ? this.clock().getTime() + input.lease.ttlMs : null,
      )
    this.store.addEvent(id, null, 'service-created', {name: input.name})
    return this.getService(id)!
  }

  getService(id: string): ServiceRecord | undefined {
    const row = this.db.prepare('SELECT * FROM services WHERE id = ?').get(id) as Row | undefined
    return row ? toService(row) : undefined
  }

  /** By id, or by name (the newest service of that name). */
  findService(ref: string): ServiceRecord {
    const row = (this.db.prepare('SELECT * FROM services WHERE id = ?').get(ref) ??
      this.db.prepare('SELECT * FROM services WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1').get(ref)) as Row | undefined
    if (row) return toService(row)
    const names = (this.db.prepare('SELECT name FROM services GROUP BY name').all() as Row[]).map((r) => r.name as string)
    throw new UsageError(`no service ${ref}`, {
      code: 'SERVICE_NOT_FOUND',
      hint: didYouMean(ref, names) ? `did you mean ${didYouMean(ref, names)}?` : '`skyhop serve status` lists the services.',
    })
  }

  listServices(): ServiceRecord[] {
    return (this.db.prepare('SELECT * FROM services ORDER BY created_at, rowid').all() as Row[]).map(toService)
  }

  setServiceState(id: string, state: ServiceState, reason: string | null = null): void {
    this.fenced(id, () => {
      this.db.prepare('UPDATE services SET state = ?, reason = ?, updated_at = ? WHERE id = ?').run(state, reason, this.now(), id)
      this.store.addEvent(id, null, 'service-state', {state, ...(reason ? {reason} : {})})
    })
  }

  /** A new spec (serve update): replicas of older versions are replaced, rolling. */
  updateSpec(id: string, spec: JobSpec, file: string | null): number {
    return this.fenced(id, () => {
      this.db
        .prepare('UPDATE services SET spec_json = ?, file = ?, version = version + 1, updated_at = ? WHERE id = ?')
        .run(JSON.stringify(spec), file, this.now(), id)
      const version = (this.db.prepare('SELECT version FROM services WHERE id = ?').get(id) as Row).version as number
      return version
    })
  }

  setEndpoint(id: string, endpoint: string): void {
    this.fenced(id, () => this.db.prepare('UPDATE services SET endpoint = ?, updated_at = ? WHERE id = ?').run(endpoint, this.now(), id))
  }

  setTarget(id: string, target: number): void {
    this.fenced(id, () => this.db.prepare('UPDATE services SET target_replicas = ? WHERE id = ?').run(target, id))
  }

  /** Why a running service is below its target (null: it is not); a stopped or failed service keeps the reason it ended with. */
  setRunningReason(id: string, reason: string | null): void {
    this.fenced(id, () => this.db.prepare(`UPDATE services SET reason = ? WHERE id = ? AND state = 'RUNNING'`).run(reason, id))
  }

  setMetrics(id: string, metrics: ServiceMetrics): void {
    this.fenced(id, () => this.db.prepare('UPDATE services SET metrics_json = ? WHERE id = ?').run(JSON.stringify(metrics), id))
  }

  /**
   * What every owner's services cost per hour now, in USD: their replicas not yet released
   * (budgets count them beside jobs; store.runningSpendByOwner). CNY converted at `cnyPerUsd`.
   */
  runningSpendByOwner(fx: {cnyPerUsd: number}): Array<{owner: string | null; usdPerHour: number}> {
    const rows = this.db
      .prepare(
        `SELECT s.owner, r.price_per_hour, r.currency FROM service_replicas r JOIN services s ON s.id = r.service_id
         WHERE r.released_at IS NULL AND r.state NOT IN ('STOPPED','PREEMPTED','FAILED')`,
      )
      .all() as Array<{owner: string | null; price_per_hour: number | null; currency: string | null}>
    const byOwner = new Map<string | null, number>()
    for (const r of rows) {
      const usd = r.price_per_hour === null ? 0 : r.currency === 'CNY' ? r.price_per_hour / fx.cnyPerUsd : r.price_per_hour
      byOwner.set(r.owner, (byOwner.get(r.owner) ?? 0) + usd)
    }
    return [...byOwner].map(([owner, usdPerHour]) => ({owner, usdPerHour}))
  }

  // ---- the service controller's lease --------------------------------------------

  /** Free, expired or ours → ours; passing to another owner bumps the fencing token this store then holds. */
  takeLease(id: string, owner: string, ttlMs: number): boolean {
    const now = this.clock().getTime()
    return this.store.transaction(() => {
      const taken =
        this.db
          .prepare(
            `UPDATE services SET lease_owner = ?, lease_expires_at = ?,
               lease_token = CASE WHEN lease_owner = ? THEN lease_token ELSE lease_token + 1 END
             WHERE id = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires_at < ?)`,
          )
          .run(owner, now + ttlMs, owner, id, owner, now).changes === 1
      if (taken) this.fences.set(id, this.db.prepare('SELECT lease_token FROM services WHERE id = ?').pluck().get(id) as number)
      return taken
    })
  }

  /** Claims an orphaned service's lease for a controller `recover` is about to start (free or expired only: one claimant wins). */
  claimLease(id: string, owner: string, ttlMs: number): boolean {
    const now = this.clock().getTime()
    return (
      this.db
        .prepare(
          `UPDATE services SET lease_owner = ?, lease_expires_at = ?
           WHERE id = ? AND (lease_owner IS NULL OR lease_expires_at < ?)`,
        )
        .run(owner, now + ttlMs, id, now).changes === 1
    )
  }

  /** The controller a claim was made for takes the lease over under its own owner name, while the claim still holds it. */
  handOverLease(id: string, claimed: string, owner: string, ttlMs: number): boolean {
    return (
      this.db
        .prepare('UPDATE services SET lease_owner = ?, lease_expires_at = ? WHERE id = ? AND lease_owner = ?')
        .run(owner, this.clock().getTime() + ttlMs, id, claimed).changes === 1
    )
  }

  renewLease(id: string, owner: string, ttlMs: number): boolean {
    const held = this.fences.get(id)
    return (
      this.db
        .prepare(
          `UPDATE services SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?${held === undefined ? '' : ' AND lease_token = ?'}`,
        )
        .run(this.clock().getTime() + ttlMs, id, owner, ...(held === undefined ? [] : [held])).changes === 1
    )
  }

  releaseLease(id: string, owner: string): void {
    const held = this.fences.get(id)
    this.db
      .prepare(
        `UPDATE services SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?${held === undefined ? '' : ' AND lease_token = ?'}`,
      )
      .run(id, owner, ...(held === undefined ? [] : [held]))
    this.fences.delete(id)
  }

  /** Services not yet ended whose controller stopped heartbeating. */
  orphanedServices(): ServiceRecord[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM services WHERE state IN ('RUNNING','STOPPING') AND (lease_owner IS NULL OR lease_expires_at < ?) ORDER BY created_at`,
        )
        .all(this.clock().getTime()) as Row[]
    ).map(toService)
  }

  // ---- replicas ----------------------------------------------------------------------

  /** Records the intent to launch a replica (REQUESTED) before the backend is asked. */
  recordReplicaIntent(input: NewReplica): ReplicaRecord {
    const id = newId('r')
    this.fenced(input.serviceId, () => {
      const n =
        ((this.db.prepare('SELECT MAX(n) AS n FROM service_replicas WHERE service_id = ?').get(input.serviceId) as Row).n as
          number | null) ?? 0
      this.db
        .prepare(
          `INSERT INTO service_replicas (id, service_id, n, version, provider, region, zone, instance_type, accelerator,
             accelerator_count, spot, price_per_hour, currency, on_demand_price_per_hour, state, address, intent_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'REQUESTED', ?, ?)`,
        )
        .run(
          id,
          input.serviceId,
          n + 1,
          input.version,
          input.provider,
          input.region,
          input.zone,
          input.instanceType,
          input.accelerator,
          input.acceleratorCount,
          input.spot ? 1 : 0,
          input.pricePerHour,
          input.currency,
          input.onDemandPricePerHour,
          input.address,
          this.now(),
        )
    })
    return this.getReplica(id)!
  }

  getReplica(id: string): ReplicaRecord | undefined {
    const row = this.db.prepare('SELECT * FROM service_replicas WHERE id = ?').get(id) as Row | undefined
    return row ? toReplica(row) : undefined
  }

  replicas(serviceId: string): ReplicaRecord[] {
    return (this.db.prepare('SELECT * FROM service_replicas WHERE service_id = ? ORDER BY n').all(serviceId) as Row[]).map(toReplica)
  }

  /** Replicas whose instance (or process) may still be held: launched or requested, not yet released. */
  unreleasedReplicas(serviceId?: string): ReplicaRecord[] {
    const rows = serviceId
      ? this.db.prepare('SELECT * FROM service_replicas WHERE service_id = ? AND released_at IS NULL ORDER BY n').all(serviceId)
      : this.db.prepare('SELECT * FROM service_replicas WHERE released_at IS NULL ORDER BY service_id, n').all()
    return (rows as Row[]).map(toReplica)
  }

  updateReplica(
    id: string,
    patch: Partial<
      Pick<ReplicaRecord, 'state' | 'address' | 'launchedAt' | 'readyAt' | 'noticeAt' | 'endedAt' | 'releasedAt' | 'reason'>
    > & {
      handle?: LaunchHandle
    },
    event?: {kind: string; data?: Record<string, unknown>},
  ): void {
    const columns: Record<string, unknown> = {
      state: patch.state,
      address: patch.address,
      launched_at: patch.launchedAt,
      ready_at: patch.readyAt,
      notice_at: patch.noticeAt,
      ended_at: patch.endedAt,
      released_at: patch.releasedAt,
      reason: patch.reason,
      handle_json: patch.handle === undefined ? undefined : JSON.stringify(patch.handle),
    }
    const set = Object.entries(columns).filter(([, v]) => v !== undefined)
    if (set.length === 0 && !event) return
    const serviceId =
      this.fences.size > 0
        ? (this.db.prepare('SELECT service_id FROM service_replicas WHERE id = ?').pluck().get(id) as string | undefined)
        : undefined
    this.fenced(serviceId ?? '', () => {
      if (set.length > 0)
        this.db
          .prepare(`UPDATE service_replicas SET ${set.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`)
          .run(...set.map(([, v]) => v), id)
      if (event) {
        const r = this.getReplica(id)!
        this.db
          .prepare('INSERT INTO events (job_id, attempt_id, ts, kind, data_json) VALUES (?, ?, ?, ?, ?)')
          .run(
            r.serviceId,
            id,
            this.now(),
            event.kind,
            JSON.stringify(redactDeep({replica: r.n, ...(patch.state ? {state: patch.state} : {}), ...event.data})),
          )
      }
    })
  }
}

function toService(r: Row): ServiceRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    file: (r.file as string | null) ?? null,
    spec: JSON.parse(r.spec_json as string) as JobSpec,
    version: r.version as number,
    state: r.state as ServiceState,
    endpoint: (r.endpoint as string | null) ?? null,
    targetReplicas: r.target_replicas as number,
    metrics: r.metrics_json ? (JSON.parse(r.metrics_json as string) as ServiceMetrics) : null,
    reason: (r.reason as string | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseExpiresAt: (r.lease_expires_at as number | null) ?? null,
    owner: (r.owner as string | null) ?? null,
  }
}

function toReplica(r: Row): ReplicaRecord {
  return {
    id: r.id as string,
    serviceId: r.service_id as string,
    n: r.n as number,
    version: r.version as number,
    provider: r.provider as string,
    region: r.region as string,
    zone: (r.zone as string | null) ?? null,
    instanceType: r.instance_type as string,
    accelerator: (r.accelerator as string | null) ?? null,
    acceleratorCount: (r.accelerator_count as number | null) ?? null,
    spot: r.spot === 1,
    pricePerHour: (r.price_per_hour as number | null) ?? null,
    currency: (r.currency as string | null) ?? null,
    onDemandPricePerHour: (r.on_demand_price_per_hour as number | null) ?? null,
    state: r.state as ReplicaState,
    address: (r.address as string | null) ?? null,
    handle: r.handle_json ? (JSON.parse(r.handle_json as string) as LaunchHandle) : null,
    intentAt: r.intent_at as string,
    launchedAt: (r.launched_at as string | null) ?? null,
    readyAt: (r.ready_at as string | null) ?? null,
    noticeAt: (r.notice_at as string | null) ?? null,
    endedAt: (r.ended_at as string | null) ?? null,
    releasedAt: (r.released_at as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
  }
}
