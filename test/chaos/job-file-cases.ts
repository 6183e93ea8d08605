// The chaos suite's generated job files: from the examples, by a seeded generator, so the
// same cases come back every run (SKYHOP_CHAOS_SEED replays another set).
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

const SEEDS = ['hello', 'train-gpu', 'cpu-batch', 'multi-node'].map((f) => readFileSync(join('examples', `${f}.yaml`), 'utf8'))
const YAML_BITS = [
  ':',
  '-',
  '[',
  '{',
  '"',
  "'",
  '&a',
  '*a',
  '!!binary',
  '!!python/object',
  '\t',
  '\n  ',
  '#',
  '|',
  '>',
  '? ',
  '0',
  '-1',
  'null',
  '~',
  '1e999',
  '<<: *a',
  '%YAML 1.1\n---\n',
  '\u0000',
  '\uFFFD',
  '\u202E',
]
const KEYS = [
  'name',
  'run',
  'setup',
  'spot',
  'resources',
  'accelerators',
  'cpus',
  'memory',
  'work',
  'deadline',
  'budget',
  'envs',
  'secrets',
  'matrix',
  'recovery',
  'checkpoint',
  'nodes',
  'image',
  'placement',
]
const VALUES = [
  '[]',
  '{}',
  '0',
  '-3',
  'null',
  'true',
  '"x"',
  '[1, {a: b}]',
  '99999999999999999999',
  '1e999',
  '.nan',
  '"\u0000"',
  '2026-13-45',
  '!!binary aGk=',
  "'${X}'",
  '"$(rm -rf /)"',
  '[*]',
]

export type Case = {label: string; bytes: Buffer}

function aliasBomb(levels: number, width: number): string {
  const lines = ['name: bomb', 'run: echo', 'a0: &a0 [x]']
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array.from({length: width}, () => `*a${i - 1}`).join(', ')}]`)
  lines.push(`envs: {BOMB: *a${levels}}`)
  return lines.join('\n') + '\n'
}

/** The n-th generated case, from the seed: the same files every run. */
export function generate(random: () => number, n: number): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]
  const base = pick(SEEDS)
  const kind = n % 10
  const at = (s: string) => Math.floor(random() * (s.length + 1))
  switch (kind) {
    case 0: {
      // Truncated at a random byte.
      const b = Buffer.from(base)
      return {label: 'truncation', bytes: b.subarray(0, Math.floor(random() * b.length))}
    }
    case 1: {
      // A value swapped for another type.
      const key = pick(KEYS)
      const text = new RegExp(`(^|\\n)(\\s*${key}:)[^\\n]*`).test(base)
        ? base.replace(new RegExp(`(^|\\n)(\\s*${key}:)[^\\n]*`), `$1$2 ${pick(VALUES)}`)
        : `${base}${key}: ${pick(VALUES)}\n`
      return {label: 'type-swap', bytes: Buffer.from(text)}
    }
    case 2:
      return {label: 'alias-bomb', bytes: Buffer.from(aliasBomb(3 + Math.floor(random() * 7), 5 + Math.floor(random() * 10)))}
    case 3: {
      // Deep nesting: flow or block.
      // Mostly a few hundred levels; one case in ten thousands (refused past MAX_NESTING before yaml recurses).
      const depth = 50 + Math.floor(random() * (random() < 0.1 ? 20_000 : 500))
      const text =
        random() < 0.5
          ? `name: deep\nrun: echo\nenvs: ${'['.repeat(depth)}${']'.repeat(random() < 0.5 ? depth : 0)}\n`
          : `name: deep\nrun: echo\nresources:\n${Array.from({length: Math.min(depth, 3000)}, (_, i) => `${' '.repeat(i + 1)}k${i}:`).join('\n')} 1\n`
      return {label: 'deep-nesting', bytes: Buffer.from(text)}
    }
    case 4: {
      // Encodings: BOMs, UTF-16, Latin-1, invalid UTF-8, CRLF, NULs.
      const enc = Math.floor(random() * 7)
      if (enc === 0) return {label: 'utf8-bom', bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(base)])}
      if (enc === 1) return {label: 'utf16le-bom', bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(base, 'utf16le')])}
      if (enc === 2) {
        const le = Buffer.from(base, 'utf16le')
        const be = Buffer.alloc(le.length)
        for (let i = 0; i + 1 < le.length; i += 2) [be[i], be[i + 1]] = [le[i + 1], le[i]]
        return {label: 'utf16be-bom', bytes: Buffer.concat([Buffer.from([0xfe, 0xff]), be])}
      }
      if (enc === 3) return {label: 'latin1', bytes: Buffer.from(base.replace('name: ', 'name: café-'), 'latin1')}
      if (enc === 4) {
        const b = Buffer.from(base)
        const i = Math.floor(random() * b.length)
        return {label: 'invalid-utf8', bytes: Buffer.concat([b.subarray(0, i), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), b.subarray(i)])}
      }
      if (enc === 5) return {label: 'crlf', bytes: Buffer.from(base.replace(/\n/g, random() < 0.5 ? '\r\n' : '\r'))}
      return {label: 'nul', bytes: Buffer.from(base.slice(0, at(base)) + '\u0000' + base.slice(at(base)))}
    }
    case 5:
      // Empty, whitespace, a scalar, a list, binary noise.
      return {
        label: 'not-a-mapping',
        bytes: pick([
          Buffer.alloc(0),
          Buffer.from('   \n\t\n'),
          Buffer.from('just a string\n'),
          Buffer.from('- a\n- b\n'),
          Buffer.from(Array.from({length: 64}, () => Math.floor(random() * 256))),
          Buffer.from('---\n---\n---\n'),
        ]),
      }
    default: {
      // Mutations: 1–4 of replace, delete, insert YAML-significant text.
      let text = base
      const count = 1 + Math.floor(random() * 4)
      for (let m = 0; m < count; m++) {
        const i = at(text)
        const op = random()
        if (op < 0.33) text = text.slice(0, i) + pick(YAML_BITS) + text.slice(i)
        else if (op < 0.66) text = text.slice(0, i) + text.slice(i + Math.floor(random() * 40))
        else
          text =
            text.slice(0, i) +
            String.fromCharCode(...Array.from({length: 1 + Math.floor(random() * 12)}, () => 32 + Math.floor(random() * 95))) +
            text.slice(i + Math.floor(random() * 12))
      }
      return {label: 'mutation', bytes: Buffer.from(text)}
    }
  }
}
