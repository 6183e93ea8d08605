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
      return v === null || v === undefined ? '-' : String(v)
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
