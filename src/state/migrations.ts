// Versioned schema migrations for the state store. Append only: a released migration
// is never edited, a change is a new entry. Each runs in its own transaction.

export interface Migration {
  version: number
  name: string
  sql: string
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'jobs, attempts, events, observations, sweeps',
    sql: `
      CREATE TABLE sweeps (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        state       TEXT NOT NULL,
        spec_json   TEXT NOT NULL,
        budget_usd  REAL
      );
      CREATE TABLE jobs (
        id               TEXT PRIMARY KEY,
        name             TEXT NOT NULL,
        file             TEXT,
        spec_json        TEXT NOT NULL,
        state            TEXT NOT NULL,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        sweep_id         TEXT REFERENCES sweeps(id),
        matrix_json      TEXT,
        exit_code        INTEGER,
        reason           TEXT,
        restarts         INTEGER NOT NULL DEFAULT 0,
        error_restarts   INTEGER NOT NULL DEFAULT 0,
        lease_owner      TEXT,
        lease_expires_at INTEGER,
        options_json     TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX jobs_name ON jobs(name, created_at);
      CREATE INDEX jobs_state ON jobs(state);
      CREATE INDEX jobs_sweep ON jobs(sweep_id);
      CREATE TABLE attempts (
        id               TEXT PRIMARY KEY,
        job_id           TEXT NOT NULL REFERENCES jobs(id),
        n                INTEGER NOT NULL,
        provider         TEXT NOT NULL,
        region           TEXT NOT NULL,
        zone             TEXT,
        instance_type    TEXT NOT NULL,
        accelerator      TEXT,
        accelerator_count INTEGER,
        spot             INTEGER NOT NULL,
        price_per_hour   REAL,
        currency         TEXT,
        on_demand_price_per_hour REAL,
        billing_granularity_seconds INTEGER NOT NULL DEFAULT 1,
        state            TEXT NOT NULL,
        intent_at        TEXT NOT NULL,
        launched_at      TEXT,
        started_at       TEXT,
        ended_at         TEXT,
        exit_code        INTEGER,
        reason           TEXT,
        handle_json      TEXT,
        error_json       TEXT,
        UNIQUE(job_id, n)
      );
      CREATE INDEX attempts_job ON attempts(job_id);
      CREATE INDEX attempts_state ON attempts(state);
      CREATE TABLE events (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id     TEXT NOT NULL,
        attempt_id TEXT,
        ts         TEXT NOT NULL,
        kind       TEXT NOT NULL,
        data_json  TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX events_job ON events(job_id, id);
      CREATE TABLE observations (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        ts            TEXT NOT NULL,
        provider      TEXT NOT NULL,
        region        TEXT,
        zone          TEXT,
        accelerator   TEXT,
        spot          INTEGER NOT NULL DEFAULT 0,
        kind          TEXT NOT NULL,
        value_seconds REAL
      );
      CREATE INDEX observations_key ON observations(provider, region, accelerator, ts);
    `,
  },
  {
    version: 2,
    name: 'attempt release times; sweep options, plan and lease',
    // released_at: when the instance/allocation was confirmed released (cost accounting and
    // the idle guard). Attempts that ended before this migration were cleaned up as they
    // ended, so their end is their release.
    sql: `
      ALTER TABLE attempts ADD COLUMN released_at TEXT;
      UPDATE attempts SET released_at = ended_at
        WHERE ended_at IS NOT NULL AND state IN ('SUCCEEDED','FAILED','PREEMPTED','CANCELLED','LOST');
      CREATE INDEX attempts_unreleased ON attempts(released_at, state);
      CREATE INDEX attempts_intent ON attempts(intent_at);
      ALTER TABLE sweeps ADD COLUMN file TEXT;
      ALTER TABLE sweeps ADD COLUMN updated_at TEXT;
      ALTER TABLE sweeps ADD COLUMN options_json TEXT NOT NULL DEFAULT '{}';
      ALTER TABLE sweeps ADD COLUMN plan_json TEXT;
      ALTER TABLE sweeps ADD COLUMN reason TEXT;
      ALTER TABLE sweeps ADD COLUMN lease_owner TEXT;
      ALTER TABLE sweeps ADD COLUMN lease_expires_at INTEGER;
    `,
  },
  {
    version: 3,
    name: 'attempt usage: what each attempt used, from its runner samples',
    // One row per attempt, rewritten as its samples grow: the summary the controller read
    // last (docs/utilisation.md). job_name and fingerprint let the planner find the earlier
    // runs of the same job (same name, same run/setup/resources) without reading specs.
    sql: `
      CREATE TABLE attempt_usage (
        attempt_id          TEXT PRIMARY KEY REFERENCES attempts(id),
        job_id              TEXT NOT NULL,
        job_name            TEXT NOT NULL,
        fingerprint         TEXT NOT NULL,
        updated_at          TEXT NOT NULL,
        samples             INTEGER NOT NULL,
        cpu_busy            REAL NOT NULL,
        cores               INTEGER NOT NULL,
        mem_peak_mib        REAL NOT NULL,
        mem_total_mib       REAL NOT NULL,
        accelerators        INTEGER NOT NULL,
        accelerator_tool    TEXT,
        accelerator_busy    REAL,
        accelerator_mem_peak_mib  REAL,
        accelerator_mem_total_mib REAL,
        idle_seconds        REAL NOT NULL DEFAULT 0,
        summary_json        TEXT NOT NULL
      );
      CREATE INDEX attempt_usage_job ON attempt_usage(job_name, fingerprint);
      `,
  },
  {
    version: 4,
    name: 'services and their replicas (skyhop serve)',
    // A service's replicas are not jobs: nothing resumes them and no job controller drives them;
    // the service controller (src/controller/service-controller.ts) does, under the service's lease.
    // Its events go to the events table under the service's id.
    sql: `
      CREATE TABLE services (
        id               TEXT PRIMARY KEY,
        name             TEXT NOT NULL,
        file             TEXT,
        spec_json        TEXT NOT NULL,
        version          INTEGER NOT NULL DEFAULT 1,
        state            TEXT NOT NULL,
        endpoint         TEXT,
        target_replicas  INTEGER NOT NULL DEFAULT 0,
        metrics_json     TEXT,
        reason           TEXT,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        lease_owner      TEXT,
        lease_expires_at INTEGER
      );
      CREATE INDEX services_name ON services(name, created_at);
      CREATE TABLE service_replicas (
        id               TEXT PRIMARY KEY,
        service_id       TEXT NOT NULL REFERENCES services(id),
        n                INTEGER NOT NULL,
        version          INTEGER NOT NULL,
        provider         TEXT NOT NULL,
        region           TEXT NOT NULL,
        zone             TEXT,
        instance_type    TEXT NOT NULL,
        accelerator      TEXT,
        accelerator_count INTEGER,
        spot             INTEGER NOT NULL,
        price_per_hour   REAL,
        currency         TEXT,
        on_demand_price_per_hour REAL,
        state            TEXT NOT NULL,
        address          TEXT,
        handle_json      TEXT,
        intent_at        TEXT NOT NULL,
        launched_at      TEXT,
        ready_at         TEXT,
        notice_at        TEXT,
        ended_at         TEXT,
        released_at      TEXT,
        reason           TEXT,
        UNIQUE(service_id, n)
      );
      CREATE INDEX service_replicas_service ON service_replicas(service_id, state);
    `,
  },
  {
    version: 5,
    name: 'owners: who launched each job, sweep and service; the hourly spend a job was planned at',
    // Portable SQL only (it runs on PostgreSQL too): ADD COLUMN of TEXT and REAL, plain indexes.
    // Rows from before owners have a NULL owner: every user sees them and may act on them.
    // planned_usd_per_hour: the chosen candidate's hourly price in USD when the job was
    // recorded (NULL when unknown); budgets count it for every unfinished job.
    sql: `
      ALTER TABLE jobs ADD COLUMN owner TEXT;
      ALTER TABLE jobs ADD COLUMN planned_usd_per_hour REAL;
      ALTER TABLE sweeps ADD COLUMN owner TEXT;
      ALTER TABLE services ADD COLUMN owner TEXT;
      CREATE INDEX jobs_owner ON jobs(owner, state);
    `,
  },
  {
    version: 6,
    name: 'fencing tokens on leases',
    // Bumped each time a lease passes to another owner (or is taken free or expired); a
    // controller's every write checks the token it took, so one that lost its lease (asleep
    // past its expiry, cut off from the database) can no longer act (docs/state.md#fencing).
    sql: `
      ALTER TABLE jobs ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sweeps ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE services ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 7,
    name: 'jobs listed newest first from an index',
    // `status` (Store.listJobs) lists the newest jobs: ORDER BY created_at DESC, rowid DESC
    // LIMIT n. Without an index both engines sorted every job for it; PostgreSQL comparing
    // the text timestamps under the database's collation took 10-17 ms of the command with
    // 10,000 jobs. SQLite's index ends in the rowid, and PostgreSQL (13 and later) sorts
    // only each group of equal created_at by rowid (an incremental sort): 0.2 ms.
    sql: `
      CREATE INDEX jobs_created ON jobs(created_at);
    `,
  },
]
