// The device tables that vendor tools print when run without arguments, read once for both
// uses: detecting this machine's accelerators (local/machine.ts) and the runner's utilisation
// samples (usage-samples.ts). Each shape is tested against a recorded real output
// (test/data/vendor-tools/, sources in test/data/SOURCES.md). Lines may come as printed or as
// the runner sends them (borders dropped, spaces squeezed): nothing here depends on widths.

/** One device row of a tool's table. Null: the tool did not say, or said something unreadable. */
export interface SmiDevice {
  index: number
  /** As printed, without the persistence-mode column some tables put after it (`Off`, `N/A`). */
  name: string
  busyPct: number | null
  memUsedMiB: number | null
  memTotalMiB: number | null
}

const BUS_ID = /^[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]\b/
const USED_OF_TOTAL = /(\d+(?:\.\d+)?)\s*(?:MiB)?\s*\/\s*(\d+(?:\.\d+)?)\s*MiB/
const PERCENT = /(\d+(?:\.\d+)?)\s*%/

const cellsOf = (line: string): string[] => line.split('|').map((c) => c.trim())

/**
 * nvidia-smi's table layout, which several vendors copied: a row `| index name | bus-id … | … |`
 * and the row after it holding memory `used / total MiB` (or `used/total MiB`) in its second
 * cell, utilisation `N%` in the third cell of either row. Read this way: Intel's `xpu-smi`
 * (v2.0), Kunlunxin's `xpu-smi`/`xpu_smi`, MetaX's `mx-smi`. Rows after the device's second
 * (Kunlunxin's L3 cache usage) and the process tables (no bus id) are not devices.
 */
export function smiTableDevices(lines: readonly string[]): SmiDevice[] {
  const rows = lines.map(cellsOf).filter((c) => c.length >= 4 && c.some((x) => x !== ''))
  const out: SmiDevice[] = []
  for (let i = 0; i < rows.length; i++) {
    const [, head, bus, third] = rows[i]
    const m = /^(\d+)\s+(.+)$/.exec(head)
    if (!m || !BUS_ID.test(bus)) continue
    const next = rows[i + 1] && !BUS_ID.test(rows[i + 1][2]) ? rows[i + 1] : null
    const memory = USED_OF_TOTAL.exec(next?.[2] ?? '')
    const busy = PERCENT.exec(third) ?? PERCENT.exec(next?.[3] ?? '')
    out.push({
      index: Number(m[1]),
      name: m[2].replace(/\s+(On|Off|N\/A)$/, '').trim(),
      busyPct: busy ? pct(Number(busy[1])) : null,
      memUsedMiB: memory ? Number(memory[1]) : null,
      memTotalMiB: memory && Number(memory[2]) > 0 ? Number(memory[2]) : null,
    })
  }
  return out
}

/**
 * Moore Threads' `mthreads-gmi` table: one row per device,
 * `0    MTT S5000    |00000000:2a:00.0    |0%    66641MiB(81920MiB)`: index and name, bus id,
 * utilisation and memory used(total). Its other rows (device type, lane width, temperature,
 * ECC) carry no bus id.
 */
export function mthreadsGmiDevices(lines: readonly string[]): SmiDevice[] {
  const out: SmiDevice[] = []
  for (const line of lines) {
    const cells = cellsOf(line)
    if (cells.length < 3) continue
    const m = /^(\d+)\s+(.+)$/.exec(cells[0])
    if (!m || !BUS_ID.test(cells[1])) continue
    const busy = /^(\d+(?:\.\d+)?)%/.exec(cells[2])
    const memory = /(\d+)MiB\((\d+)MiB\)/.exec(cells[2])
    out.push({
      index: Number(m[1]),
      name: m[2].trim(),
      busyPct: busy ? pct(Number(busy[1])) : null,
      memUsedMiB: memory ? Number(memory[1]) : null,
      memTotalMiB: memory && Number(memory[2]) > 0 ? Number(memory[2]) : null,
    })
  }
  return out
}

function pct(n: number): number | null {
  return n < 0 || n > 100 ? null : n
}
