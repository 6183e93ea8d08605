// Files other processes may read at any moment (catalog files, caches, attempt files,
// launch handles) are replaced whole.
import {renameSync, rmSync, writeFileSync} from 'node:fs'

/**
 * Write to a temporary file, then rename: a reader sees the old file or the new, never half.
 * `mode` applies to a file that holds secrets or private state (0o600).
 */
export function writeAtomic(file: string, content: string | Buffer, options: {mode?: number} = {}): void {
  const tmp = `${file}.tmp.${process.pid}`
  try {
    writeFileSync(tmp, content, options.mode === undefined ? undefined : {mode: options.mode})
    renameSync(tmp, file)
  } finally {
    rmSync(tmp, {force: true})
  }
}
