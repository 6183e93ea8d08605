// The AWS credential chain's network sources against the fake AWS (test/fakes): STS
// AssumeRole from a source profile, web identity, SSO with the cached token, container
// credentials and the instance role from IMDSv2. Each result is then used to sign a real
// EC2 call to the fake, which verifies it, so the chain's output is known to work.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Agent} from 'undici'

import {ProviderError} from '../../src/errors.js'
import {AwsProvider} from '../../src/providers/aws/aws-provider.js'
import {loadAwsCredentials, type AwsCredentials} from '../../src/clouds/aws/credentials.js'
import type {LoadedCredentials} from '../../src/clouds/common/credentials.js'
import {redact} from '../../src/util/redact.js'
import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {KEY} from './aws-helpers.js'

const ROLE = 'arn:aws:iam::123456789012:role/skyhop-launcher'

describe('AWS credential chain against the fake AWS (STS, SSO, container, IMDS)', function () {
  let fake: FakeEc2Server
  let agent: Agent
  let home: string
  let url: string

  before(async function () {
    fake = new FakeEc2Server({
      keys: [KEY],
      capacity: {'us-east-1': {'us-east-1a': {'m5.large': 1}}},
      assumableRoles: [ROLE],
      webIdentityToken: 'eyJ.web-identity-token.fake',
      sso: {
        accessToken: 'sso-access-token-fake-0001',
        key: {accessKeyId: 'ASIASSOFAKE000000001', secretAccessKey: 'sso-role-secret-00000001', sessionToken: 'sso-role-session-token-1'},
      },
      container: {
        authorizationToken: 'container-auth-token-01',
        key: {accessKeyId: 'ASIACONTAINER0000001', secretAccessKey: 'container-secret-000001', sessionToken: 'container-session-tok-1'},
      },
      instanceRole: {
        name: 'skyhop-node',
        key: {accessKeyId: 'ASIAINSTANCE00000001', secretAccessKey: 'instance-secret-0000001', sessionToken: 'instance-session-tok-01'},
      },
    })
    url = await fake.start()
    agent = new Agent()
  })
  after(async function () {
    await fake.stop()
    await agent.close()
  })
  beforeEach(function () {
    home = mkdtempSync(join(tmpdir(), 'skyhop-aws-remote-'))
    mkdirSync(join(home, '.aws'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  /** Signs a DescribeAvailabilityZones with the loaded credentials; the fake verifies it. */
  async function works(loaded: LoadedCredentials<AwsCredentials>): Promise<boolean> {
    const provider = new AwsProvider({
      env: {AWS_ENDPOINT_URL_EC2: url},
      dispatcher: agent,
      credentials: async () => loaded,
      regions: ['us-east-1'],
    })
    return (await provider.check()).ok
  }

  const base = () => ({AWS_ENDPOINT_URL_STS: url, AWS_ENDPOINT_URL_SSO: url, AWS_EC2_METADATA_DISABLED: 'true'})

  it('assumes a role from a source profile through STS', async function () {
    writeFileSync(
      join(home, '.aws', 'credentials'),
      `[base]\naws_access_key_id = ${KEY.accessKeyId}\naws_secret_access_key = ${KEY.secretAccessKey}\n`,
    )
    writeFileSync(
      join(home, '.aws', 'config'),
      `[profile launcher]\nrole_arn = ${ROLE}\nsource_profile = base\nrole_session_name = skyhop-test\nregion = us-east-1\n`,
    )
    const loaded = await loadAwsCredentials({homeDir: home, profile: 'launcher', env: base(), dispatcher: agent})
    expect(loaded.source).to.equal(`profile launcher (role ${ROLE} via source profile base)`)
    expect(loaded.credentials.accessKeyId).to.match(/^ASIA/)
    expect(loaded.credentials.sessionToken).to.be.a('string')
    expect(loaded.expiresAt).to.match(/^\d{4}-/)
    expect(redact(loaded.credentials.secretAccessKey)).to.equal('***')
    expect(await works(loaded)).to.equal(true)
    const call = fake.calls.find((c) => c.action === 'AssumeRole')!
    expect(call.params.RoleSessionName).to.equal('skyhop-test')
  })

  it('reports an STS refusal as an auth error of the profile', async function () {
    writeFileSync(
      join(home, '.aws', 'credentials'),
      `[base]\naws_access_key_id = ${KEY.accessKeyId}\naws_secret_access_key = ${KEY.secretAccessKey}\n`,
    )
    writeFileSync(
      join(home, '.aws', 'config'),
      `[profile other]\nrole_arn = arn:aws:iam::123456789012:role/not-allowed\nsource_profile = base\n`,
    )
    const error = (await loadAwsCredentials({homeDir: home, profile: 'other', env: base(), dispatcher: agent}).catch(
      (e: unknown) => e,
    )) as ProviderError
    expect(error).to.be.instanceOf(ProviderError)
    expect(error).to.include({category: 'auth', backendCode: 'AccessDenied'})
    expect(error.message).to.match(/^aws: profile other: STS refused/)
  })

  it('uses a web identity token file (EKS)', async function () {
    const tokenFile = join(home, 'token')
    writeFileSync(tokenFile, 'eyJ.web-identity-token.fake\n')
    const loaded = await loadAwsCredentials({
      homeDir: home,
      env: {...base(), AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: ROLE},
      dispatcher: agent,
    })
    expect(loaded.source).to.equal(`web identity (AWS_WEB_IDENTITY_TOKEN_FILE, role ${ROLE})`)
    expect(await works(loaded)).to.equal(true)
  })

  it('uses the SSO token `aws sso login` cached, and asks for a login once it expired', async function () {
    writeFileSync(
      join(home, '.aws', 'config'),
      '[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n',
    )
    const cacheDir = join(home, '.aws', 'sso', 'cache')
    mkdirSync(cacheDir, {recursive: true})
    const cacheFile = join(cacheDir, `${createHash('sha1').update('corp').digest('hex')}.json`)
    writeFileSync(
      cacheFile,
      JSON.stringify({accessToken: 'sso-access-token-fake-0001', expiresAt: new Date(Date.now() + 3600_000).toISOString()}),
    )
    const loaded = await loadAwsCredentials({homeDir: home, profile: 'sso', env: base(), dispatcher: agent})
    expect(loaded.source).to.equal('profile sso (SSO, account 123456789012, role Dev)')
    expect(await works(loaded)).to.equal(true)

    writeFileSync(
      cacheFile,
      JSON.stringify({accessToken: 'sso-access-token-fake-0001', expiresAt: new Date(Date.now() - 1000).toISOString()}),
    )
    const error = (await loadAwsCredentials({homeDir: home, profile: 'sso', env: base(), dispatcher: agent}).catch(
      (e: unknown) => e,
    )) as ProviderError
    expect(error.code).to.equal('PROVIDER_SSO_LOGIN')
    expect(error.message).not.to.include('sso-access-token-fake-0001')
  })

  it('uses container credentials, then the instance role from IMDSv2, in chain order', async function () {
    const env = {
      ...base(),
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${url}_container/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: 'container-auth-token-01',
    }
    const container = await loadAwsCredentials({homeDir: home, env, dispatcher: agent})
    expect(container.source).to.equal('container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)')
    expect(await works(container)).to.equal(true)

    const imdsEnv = {AWS_EC2_METADATA_SERVICE_ENDPOINT: url}
    const instance = await loadAwsCredentials({homeDir: home, env: imdsEnv, dispatcher: agent})
    expect(instance.source).to.equal('instance role skyhop-node (IMDSv2)')
    expect(instance.credentials.sessionToken).to.equal('instance-session-tok-01')
    expect(await works(instance)).to.equal(true)
  })

  it('gives up quickly when no metadata service answers', async function () {
    const started = Date.now()
    // A port nothing listens on: connection refused, as off EC2.
    const error = (await loadAwsCredentials({
      homeDir: home,
      env: {AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:9'},
      dispatcher: agent,
      imdsTimeoutMs: 500,
    }).catch((e: unknown) => e)) as ProviderError
    expect(error.code).to.equal('PROVIDER_NO_CREDENTIALS')
    expect(error.message).to.include('instance metadata')
    expect(Date.now() - started).to.be.below(2000)
  })
})
