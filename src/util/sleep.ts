// A sleep that an AbortSignal cuts short, for waiting loops (the VM adapters' log follows and
// creation jobs, the service controller's ticks): it resolves early instead of rejecting, so a
// caller that aborts simply sees the loop end.
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
