// The dashboard's pure rules: which addresses are loopback, where the token comes from and
// when there must be one, and the constant-time comparison. The server and page are tested
// through the built CLI (test/commands/dashboard.test.ts) and a browser
// (test/integration/dashboard-browser.test.ts).
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {sameSecret} from '../../../src/services/dashboard-server.js'
import {MIN_TOKEN_LENGTH, isLoopback, readUserTokens, resolveDashboardToken, userOfToken} from '../../../src/services/dashboard.js'
import {UsageError} from '../../../src/errors.js'

describe('dashboard rules', () => {
  it('counts 127/8, ::1 and localhost as loopback, and nothing else', () => {
    for (const h of ['127.0.0.1', '127.3.2.1', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1'])
      expect(isLoopback(h), h).to.equal(true)
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', 'localhost.example.com', '', '1.127.0.0'])
      expect(isLoopback(h), h).to.equal(false)
  })

  describe('the token', () => {
    let dir: string
    before(() => (dir = mkdtempSync(join(tmpdir(), 'skyhop-dash-token-'))))
    after(() => rmSync(dir, {recursive: true, force: true}))

    const codeOf = (f: () => unknown): string => {
      try {
        f()
      } catch (error) {
        expect(error).to.be.instanceOf(UsageError)
        return (error as UsageError).code
      }
      throw new Error('no error')
    }

    it('none on loopback; generated off it when it can be shown, refused when it cannot', () => {
      expect(resolveDashboardToken({host: '127.0.0.1', canShowToken: false})).to.deep.equal({source: 'none', value: null})
      const a = resolveDashboardToken({host: '0.0.0.0', canShowToken: true})
      const b = resolveDashboardToken({host: '0.0.0.0', canShowToken: true})
      expect(a.source).to.equal('generated')
      expect(a.value!.length).to.be.at.least(MIN_TOKEN_LENGTH)
      expect(a.value).not.to.equal(b.value)
      expect(codeOf(() => resolveDashboardToken({host: '192.168.1.5', canShowToken: false}))).to.equal('TOKEN_REQUIRED')
    })

    it('from a file, trimmed, on any host; a missing, empty, short or two-word file is refused without quoting it', () => {
      const good = join(dir, 'good')
      writeFileSync(good, `  ${'k'.repeat(MIN_TOKEN_LENGTH)}\n`)
      expect(resolveDashboardToken({host: '127.0.0.1', tokenFile: good, canShowToken: false})).to.deep.equal({
        source: 'file',
        value: 'k'.repeat(MIN_TOKEN_LENGTH),
      })
      expect(codeOf(() => resolveDashboardToken({host: '0.0.0.0', tokenFile: join(dir, 'absent'), canShowToken: true}))).to.equal(
        'TOKEN_FILE_UNREADABLE',
      )
      for (const [name, text] of [
        ['empty', '\n'],
        ['short', 'secret-but-short'],
        ['two', `${'a'.repeat(20)} ${'b'.repeat(20)}`],
      ]) {
        const f = join(dir, name)
        writeFileSync(f, text)
        try {
          resolveDashboardToken({host: '0.0.0.0', tokenFile: f, canShowToken: true})
          expect.fail(`${name} was accepted`)
        } catch (error) {
          expect((error as UsageError).code).to.equal('TOKEN_FILE_INVALID')
          expect((error as Error).message).to.include(f)
          if (text.trim()) expect((error as Error).message).not.to.include(text.trim().slice(0, 10))
        }
      }
    })
  })

  describe('per-user tokens (--tokens)', () => {
    let dir: string
    before(() => (dir = mkdtempSync(join(tmpdir(), 'skyhop-dash-tokens-'))))
    after(() => rmSync(dir, {recursive: true, force: true}))
    const sha = (token: string) => createHash('sha256').update(token).digest('hex')
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text)
      return join(dir, name)
    }

    it("reads USER: SHA256 lines (comments, blanks, sha256: prefix) and finds a token's user; another token is no one", () => {
      const f = file('ok', `# the team\nalice: ${sha('alice-token')}\n\n  bob :  sha256:${sha('bob-token').toUpperCase()}  # bob\n`)
      const users = readUserTokens(f)
      expect(users.map((u) => u.user)).to.deep.equal(['alice', 'bob'])
      expect(userOfToken(users, 'alice-token')).to.equal('alice')
      expect(userOfToken(users, 'bob-token')).to.equal('bob')
      expect(userOfToken(users, 'bob-token ')).to.equal(undefined)
      expect(userOfToken(users, sha('alice-token')), 'the hash itself is not a token').to.equal(undefined)
      const resolved = resolveDashboardToken({host: '0.0.0.0', tokensFile: f, canShowToken: false})
      expect(resolved.source).to.equal('users')
      expect(resolved.value).to.equal(null)
    })

    it('refuses a bad line with where it is, never quoting a hash', () => {
      const h = sha('x')
      for (const [name, text, why] of [
        ['no-colon', `alice ${h}\n`, ':1: is not `USER: SHA256`'],
        ['short', `alice: ${h.slice(0, 60)}\n`, ":1: the hash of alice's token is not 64 hexadecimal digits"],
        ['twice', `alice: ${h}\n# again\nalice: ${sha('y')}\n`, ':3: alice has a second line'],
        ['shared', `alice: ${h}\nbob: ${h}\n`, ":2: bob's token is another user's too"],
        ['empty', '# nobody\n', ':1: names no user'],
      ]) {
        try {
          readUserTokens(file(name, text))
          expect.fail(`${name} was accepted`)
        } catch (error) {
          expect((error as UsageError).code, name).to.equal('TOKEN_FILE_INVALID')
          expect((error as Error).message, name).to.include(`--tokens ${join(dir, name)}${why}`)
          expect((error as Error).message, name).not.to.include(h.slice(0, 16))
        }
      }
      try {
        readUserTokens(join(dir, 'absent'))
        expect.fail('accepted')
      } catch (error) {
        expect((error as UsageError).code).to.equal('TOKEN_FILE_UNREADABLE')
      }
    })
  })

  it('compares secrets whatever their lengths', () => {
    expect(sameSecret('abc', 'abc')).to.equal(true)
    expect(sameSecret('abc', 'abd')).to.equal(false)
    expect(sameSecret('abc', 'abcd')).to.equal(false)
    expect(sameSecret('', 'x')).to.equal(false)
  })
})
