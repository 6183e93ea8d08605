// Child process for the detached-claim test: one real `recover` pass (src/services/recover.ts)
// on the store at argv[2], run in a process of its own as a person's `skyhop recover` would
// be, with controller starts recorded instead of made. Prints the ids it restarted as JSON.
import {recoverJobs} from '../../src/services/recover.js'
import {Store} from '../../src/state/store.js'

const home = process.argv[2]
const store = Store.open(home, {databaseUrl: process.env.SKYHOP_DATABASE_URL || null})
const started: Array<{id: string; command: string}> = []
await recoverJobs({store, providers: new Map(), home, spawn: (_home, id, command = 'controller') => started.push({id, command})})
store.close()
process.stdout.write(JSON.stringify(started))
