// Child process for the concurrent-migration test: opens the store of a home (or of
// SKYHOP_DATABASE_URL), which creates and migrates it, prints the versions it sees, exits.
import {Store} from '../../src/state/store.js'

const store = Store.open(process.argv[2], {databaseUrl: process.env.SKYHOP_DATABASE_URL || null})
const versions = store.db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()
store.close()
process.stdout.write(JSON.stringify(versions) + '\n')
