// One value per key, made once and shared by concurrent callers: a VM adapter's API client
// per region, and the lookups (image ids, zones) it must not repeat on every launch. A make
// that fails is forgotten, so the next call tries again instead of failing for good.
export class PromiseCache<T> {
  private readonly entries = new Map<string, Promise<T>>()

  get(key: string, make: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(key)
    if (!entry) {
      entry = make()
      entry.catch(() => this.entries.delete(key))
      this.entries.set(key, entry)
    }
    return entry
  }
}
