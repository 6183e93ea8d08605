// Child process for the kill-mid-write test: writes jobs, attempts and events as fast
// as it can until it is killed with SIGKILL. SKYHOP_DATABASE_URL: into that PostgreSQL database.
import {Store} from '../../src/state/store.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {localIntent} from './local-intent.js'

const home = process.argv[2]
const store = Store.open(home, {databaseUrl: process.env.SKYHOP_DATABASE_URL || null})
const spec = {name: 'w', run: 'echo', envs: {PAYLOAD: 'x'.repeat(2000)}} as unknown as JobSpec
process.stdout.write('ready\n')
for (let i = 0; ; i++) {
  const job = store.createJob({name: `w-${i}`, file: null, spec})
  const a = store.recordAttemptIntent(localIntent(job.id))
  store.updateAttempt(a!.id, {state: 'RUNNING', startedAt: new Date().toISOString()}, {kind: 'attempt-running'})
  store.setJobState(job.id, 'RUNNING', {kind: 'job-running', attemptId: a!.id})
}
