// A complete JobSpec for tests that exercise a provider or the controller rather than the
// job file: no accelerators, prices or placement limits, on-demand or spot as the planner
// likes, three restarts with a 10 s grace. A test overrides what it is about; `resources`
// and `recovery` merge field by field.
import type {JobSpec} from '../../src/model/job-spec.js'

export type JobSpecFields = Omit<Partial<JobSpec>, 'resources' | 'recovery'> & {
  run: string
  resources?: Partial<JobSpec['resources']>
  recovery?: Partial<JobSpec['recovery']>
}

export function testJobSpec(fields: JobSpecFields): JobSpec {
  const {resources, recovery, ...rest} = fields
  return {
    name: 'test-job',
    spot: 'auto',
    work: null,
    throughput: null,
    deadline: null,
    budget: null,
    maxPrice: null,
    placement: {providers: {allow: null, deny: []}, regions: {allow: null, deny: []}},
    data: [],
    image: null,
    envs: {},
    secrets: [],
    setup: null,
    workdir: null,
    checkpoint: {dir: null, intervalSeconds: null, store: null},
    idleTimeoutSeconds: 600,
    objective: 'cost',
    matrix: null,
    nodes: 1,
    ...rest,
    resources: {accelerators: [], acceleratorOrder: 'any', runtimes: null, cpus: null, memoryGB: null, diskGB: null, ...resources},
    recovery: {
      strategy: 'eager-next-region',
      maxRestarts: 3,
      restartOnExitCodes: [],
      maxRestartsOnErrors: 0,
      graceSeconds: 10,
      signal: 'SIGTERM',
      ...recovery,
    },
  }
}
