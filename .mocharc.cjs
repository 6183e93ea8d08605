// mocha's configuration. SKYHOP_TEST_ENGINE=postgres (`npm run test:postgres`) runs the whole
// suite on PostgreSQL through the root hook test/helpers/pg-suite.ts (docs/development.md).
module.exports = {
  'node-option': ['import=tsx'],
  extension: ['ts'],
  timeout: 60000,
  reporter: 'spec',
  exit: true,
  require: process.env.SKYHOP_TEST_ENGINE === 'postgres' ? ['test/helpers/pg-suite.ts'] : [],
}
