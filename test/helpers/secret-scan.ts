// The chaos suite's secret scan: a secret's value must never rest anywhere skyhop writes or
// prints. Looks through every file under the given directories (the state store, logs,
// attempt directories, a fake instance's disk, its boot directory) and through captured
// texts (--json output, user data sent to a fake cloud), for the value itself and for the
// forms it would take there: base64 (user data) and percent-encoding (a URL or a form body).
import {lstatSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

export interface SecretHit {
  /** The file, or the name given to a captured text. */
  where: string
  /** Which form of the value was found. */
  form: 'plain' | 'base64' | 'url'
}

function forms(secret: string): Array<{form: SecretHit['form']; needle: Buffer}> {
  const out: Array<{form: SecretHit['form']; needle: Buffer}> = [{form: 'plain', needle: Buffer.from(secret)}]
  // Base64 of the value at each of the three alignments it can take inside a longer text.
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.from('x'.repeat(shift) + secret).toString('base64')
    // Drop the characters that depend on the prefix and on what follows.
    const start = shift === 0 ? 0 : Math.ceil((shift * 4) / 3) + 1
    const core = encoded.slice(start, encoded.length - 4)
    if (core.length >= 12) out.push({form: 'base64', needle: Buffer.from(core)})
  }
  const url = encodeURIComponent(secret)
  if (url !== secret) out.push({form: 'url', needle: Buffer.from(url)})
  return out
}

function scanBuffer(where: string, data: Buffer, needles: ReturnType<typeof forms>, hits: SecretHit[]): void {
  for (const {form, needle} of needles) if (data.includes(needle)) hits.push({where, form})
}

/** Every place under `dirs` (recursively, symlinks not followed) or in `texts` where the secret is found. */
export function scanForSecret(secret: string, places: {dirs?: string[]; texts?: Record<string, string>}): SecretHit[] {
  if (secret.length < 8) throw new Error('scan for a secret of at least 8 characters (a short one matches by chance)')
  const needles = forms(secret)
  const hits: SecretHit[] = []
  const walk = (path: string): void => {
    let st
    try {
      st = lstatSync(path)
    } catch {
      return // gone meanwhile (a runner cleaning up)
    }
    if (st.isSymbolicLink()) return
    if (st.isDirectory()) {
      let names: string[] = []
      try {
        names = readdirSync(path)
      } catch {
        return
      }
      for (const name of names) walk(join(path, name))
      return
    }
    if (!st.isFile()) return
    try {
      scanBuffer(path, readFileSync(path), needles, hits)
    } catch {
      // unreadable (mode 000): not skyhop's to read either
    }
  }
  for (const dir of places.dirs ?? []) walk(dir)
  for (const [name, text] of Object.entries(places.texts ?? {})) scanBuffer(name, Buffer.from(text), needles, hits)
  return hits
}

/** A random secret value, long and distinctive enough that a match is never chance. */
export function makeSecret(label = 'chaos'): string {
  return `${label}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}-s3cr3t`
}
