// recover says which jobs and sweeps it gives a controller that cannot see their secrets (the
// controller inherits recover's environment): by name, never a value.
import {expect} from 'chai'
import {rmSync} from 'node:fs'

import {recoverJobs} from '../../../src/services/recover.js'
import type {Store} from '../../../src/state/store.js'
import {describeEngines} from '../../helpers/engines.js'
import {testJobSpec} from '../../helpers/job-spec.js'

describeEngines('recover: controllers without the secrets', (engine) => {
  let home: string
  let store: Store
  beforeEach(() => {
    home = engine.home()
    store = engine.open(home)
  })
  afterEach(() => {
    store.close()
    rmSync(home, {recursive: true, force: true})
  })

  it('names, per job and per sweep, the secrets this environment lacks; a job without secrets, or with them set, is not named', async () => {
    const secretive = testJobSpec({name: 'secretive', run: 'true', secrets: ['HF_TOKEN', 'WANDB_API_KEY']})
    const a = store.createJob({name: 'a', file: null, spec: secretive, options: {}})
    const b = store.createJob({name: 'b', file: null, spec: testJobSpec({name: 'b', run: 'true'}), options: {}})
    const {sweep} = store.createSweep({name: 'grid', file: null, spec: secretive, budgetUsd: null, options: {}, plan: null}, [
      {name: 'grid-1', file: null, spec: secretive, options: {}, matrix: {lr: 1}},
    ])
    const spawned: string[] = []
    const env = {HF_TOKEN: 'hf_value_never_shown_0001'}
    const result = await recoverJobs({store, providers: new Map(), home, spawn: (_h, id) => spawned.push(id), env})
    expect(spawned).to.have.members([a.id, b.id, sweep.id])
    expect(result.secretsMissing).to.deep.equal([
      {sweepId: sweep.id, secrets: ['WANDB_API_KEY']},
      {jobId: a.id, secrets: ['WANDB_API_KEY']},
    ])
    expect(JSON.stringify(result)).not.to.include('hf_value_never_shown_0001')
    const all = await recoverJobs({store, providers: new Map(), home, spawn: () => undefined, env: {...env, WANDB_API_KEY: 'w'}})
    expect(all.secretsMissing).to.deep.equal([])
  })
})
