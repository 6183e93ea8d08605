// Plain-text tables for terminal output. Columns are sized to their content; numbers
// are right-aligned. No colours: output must read the same in a log file.

export interface Column<T> {
  header: string
  get: (row: T) => string | number | null | undefined
  align?: 'left' | 'right'
}

export function renderTable<T>(rows: readonly T[], columns: ReadonlyArray<Column<T>>): string {
  const cells = rows.map((r) =>
    columns.map((c) => {
      const v = c.get(r)
      return v === null || v === undefined ? '-' : oneLine(String(v))
    }),
  )
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i].length)))
  const line = (values: string[]) =>
    values
      .map((v, i) => ((columns[i].align ?? 'left') === 'right' ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n')
}

/**
 * A cell holds one line: a newline, tab or other control character in a value (a matrix
 * value, a message) is shown escaped, as JSON would write it, so the row stays one row.
 */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(text) ? JSON.stringify(text).slice(1, -1) : text
}
