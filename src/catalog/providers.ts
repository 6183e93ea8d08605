// The providers the catalog knows prices for, and the facts about each that do not
// change per offer: how much notice a spot/preemptible instance gets before it is taken
// back (from the providers' own docs, named in each source), and the
// environment variable that overrides its price endpoint.
import type {Sourced} from '../model/catalog.js'

export interface ProviderInfo {
  /** Lower-case id used everywhere: offers, flags, state. */
  id: string
  displayName: string
  /** Seconds between the interruption notice and the instance being taken. */
  noticeSeconds: Sourced<number>
}

function notice(value: number | null, confidence: Sourced<number>['confidence'], source: string | null): Sourced<number> {
  return {value, confidence, source}
}

export const PROVIDERS: readonly ProviderInfo[] = [
  {
    id: 'aws',
    displayName: 'AWS',
    noticeSeconds: notice(
      120,
      'high',
      `https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html (2 min, best effort)`,
    ),
  },
  {
    id: 'gcp',
    displayName: 'Google Cloud',
    noticeSeconds: notice(30, 'high', `GCP Spot VM docs (30 s ACPI soft-off to hard-off)`),
  },
  {
    id: 'azure',
    displayName: 'Azure',
    noticeSeconds: notice(30, 'high', `Azure Scheduled Events docs (NotBefore >= 30 s)`),
  },
  {
    id: 'aliyun',
    displayName: 'Alibaba Cloud',
    noticeSeconds: notice(300, 'low', `alibabacloud.com best-practices-for-preemptible-instances (~5 min, exact minutes uncertain)`),
  },
  {
    id: 'huaweicloud',
    displayName: 'Huawei Cloud',
    // skyhop runs on ECS, not CCE: the 5-minute alert is CCE's node-problem-detector, and
    // ECS documents no in-guest spot notice, so a job on Huawei spot can count on none.
    noticeSeconds: notice(
      0,
      'medium',
      `ECS spot has no documented in-guest notice (CCE's 5 min alert, cce_03_0026, does not apply to ECS)`,
    ),
  },
  {
    id: 'tencentcloud',
    displayName: 'Tencent Cloud',
    noticeSeconds: notice(120, 'medium', `tencentcloud.com/document/product/213/32487 (2 min; to verify)`),
  },
  {id: 'lambda', displayName: 'Lambda', noticeSeconds: notice(null, null, 'Lambda sells no spot instances')},
  {id: 'nebius', displayName: 'Nebius', noticeSeconds: notice(null, null, null)},
  {id: 'oci', displayName: 'Oracle Cloud', noticeSeconds: notice(null, null, null)},
  {id: 'runpod', displayName: 'RunPod', noticeSeconds: notice(null, null, null)},
]

const byId = new Map(PROVIDERS.map((p) => [p.id, p]))

export function providerInfo(id: string): ProviderInfo | undefined {
  return byId.get(id)
}

export function knownProviderIds(): string[] {
  return PROVIDERS.map((p) => p.id)
}

/** `SKYHOP_AZURE_ENDPOINT` etc.: where tests point a refresher at a local fake. */
export function endpointEnvName(provider: string): string {
  return `SKYHOP_${provider.toUpperCase()}_ENDPOINT`
}
