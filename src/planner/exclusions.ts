// Collects why offers were left out, grouped by reason and subject, without building a
// string per excluded offer: a million offers of the wrong accelerator make one group.
import type {Offer} from '../model/catalog.js'
import type {ExclusionGroup, ExclusionReason} from './types.js'

interface Group {
  count: number
  offer: Offer
  spot: boolean | null
  /** A number the message needs (the offer's vCPUs, its price in USD…), from the first example. */
  detail: number
}

export type Describe = (reason: ExclusionReason, subject: string, example: Offer, spot: boolean | null, detail: number) => string

export class ExclusionCollector {
  // reason → subject → sub-subject ('' for none) → group
  private readonly groups = new Map<ExclusionReason, Map<string, Map<string, Group>>>()

  add(reason: ExclusionReason, subject: string, subSubject: string, offer: Offer, spot: boolean | null, detail = 0, count = 1): void {
    let bySubject = this.groups.get(reason)
    if (bySubject === undefined) this.groups.set(reason, (bySubject = new Map()))
    let bySub = bySubject.get(subject)
    if (bySub === undefined) bySubject.set(subject, (bySub = new Map()))
    const g = bySub.get(subSubject)
    if (g === undefined) bySub.set(subSubject, {count, offer, spot, detail})
    else g.count += count
  }

  get empty(): boolean {
    return this.groups.size === 0
  }

  /** Largest groups first; ties by reason then subject, so the order is stable. */
  toGroups(describe: Describe): ExclusionGroup[] {
    const out: ExclusionGroup[] = []
    for (const [reason, bySubject] of this.groups) {
      for (const [subject, bySub] of bySubject) {
        for (const [sub, g] of bySub) {
          const name = sub === '' ? subject : `${subject}/${sub}`
          out.push({
            reason,
            subject: name,
            message: describe(reason, name, g.offer, g.spot, g.detail),
            count: g.count,
            example: {
              provider: g.offer.provider,
              region: g.offer.region,
              zone: g.offer.zone,
              instanceType: g.offer.instanceType,
              spot: g.spot,
            },
          })
        }
      }
    }
    out.sort((a, b) => b.count - a.count || cmp(a.reason, b.reason) || cmp(a.subject, b.subject))
    return out
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
