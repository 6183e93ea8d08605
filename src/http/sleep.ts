// A sleep that an AbortSignal cuts short, for the VM adapters' waiting loops (logs that
// follow, creation jobs): it resolves early instead of rejecting, so a caller that aborts
// simply sees the loop end.
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })
}
