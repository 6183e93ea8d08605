// The runner a VM gets in its user data has its comment lines dropped (shippedRunner).
// Bash must read it exactly as it reads the installed script: the whole runner is one
// compound command, so defining it as a function body and printing that function back
// (`declare -f`, bash's own canonical form, comments gone) compares what bash parsed.
import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'

import {runnerScriptPath} from '../../../src/providers/attempt-dir.js'
import {runnerSections, shippedRunner} from '../../../src/providers/vm/boot-script.js'

/** bash's canonical text of the script's top-level compound command. */
function parsed(script: string): string {
  const body = script.slice(script.indexOf('\n{\n') + 1)
  const r = spawnSync('bash', ['-c', 'eval "sr_runner() $1" && declare -f sr_runner', 'bash', body], {encoding: 'utf8'})
  expect(r.status, r.stderr).to.equal(0)
  return r.stdout
}

describe('shippedRunner', () => {
  const installed = readFileSync(runnerScriptPath(), 'utf8')

  it('is the same program to bash as the installed runner', () => {
    const shipped = shippedRunner(installed)
    expect(parsed(shipped)).to.equal(parsed(installed))
    expect(parsed(installed).length).to.be.greaterThan(10_000)
  })

  it('keeps the shebang and drops comment lines, blank lines and leading blanks', () => {
    const shipped = shippedRunner(installed)
    expect(shipped.split('\n')[0]).to.equal('#!/usr/bin/env bash')
    expect(
      shipped
        .split('\n')
        .slice(1)
        .some((l) => /^\s*#/.test(l) || l.trim() === '' || /^\s/.test(l)),
    ).to.equal(false)
    expect(shipped.length).to.be.lessThan(installed.length * 0.8)
  })

  it("drops the sections a VM does not use: other clouds' notice pollers and the container's", () => {
    const sections = runnerSections(['aws=http://127.0.0.1:9'], false)
    expect([...sections]).to.deep.equal(['notice-aws'])
    const shipped = shippedRunner(installed, sections)
    expect(shipped).to.include('sr_poll_aws() {')
    expect(shipped).to.include('sr_poll_gang() {')
    expect(shipped).to.include('sr_ctr_kill() {') // called on every stop, container or not
    for (const gone of [
      'sr_poll_gcp() {',
      'sr_poll_azure() {',
      'sr_poll_aliyun() {',
      'sr_poll_tencentcloud() {',
      'sr_ctr_entry=',
      'sr_ctr_command() {',
      // The sampler's lines could not leave a VM that does not ship them.
      'sr_usage_sampler() {',
    ]) {
      expect(shipped, gone).not.to.include(gone)
    }
    expect(shippedRunner(installed, runnerSections(['gcp'], true))).to.include('sr_ctr_command() {')
    expect(shippedRunner(installed, runnerSections(['aws'], false, true))).to.include('sr_usage_sampler() {')
    expect(shipped).to.include('declare -F sr_usage_sampler') // sr_usage_start does without it
    // What is kept is still one program to bash, and every marker pairs with an end.
    const body = shipped.slice(shipped.indexOf('\n{\n') + 1)
    expect(spawnSync('bash', ['-n', '-c', body]).status).to.equal(0)
    const starts = installed.split('\n').filter((l) => l.startsWith('# ship-section ')).length
    const ends = installed.split('\n').filter((l) => l.startsWith('# ship-section-end')).length
    expect(starts).to.equal(ends).and.to.be.greaterThan(5)
  })
})
