// Files other processes may read at any moment (catalog files, caches) are replaced whole.
import {renameSync, rmSync, writeFileSync} from 'node:fs'

/** Write to a temporary file, then rename: a reader sees the old file or the new, never half. */
export function writeAtomic(file: string, content: string | Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, content)
    renameSync(tmp, file)
  } finally {
    rmSync(tmp, {force: true})
  }
}
