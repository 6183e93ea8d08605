// The AWS credential chain against real files in a temporary home directory: order,
// profiles in both files, `[profile x]`, credential_process, errors, and redaction.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ProviderError} from '../../src/errors.js'
import {loadAwsCredentials} from '../../src/clouds/aws/credentials.js'
import {redact} from '../../src/util/redact.js'

describe('AWS credential chain (files and environment)', function () {
  let home: string
  beforeEach(function () {
    home = mkdtempSync(join(tmpdir(), 'skyhop-aws-cred-'))
    mkdirSync(join(home, '.aws'))
  })
  afterEach(function () {
    rmSync(home, {recursive: true, force: true})
  })
  const write = (name: string, text: string) => writeFileSync(join(home, '.aws', name), text)
  // Never reach a real metadata service from a test.
  const base = {AWS_EC2_METADATA_DISABLED: 'true'}

  it('takes the environment first and names it as the source', async function () {
    write('credentials', '[default]\naws_access_key_id = AKIAFILEKEY000000001\naws_secret_access_key = file-secret-0000000001\n')
    const got = await loadAwsCredentials({
      homeDir: home,
      env: {
        ...base,
        AWS_ACCESS_KEY_ID: 'AKIAENVKEY0000000001',
        AWS_SECRET_ACCESS_KEY: 'env-secret-0000000001',
        AWS_SESSION_TOKEN: 'env-token-000001',
      },
    })
    expect(got.credentials).to.deep.equal({
      accessKeyId: 'AKIAENVKEY0000000001',
      secretAccessKey: 'env-secret-0000000001',
      sessionToken: 'env-token-000001',
    })
    expect(got.source).to.equal('environment (AWS_ACCESS_KEY_ID)')
    expect(redact('x env-secret-0000000001 y env-token-000001')).to.equal('x *** y ***')
  })

  it('reads the default profile, with the credentials file winning over config', async function () {
    write(
      'config',
      '[default]\nregion = eu-west-1\naws_access_key_id = AKIACONFIGKEY0000001\naws_secret_access_key = config-secret-000001\n',
    )
    write('credentials', '# comment\n[default]\naws_access_key_id = AKIAFILEKEY000000001\naws_secret_access_key = file-secret-0000000001\n')
    const got = await loadAwsCredentials({homeDir: home, env: base})
    expect(got.credentials.accessKeyId).to.equal('AKIAFILEKEY000000001')
    expect(got.source).to.equal('profile default (~/.aws/credentials)')
    expect(got.source).not.to.include('secret')
  })

  it('reads `[profile x]` from config under AWS_PROFILE, and AWS_PROFILE does not override the environment keys', async function () {
    write('config', '[profile dev]\naws_access_key_id = AKIADEVKEY0000000001\naws_secret_access_key = dev-secret-000000001\n')
    const dev = await loadAwsCredentials({homeDir: home, env: {...base, AWS_PROFILE: 'dev'}})
    expect(dev.credentials.accessKeyId).to.equal('AKIADEVKEY0000000001')
    expect(dev.source).to.equal('profile dev (~/.aws/config)')
    const envWins = await loadAwsCredentials({
      homeDir: home,
      env: {...base, AWS_PROFILE: 'dev', AWS_ACCESS_KEY_ID: 'AKIAENVKEY0000000001', AWS_SECRET_ACCESS_KEY: 'env-secret-0000000001'},
    })
    expect(envWins.source).to.equal('environment (AWS_ACCESS_KEY_ID)')
    const explicit = await loadAwsCredentials({
      homeDir: home,
      profile: 'dev',
      env: {...base, AWS_ACCESS_KEY_ID: 'AKIAENVKEY0000000001', AWS_SECRET_ACCESS_KEY: 'env-secret-0000000001'},
    })
    expect(explicit.source).to.equal('profile dev (~/.aws/config)')
  })

  it('honours AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE', async function () {
    const other = join(home, 'elsewhere')
    writeFileSync(other, '[ci]\naws_access_key_id = AKIACIKEY00000000001\naws_secret_access_key = ci-secret-0000000001\n')
    const got = await loadAwsCredentials({
      homeDir: home,
      env: {...base, AWS_SHARED_CREDENTIALS_FILE: other, AWS_CONFIG_FILE: join(home, 'none'), AWS_PROFILE: 'ci'},
    })
    expect(got.credentials.accessKeyId).to.equal('AKIACIKEY00000000001')
  })

  it('runs credential_process and keeps its secret out of messages', async function () {
    const script = join(home, 'cred.sh')
    writeFileSync(
      script,
      `#!/bin/sh\necho '{"Version":1,"AccessKeyId":"AKIAPROCKEY000000001","SecretAccessKey":"proc-secret-00000001","SessionToken":"proc-token-0001","Expiration":"2999-01-01T00:00:00Z"}'\n`,
      {mode: 0o755},
    )
    write('config', `[profile proc]\ncredential_process = ${script}\n`)
    const got = await loadAwsCredentials({homeDir: home, env: {...base, AWS_PROFILE: 'proc'}})
    expect(got.credentials).to.include({
      accessKeyId: 'AKIAPROCKEY000000001',
      secretAccessKey: 'proc-secret-00000001',
      sessionToken: 'proc-token-0001',
    })
    expect(got.expiresAt).to.equal('2999-01-01T00:00:00Z')
    expect(got.source).to.equal('profile proc (credential_process)')
    expect(redact('proc-secret-00000001')).to.equal('***')
  })

  it('fails clearly for a named profile that does not exist, and never falls through', async function () {
    write('credentials', '[default]\naws_access_key_id = AKIAFILEKEY000000001\naws_secret_access_key = file-secret-0000000001\n')
    const error = await loadAwsCredentials({homeDir: home, env: {...base, AWS_PROFILE: 'nope'}}).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(ProviderError)
    expect((error as ProviderError).category).to.equal('auth')
    expect((error as ProviderError).message).to.match(/profile nope.*not found/)
  })

  it('reports everything it looked at when nothing is found, and a half-set environment', async function () {
    const error = (await loadAwsCredentials({homeDir: home, env: {...base, AWS_ACCESS_KEY_ID: 'AKIAHALF000000000001'}}).catch(
      (e: unknown) => e,
    )) as ProviderError
    expect(error).to.be.instanceOf(ProviderError)
    expect(error.code).to.equal('PROVIDER_NO_CREDENTIALS')
    expect(error.scope).to.equal('provider')
    expect(error.message).to.include('AWS_SECRET_ACCESS_KEY is not')
    expect(error.message).to.include('instance metadata (disabled)')
    expect(error.hint).to.include('aws configure')
  })

  it('refuses profiles it cannot serve with a reason', async function () {
    write(
      'config',
      '[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = default\nmfa_serial = arn:aws:iam::123456789012:mfa/u\n[profile half]\naws_access_key_id = AKIAHALF000000000001\n[profile loop-a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = loop-b\n[profile loop-b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = loop-a\n',
    )
    for (const [profile, pattern] of [
      ['mfa', /mfa_serial/],
      ['half', /only one of/],
      ['loop-a', /cycle/],
    ] as const) {
      const error = (await loadAwsCredentials({homeDir: home, profile, env: base}).catch((e: unknown) => e)) as ProviderError
      expect(error, profile).to.be.instanceOf(ProviderError)
      expect(error.message, profile).to.match(pattern)
    }
  })

  it('tells the user to log in when the SSO token is missing or expired', async function () {
    write(
      'config',
      '[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n',
    )
    const error = (await loadAwsCredentials({homeDir: home, profile: 'sso', env: base}).catch((e: unknown) => e)) as ProviderError
    expect(error.code).to.equal('PROVIDER_SSO_LOGIN')
    expect(error.message).to.include('aws sso login --profile sso')
  })
})
