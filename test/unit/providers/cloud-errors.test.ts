// Pins how each VM cloud's API errors become skyhop's taxonomy (category, scope, hint),
// which are retried, and what the resulting ProviderError carries, so the four adapters'
// error modules can share their machinery without any cloud's answers changing.
import {expect} from 'chai'

import {HttpTransportError, ProviderError} from '../../../src/errors.js'
import {AliyunApiError, isRetryableAliyunError, toAliyunProviderError} from '../../../src/clouds/aliyun/ecs-errors.js'
import {isRetryableEc2Error, toProviderError as toEc2ProviderError} from '../../../src/clouds/aws/ec2-errors.js'
import {AwsApiError} from '../../../src/clouds/aws/query-client.js'
import {HuaweiApiError, isRetryableHuaweiError, toHuaweiProviderError} from '../../../src/clouds/huaweicloud/ecs-errors.js'
import {isRetryableTencentError, TencentApiError, toTencentProviderError} from '../../../src/clouds/tencentcloud/cvm-errors.js'
import {registerSecret} from '../../../src/util/redact.js'

type Expected = [category: string, scope: string, hint?: string]
type Row = [code: string, status: number, expected: Expected]

interface Cloud {
  provider: string
  apiError: (status: number, code: string, message: string, requestId: string | null) => Error
  toProviderError: (error: unknown, ctx: {action: string; region: string; zone?: string | null; instanceType?: string}) => unknown
  isRetryable: (error: unknown) => boolean
}

const CLOUDS: Record<string, Cloud> = {
  aws: {provider: 'aws', apiError: (...a) => new AwsApiError(...a), toProviderError: toEc2ProviderError, isRetryable: isRetryableEc2Error},
  aliyun: {
    provider: 'aliyun',
    apiError: (...a) => new AliyunApiError(...a),
    toProviderError: toAliyunProviderError,
    isRetryable: isRetryableAliyunError,
  },
  tencent: {
    provider: 'tencentcloud',
    apiError: (...a) => new TencentApiError(...a),
    toProviderError: toTencentProviderError,
    isRetryable: isRetryableTencentError,
  },
  huawei: {
    provider: 'huaweicloud',
    apiError: (...a) => new HuaweiApiError(...a),
    // Huawei names the instance type a flavor; the error carries it as instanceType all the same.
    toProviderError: (error, ctx) =>
      toHuaweiProviderError(error, {action: ctx.action, region: ctx.region, zone: ctx.zone, flavor: ctx.instanceType}),
    isRetryable: isRetryableHuaweiError,
  },
}

