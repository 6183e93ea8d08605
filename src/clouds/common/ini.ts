// A small parser for the INI dialect of the AWS shared config/credentials files (also used
// by Tencent Cloud's credentials file): `[section]`, `key = value`, full-line `#`/`;`
// comments, and AWS's nested sub-sections (an indented `sub = value` under `key =`), which
// come back as `key.sub`. No interpolation, no escapes; later duplicates win as in the SDKs.

export type IniSections = Map<string, Record<string, string>>

export function parseIni(text: string): IniSections {
  const sections: IniSections = new Map()
  let current: Record<string, string> | null = null
  let parentKey: string | null = null
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/\s+$/, '')
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue
    const section = /^\[\s*([^\]]*?)\s*\]\s*(?:[#;].*)?$/.exec(trimmed)
    if (section) {
      const name = section[1]
      // A section named twice merges, as the AWS SDKs do.
      current = sections.get(name) ?? {}
      sections.set(name, current)
      parentKey = null
      continue
    }
    if (current === null) continue
    const eq = trimmed.indexOf('=')
    if (eq < 0) continue
    const key = trimmed.slice(0, eq).trim().toLowerCase()
    // Inline comments only count after whitespace, so values like `a#b` survive.
    const value = trimmed
      .slice(eq + 1)
      .replace(/\s+[#;].*$/, '')
      .trim()
    const indented = /^\s/.test(line)
    if (indented && parentKey !== null) {
      current[`${parentKey}.${key}`] = value
      continue
    }
    current[key] = value
    parentKey = value === '' ? key : null
  }
  return sections
}
