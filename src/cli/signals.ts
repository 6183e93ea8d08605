// A background controller stops driving (and releases its lease) on the signals that end
// a process: the first of them aborts the returned signal.
export function abortOn(signals: readonly NodeJS.Signals[]): AbortSignal {
  const abort = new AbortController()
  for (const sig of signals) process.once(sig, () => abort.abort())
  return abort.signal
}

/** Redraws `screen` every `ms` on a cleared terminal until the process is interrupted. */
export async function watch(screen: () => Promise<string>, ms: number): Promise<never> {
  for (;;) {
    process.stdout.write('\u001B[2J\u001B[H' + (await screen()) + '\n')
    await new Promise((r) => setTimeout(r, ms))
  }
}
