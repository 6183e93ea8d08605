// mocha's configuration. SKYHOP_TEST_ENGINE=postgres (`npm run test:postgres`) runs the whole
// suite on PostgreSQL through the root hook test/helpers/pg-suite.ts (docs/development.md).
module.exports = {
  'node-option': ['import=tsx'],
  extension: ['ts'],
  timeout: 60000,
  reporter: 'spec',
  exit: true,
  // Only in that mode: an empty list is not "nothing" to mocha.
  ...(process.env.SKYHOP_TEST_ENGINE === 'postgres' ? {require: ['test/helpers/pg-suite.ts']} : {}),
}