// Every exact code of each table, a sample of each prefix rule, and the edges between the
// rules and the 5xx fallback, as the adapters classified them before they shared code.
const TABLES: Record<string, Row[]> = {
  aws: [
    ['InsufficientInstanceCapacity', 400, ['capacity', 'zone']],
    ['InsufficientHostCapacity', 400, ['capacity', 'zone']],
    ['Unsupported', 400, ['capacity', 'zone', 'this instance type is not offered in this zone']],
    ['SpotMaxPriceTooLow', 400, ['capacity', 'offer', 'the spot price is above the job’s max price']],
    ['MaxSpotInstanceCountExceeded', 400, ['quota', 'region', 'request a higher spot quota in the Service Quotas console']],
    ['VcpuLimitExceeded', 400, ['quota', 'region', 'request a higher vCPU quota for this instance family in the Service Quotas console']],
    ['InstanceLimitExceeded', 400, ['quota', 'region', 'request a higher instance quota in the Service Quotas console']],
    ['AuthFailure', 400, ['auth', 'provider', 'check the AWS credentials (`skyhop check`)']],
    ['UnauthorizedOperation', 400, ['auth', 'provider', 'the credentials lack an EC2 permission skyhop needs']],
    ['OptInRequired', 400, ['auth', 'provider', 'the account is not subscribed to this service or region']],
    ['SignatureDoesNotMatch', 400, ['auth', 'provider', 'check the secret access key']],
    ['IncompleteSignature', 400, ['auth', 'provider']],
    ['InvalidClientTokenId', 400, ['auth', 'provider', 'the access key id is not known to AWS']],
    ['MissingAuthenticationToken', 400, ['auth', 'provider']],
    ['ExpiredToken', 400, ['auth', 'provider', 'the session token has expired; refresh the credentials']],
    ['RequestExpired', 400, ['auth', 'provider', 'this machine’s clock is off by more than five minutes']],
    ['RequestLimitExceeded', 400, ['transient', 'none']],
    ['InvalidAMIID.NotFound', 400, ['unavailable', 'region', 'AMI ids are regional; give an image that exists in this region']],
    ['InvalidAMIID.Malformed', 400, ['unavailable', 'region']],
    ['InvalidAMIID.Unavailable', 400, ['unavailable', 'region']],
    ['RequestLimitExceeded', 503, ['transient', 'none']],
    ['InsufficientInstanceCapacity', 500, ['capacity', 'zone']],
    ['Throttling', 400, ['transient', 'none']],
    ['InvalidParameterValue', 400, ['unavailable', 'offer']],
    ['InternalError', 500, ['transient', 'none']],
    ['Unavailable', 503, ['transient', 'none']],
    ['InvalidAMIID.Other', 400, ['unavailable', 'offer']],
  ],
  aliyun: [
    ['OperationDenied.NoStock', 403, ['capacity', 'zone']],
    ['Zone.NotOnSale', 400, ['capacity', 'zone']],
    ['Zone.NotOpen', 400, ['capacity', 'zone']],
    ['InvalidZoneId.NotFound', 400, ['capacity', 'zone']],
    ['InvalidInstanceType.ZoneNotSupported', 400, ['capacity', 'zone']],
    ['InvalidInstanceType.NotSupported', 400, ['capacity', 'zone']],
    ['InvalidResourceType.NotSupported', 400, ['capacity', 'zone']],
    ['ResourceNotAvailable', 400, ['capacity', 'zone']],
    ['InvalidSpotPriceLimit.LowerThanPublicPrice', 400, ['capacity', 'offer', 'the spot price is above the job’s max price']],
    ['SignatureDoesNotMatch', 400, ['auth', 'provider', 'check ALIBABA_CLOUD_ACCESS_KEY_SECRET']],
    ['IncompleteSignature', 400, ['auth', 'provider']],
    ['InvalidSecurityToken.Expired', 400, ['auth', 'provider', 'the STS token has expired']],
    ['InvalidSecurityToken.Malformed', 400, ['auth', 'provider']],
    ['InvalidAccount.NotEnoughBalance', 400, ['auth', 'provider', 'the account balance cannot pay for pay-as-you-go instances']],
    ['Account.Arrearage', 400, ['auth', 'provider', 'the account is in arrears']],
    ['InvalidImageId.NotFound', 400, ['unavailable', 'region', 'images are regional; give an image that exists in this region']],
    ['QuotaExceed.ElasticQuota', 403, ['quota', 'region', 'raise the quota in the ECS console (Quota Center)']],
    ['QuotaExceed', 500, ['quota', 'region', 'raise the quota in the ECS console (Quota Center)']],
    ['InvalidAccessKeyId.NotFound', 404, ['auth', 'provider', 'check ALIBABA_CLOUD_ACCESS_KEY_ID (`skyhop check`)']],
    ['InvalidAccessKeyId.Inactive', 403, ['auth', 'provider', 'check ALIBABA_CLOUD_ACCESS_KEY_ID (`skyhop check`)']],
    ['Forbidden.RAM', 403, ['auth', 'provider', 'the RAM user lacks an ECS permission skyhop needs']],
    ['Forbidden', 500, ['auth', 'provider', 'the RAM user lacks an ECS permission skyhop needs']],
    ['Throttling', 400, ['transient', 'none']],
    ['Throttling.User', 400, ['transient', 'none']],
    ['ServiceUnavailable', 503, ['transient', 'none']],
    ['ServiceUnavailable', 400, ['transient', 'none']],
    ['InternalError', 400, ['transient', 'none']],
    ['InternalError', 500, ['transient', 'none']],
    ['MalformedResponse', 200, ['unavailable', 'offer']],
    ['MalformedResponse', 502, ['transient', 'none']],
    ['InvalidParameter', 400, ['unavailable', 'offer']],
    ['OperationDenied.NoStock', 500, ['capacity', 'zone']],
    ['InvalidImageId.NotFound', 500, ['unavailable', 'region', 'images are regional; give an image that exists in this region']],
    ['InvalidImageId.Other', 400, ['unavailable', 'offer']],
  ],
  tencent: [
    ['ResourceUnavailable.InstanceType', 200, ['capacity', 'zone']],
    ['ResourceNotFound.InvalidZoneInstanceType', 200, ['capacity', 'zone', 'this instance type is not sold in this zone']],
    ['InvalidParameterValue.ZoneNotSupported', 200, ['capacity', 'zone']],
    ['InvalidParameterValue.InsufficientOffering', 200, ['capacity', 'zone']],
    ['LimitExceeded.SpotQuota', 200, ['capacity', 'zone']],
    ['InvalidParameterValue.InsufficientPrice', 200, ['capacity', 'offer', 'the spot price is above the job’s max price']],
    ['InstancesQuotaLimitExceeded', 200, ['quota', 'region', 'raise the CVM quota in the console']],
    ['AuthFailure.SignatureFailure', 200, ['auth', 'provider', 'check TENCENTCLOUD_SECRET_KEY (`skyhop check`)']],
    ['AuthFailure.SecretIdNotFound', 200, ['auth', 'provider', 'check TENCENTCLOUD_SECRET_ID (`skyhop check`)']],
    ['AuthFailure.SignatureExpire', 200, ['auth', 'provider', 'this machine’s clock is off by more than five minutes']],
    ['AuthFailure.TokenFailure', 200, ['auth', 'provider', 'the session token is invalid or has expired']],
    ['AuthFailure.UnauthorizedOperation', 200, ['auth', 'provider', 'the CAM user lacks a CVM permission skyhop needs']],
    ['InvalidAccount.InsufficientBalance', 200, ['auth', 'provider', 'the account balance cannot pay for pay-as-you-go instances']],
    ['InvalidAccount.UnpaidOrder', 200, ['auth', 'provider', 'the account has unpaid orders']],
    ['ResourceInsufficient.SpecifiedInstanceType', 200, ['capacity', 'zone']],
    ['ResourcesSoldOut.EipInsufficient', 200, ['capacity', 'zone']],
    ['LimitExceeded.InstanceQuota', 200, ['quota', 'region', 'raise the quota in the CVM console']],
    ['LimitExceeded', 500, ['quota', 'region', 'raise the quota in the CVM console']],
    ['AuthFailure.InvalidSecretId', 200, ['auth', 'provider', 'check the Tencent Cloud credentials (`skyhop check`)']],
    ['UnauthorizedOperation', 200, ['auth', 'provider', 'the CAM user lacks a permission skyhop needs']],
    ['UnauthorizedOperation.CamNoAuth', 200, ['auth', 'provider', 'the CAM user lacks a permission skyhop needs']],
    ['RequestLimitExceeded', 200, ['transient', 'none']],
    ['RequestLimitExceeded.UinLimitExceeded', 200, ['transient', 'none']],
    ['InternalError', 200, ['transient', 'none']],
    ['InternalError.Unknown', 200, ['transient', 'none']],
    ['InternalServerError', 200, ['transient', 'none']],
    ['ResourceUnavailable.ServiceUnavailable', 200, ['transient', 'none']],
    ['InvalidImageId.NotFound', 200, ['unavailable', 'region', 'give an image that exists in this region']],
    ['InvalidImageId.Malformed', 200, ['unavailable', 'region', 'give an image that exists in this region']],
    ['InvalidImageId.NotFound', 500, ['transient', 'none']],
    ['MalformedResponse', 200, ['unavailable', 'offer']],
    ['HTTP502', 502, ['transient', 'none']],
    ['InvalidParameterValue', 200, ['unavailable', 'offer']],
    ['ResourceUnavailable.Other', 200, ['unavailable', 'offer']],
    ['ResourceInsufficient', 503, ['capacity', 'zone']],
  ],
  huawei: [
    ['Ecs.0319', 400, ['capacity', 'zone', 'this flavor is out of capacity in this availability zone']],
    ['Ecs.0029', 400, ['capacity', 'zone', 'this flavor is not sold here']],
    ['Ecs.0027', 400, ['capacity', 'zone', 'this flavor is private to other accounts']],
    ['Ecs.0001', 400, ['quota', 'region', 'raise the ECS quota (instances, vCPUs, memory) in the console']],
    ['Ecs.0021', 400, ['quota', 'region', 'raise the EVS disk quota']],
    ['Ecs.0013', 400, ['quota', 'region', 'raise the EIP quota']],
    ['Ecs.0022', 400, ['quota', 'region']],
    ['APIGW.0301', 400, ['auth', 'provider', 'check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (`skyhop check`)']],
    ['APIGW.0303', 400, ['auth', 'provider', 'check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK']],
    ['APIGW.0305', 400, ['auth', 'provider']],
    ['APIGW.0302', 400, ['auth', 'provider', 'the IAM user lacks an ECS permission skyhop needs']],
    ['APIGW.0306', 400, ['auth', 'provider', 'the IAM user lacks an ECS permission skyhop needs']],
    ['Ecs.0003', 400, ['auth', 'provider', 'the account lacks permission, is frozen, or its balance is insufficient']],
    ['Ecs.0004', 400, ['auth', 'provider']],
    ['Ecs.0030', 400, ['auth', 'provider', 'the account is frozen']],
    ['Common.0013', 400, ['auth', 'region', 'the project id used for this region belongs to another one (SKYHOP_HUAWEICLOUD_PROJECT_IDS)']],
    ['APIGW.0308', 400, ['transient', 'none']],
    ['Ecs.0002', 400, ['transient', 'none']],
    ['Ecs.0603', 400, ['transient', 'none']],
    ['Ecs.0031', 400, ['unavailable', 'region', 'images are regional; give an image that exists in this region']],
    ['Ecs.0032', 400, ['unavailable', 'region']],
    ['Ecs.0902', 400, ['unavailable', 'region', 'spot ECSs cannot use Marketplace images']],
    ['Ecs.0319', 500, ['capacity', 'zone', 'this flavor is out of capacity in this availability zone']],
    ['Ecs.1000', 400, ['transient', 'none']],
    ['Ecs.1300', 400, ['transient', 'none']],
    ['Ecs.1399', 400, ['transient', 'none']],
    ['Ecs.1400', 400, ['unavailable', 'offer']],
    ['Ecs.0005', 400, ['unavailable', 'offer']],
    ['HTTP404', 404, ['unavailable', 'offer']],
    ['HTTP503', 503, ['transient', 'none']],
    ['MalformedResponse', 200, ['unavailable', 'offer']],
    ['Ecs.10001', 400, ['unavailable', 'offer']],
  ],
}

