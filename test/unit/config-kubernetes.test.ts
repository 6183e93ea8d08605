// providers.kubernetes in the config file: defaults, every key, and bad values refused at
// their field with file:line:col (exit 3).
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadConfig} from '../../src/config.js'
import {InvalidFileError} from '../../src/errors.js'

describe('config: providers.kubernetes', () => {
  let home: string
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-config-k8s-'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  it('defaults: enabled when a kubeconfig is found, every context, free, a 10 s scheduling wait', () => {
    expect(loadConfig(home).providers.kubernetes).to.deep.equal({
      enabled: null,
      contexts: null,
      namespace: null,
      image: null,
      pricePerHourUsd: {},
      scheduleWaitSeconds: 10,
      localQueues: {},
    })
  })

  it('reads every key', () => {
    writeFileSync(
      join(home, 'config.yaml'),
      'providers:\n  kubernetes:\n    enabled: true\n    contexts: [lab]\n    namespace: ml\n    image: busybox:1\n    price_per_hour: {lab: 1.25}\n    schedule_wait: 2m\n    local_queues: {lab: team-a}\n',
    )
    expect(loadConfig(home).providers.kubernetes).to.deep.equal({
      enabled: true,
      contexts: ['lab'],
      namespace: 'ml',
      image: 'busybox:1',
      pricePerHourUsd: {lab: 1.25},
      scheduleWaitSeconds: 120,
      localQueues: {lab: 'team-a'},
    })
  })

  it('refuses bad values at their field', () => {
    writeFileSync(join(home, 'config.yaml'), 'providers:\n  kubernetes:\n    schedule_wait: soon\n')
    expect(() => loadConfig(home)).to.throw(InvalidFileError, /\/providers\/kubernetes\/schedule_wait/)
    writeFileSync(join(home, 'config.yaml'), 'providers:\n  kubernetes:\n    namespace: Not_A_Namespace\n')
    expect(() => loadConfig(home)).to.throw(InvalidFileError, /config\.yaml:3:\d+: \/providers\/kubernetes\/namespace/)
    writeFileSync(join(home, 'config.yaml'), 'providers:\n  kubernetes:\n    price_per_hour: {lab: -1}\n')
    expect(() => loadConfig(home)).to.throw(InvalidFileError, /price_per_hour\/lab/)
    writeFileSync(join(home, 'config.yaml'), 'providers:\n  kubernetes:\n    contexs: [lab]\n')
    expect(() => loadConfig(home)).to.throw(InvalidFileError, /contexs.*did you mean "contexts"/)
  })
})
