// The providers with a live price refresh, by id. Adding one is adding its refresher here.
import {aliyunRefresher} from './aliyun.js'
import {awsRefresher} from './aws.js'
import {azureRefresher} from './azure.js'
import {huaweiRefresher} from './huawei.js'
import {tencentRefresher} from './tencent.js'
import type {Refresher} from './types.js'

export const REFRESHERS: Readonly<Record<string, Refresher>> = {
  aliyun: aliyunRefresher,
  aws: awsRefresher,
  azure: azureRefresher,
  huaweicloud: huaweiRefresher,
  tencentcloud: tencentRefresher,
}