describe('VM cloud API errors onto the taxonomy', function () {
  for (const [name, rows] of Object.entries(TABLES)) {
    const cloud = CLOUDS[name]
    describe(name, function () {
      it('maps each code to its category, scope and hint; retries exactly the transient ones', function () {
        for (const [code, status, [category, scope, hint]] of rows) {
          const e = cloud.toProviderError(cloud.apiError(status, code, 'said the cloud', null), {
            action: 'RunInstances',
            region: 'r1',
          }) as ProviderError
          expect(e, `${code} ${status}`).to.be.instanceOf(ProviderError)
          expect({category: e.category, scope: e.scope, hint: e.hint}, `${code} ${status}`).to.deep.equal({category, scope, hint})
          expect(e.backendCode).to.equal(code)
          const retried = cloud.isRetryable(cloud.apiError(status, code, 'said the cloud', null))
          expect(retried, `${code} ${status} retried`).to.equal(category === 'transient')
        }
      })

      it('says where it failed, keeps the request id and the cause, and redacts secrets', function () {
        registerSecret('SuperSecretValue42')
        const api = cloud.apiError(400, 'SomethingOdd', 'bad value SuperSecretValue42', 'req-1')
        expect(api.message).to.equal('SomethingOdd: bad value *** (request id req-1)')
        const e = cloud.toProviderError(api, {action: 'RunInstances', region: 'r1', zone: 'r1a', instanceType: 'big.1'}) as ProviderError
        expect(e).to.include({provider: cloud.provider, category: 'unavailable', scope: 'offer', backendCode: 'SomethingOdd'})
        expect(e.message).to.equal(`${cloud.provider}: RunInstances in r1a (big.1): SomethingOdd: bad value *** (request id req-1)`)
        expect(e.details).to.deep.equal({region: 'r1', zone: 'r1a', instanceType: 'big.1', requestId: 'req-1'})
        expect(e.cause).to.equal(api)
        const plain = cloud.toProviderError(cloud.apiError(500, 'X', 'm', null), {action: 'Describe', region: 'r2'}) as ProviderError
        expect(plain.message).to.equal(`${cloud.provider}: Describe in r2: X: m`)
        expect(plain.details).to.deep.equal({region: 'r2'})
      })

      it('turns transport failures into transient errors and retries them unless aborted', function () {
        const timeout = new HttpTransportError('timeout', 'no answer from h within 5 ms')
        const e = cloud.toProviderError(timeout, {action: 'RunInstances', region: 'r1', zone: 'r1b'}) as ProviderError
        expect(e).to.include({
          provider: cloud.provider,
          category: 'transient',
          backendCode: 'timeout',
          message: `${cloud.provider}: RunInstances in r1b: no answer from h within 5 ms`,
        })
        expect(e.details).to.deep.equal({region: 'r1', zone: 'r1b'})
        expect(cloud.isRetryable(timeout)).to.equal(true)
        expect(cloud.isRetryable(new HttpTransportError('network', 'reset'))).to.equal(true)
        expect(cloud.isRetryable(new HttpTransportError('aborted', 'aborted'))).to.equal(false)
      })

      it('treats a code named like an Object.prototype member as an unknown code', function () {
        // These used to find Object.prototype's function in the table and throw a TypeError.
        for (const code of ['constructor', 'toString', '__proto__']) {
          const e = cloud.toProviderError(cloud.apiError(400, code, 'm', null), {action: 'A', region: 'r'}) as ProviderError
          expect(e, code).to.include({category: 'unavailable', scope: 'offer'})
        }
      })

      it('leaves other errors alone, including another cloud’s', function () {
        const other = new Error('not from the cloud')
        expect(cloud.toProviderError(other, {action: 'A', region: 'r'})).to.equal(other)
        expect(cloud.isRetryable(other)).to.equal(false)
        for (const [otherName, o] of Object.entries(CLOUDS)) {
          if (otherName === name) continue
          const foreign = o.apiError(503, 'InternalError', 'm', null)
          expect(cloud.isRetryable(foreign), `${otherName} error`).to.equal(false)
          expect(cloud.toProviderError(foreign, {action: 'A', region: 'r'})).to.equal(foreign)
        }
      })
    })
  }
})
