// What this machine offers: CPUs, memory, and accelerators as the vendors' own tools
// report them. A tool that is missing means no such device; a tool that answers in a
// shape we do not understand is reported as unknown rather than guessed.
//
// Formats: nvidia-smi's CSV query is documented by NVIDIA; the rocm-smi/hy-smi JSON
// keys, `npu-smi info -m` and cnmon's JSON file follow what GPUStack's detectors parse
// from real machines; the xpu-smi, mx-smi and mthreads-gmi tables are read as recorded
// real outputs show them (src/providers/smi-tables.ts). None of these devices exists on the machines this was written on,
// so only the parsers' handling of those shapes is tested, not the tools.
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {availableParallelism, tmpdir, totalmem} from 'node:os'
import {delimiter, join} from 'node:path'

import {mthreadsGmiDevices, smiTableDevices} from '../smi-tables.js'

export interface DetectedAccelerator {
  vendor: string
  /** The name the vendor's tool prints, e.g. `NVIDIA H100 80GB HBM3`, `Ascend 910B3`. */
  rawName: string
  count: number
  /** Memory per device, when the tool says. */
  memoryMiB: number | null
  tool: string
}

export interface MachineInfo {
  vcpus: number
  memoryGiB: number
  accelerators: DetectedAccelerator[]
  /** Tools that are installed but whose answer we could not read. */
  unreadable: string[]
}

/** Runs a tool; null when it is not installed, fails or times out. */
export type ToolRunner = (command: string, args: string[], options?: {cwd?: string}) => Promise<string | null>

export const runTool: ToolRunner = (command, args, options = {}) =>
  new Promise((resolve) => {
    // Most machines have none of the vendor tools: looking on PATH first spares a fork per
    // missing tool on every command that lists this machine's offer.
    if (!onPath(command)) return resolve(null)
    execFile(command, args, {timeout: 10_000, maxBuffer: 4 * 1024 * 1024, cwd: options.cwd}, (error, stdout) => {
      resolve(error ? null : stdout)
    })
  })

function onPath(command: string): boolean {
  if (command.includes('/')) return existsSync(command)
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, command)))
}

function group(vendor: string, tool: string, devices: Array<{name: string; memoryMiB: number | null}>): DetectedAccelerator[] {
  const byName = new Map<string, DetectedAccelerator>()
  for (const device of devices) {
    const found = byName.get(device.name)
    if (found) found.count++
    else byName.set(device.name, {vendor, rawName: device.name, count: 1, memoryMiB: device.memoryMiB, tool})
  }
  return [...byName.values()]
}

/** `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits` */
export function parseNvidiaSmi(out: string): DetectedAccelerator[] {
  const devices = out
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const cut = line.lastIndexOf(',')
      const memory = Number(line.slice(cut + 1).trim())
      return {name: line.slice(0, cut).trim(), memoryMiB: Number.isFinite(memory) && memory > 0 ? memory : null}
    })
    .filter((d) => d.name !== '')
  return group('nvidia', 'nvidia-smi', devices)
}

/** `rocm-smi --showproductname --showmeminfo vram --json` (and hy-smi, its Hygon fork). */
export function parseRocmSmiJson(out: string, vendor: 'amd' | 'hygon', tool: string): DetectedAccelerator[] {
  const parsed = JSON.parse(out) as Record<string, Record<string, string>>
  const devices = Object.entries(parsed)
    .filter(([key]) => /^card\d+$/.test(key))
    .map(([, info]) => {
      const name = info['Card Series'] ?? info['Card series'] ?? info['Device Name'] ?? info['Card SKU'] ?? 'unknown'
      const bytes = Number(info['VRAM Total Memory (B)'])
      const mib = Number(info['vram Total Memory (MiB)'])
      const memoryMiB = Number.isFinite(bytes) && bytes > 0 ? Math.round(bytes / 1_048_576) : Number.isFinite(mib) && mib > 0 ? mib : null
      return {name, memoryMiB}
    })
  return group(vendor, tool, devices)
}

/** `npu-smi info -m`: NPU ID, Chip ID, Chip Logic ID, Chip Name; MCU chips have no logic ID. */
export function parseNpuSmiMap(out: string): DetectedAccelerator[] {
  const devices: Array<{name: string; memoryMiB: number | null}> = []
  for (const line of out.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.+?)\s*$/.exec(line)
    if (match) devices.push({name: match[4], memoryMiB: null})
  }
  return group('huawei', 'npu-smi', devices)
}

/** cnmon_info.json from `cnmon info -e -m -u -j`: {CnmonInfo: [{ProductName, PhysicalMemUsage: {Total}}]}. */
export function parseCnmonJson(out: string): DetectedAccelerator[] {
  const parsed = JSON.parse(out) as {CnmonInfo?: Array<{ProductName?: string; PhysicalMemUsage?: {Total?: string | number}}>}
  const devices = (parsed.CnmonInfo ?? []).map((card) => {
    const total = Number(card.PhysicalMemUsage?.Total)
    return {name: card.ProductName ?? 'unknown', memoryMiB: Number.isFinite(total) && total > 0 ? total : null}
  })
  return group('cambricon', 'cnmon', devices)
}

/**
 * `xpu-smi` (or Kunlunxin's `xpu_smi`) without arguments. Two vendors ship a tool of that
 * name, both printing nvidia-smi's table: Intel's (XPU-SMI v2.0: `Intel(R) Arc(TM) B580`) and
 * Kunlunxin's (`P800 OAM`, named by its product: R200, P800, …). Older Intel releases print
 * their help instead, which has no device row: unreadable, never a guess.
 */
export function parseXpuSmi(out: string, tool = 'xpu-smi'): DetectedAccelerator[] {
  const intel: Array<{name: string; memoryMiB: number | null}> = []
  const kunlunxin: Array<{name: string; memoryMiB: number | null}> = []
  for (const d of smiTableDevices(out.split('\n'))) {
    if (/^Intel\b/i.test(d.name)) intel.push({name: d.name, memoryMiB: d.memTotalMiB})
    else {
      const product = /^(?:R|P|K|RG)\d{3}\S*/.exec(d.name)
      if (product) kunlunxin.push({name: product[0], memoryMiB: d.memTotalMiB})
    }
  }
  return [...group('intel', tool, intel), ...group('kunlunxin', tool, kunlunxin)]
}

/** MetaX's `mx-smi` without arguments: `| 0 MetaX C550 | 0000:0f:00.0 | 0% |`, memory `858/65536 MiB` below. */
export function parseMxSmi(out: string): DetectedAccelerator[] {
  return group(
    'metax',
    'mx-smi',
    smiTableDevices(out.split('\n')).map((d) => ({name: d.name, memoryMiB: d.memTotalMiB})),
  )
}

/** Moore Threads' `mthreads-gmi` without arguments: `0 MTT S5000 |00000000:2a:00.0 |0% 66641MiB(81920MiB)`. */
export function parseMthreadsGmi(out: string): DetectedAccelerator[] {
  return group(
    'moorethreads',
    'mthreads-gmi',
    mthreadsGmiDevices(out.split('\n')).map((d) => ({name: d.name, memoryMiB: d.memTotalMiB})),
  )
}

type Probe = (run: ToolRunner) => Promise<DetectedAccelerator[] | 'unreadable' | null>

function tolerant(parse: (out: string) => DetectedAccelerator[]): (out: string | null) => DetectedAccelerator[] | 'unreadable' | null {
  return (out) => {
    if (out === null) return null
    try {
      const found = parse(out)
      return found.length > 0 ? found : 'unreadable'
    } catch {
      return 'unreadable'
    }
  }
}

const PROBES: Array<[string, Probe]> = [
  [
    'nvidia-smi',
    async (run) => tolerant(parseNvidiaSmi)(await run('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'])),
  ],
  [
    'rocm-smi',
    async (run) =>
      tolerant((o) => parseRocmSmiJson(o, 'amd', 'rocm-smi'))(
        await run('rocm-smi', ['--showproductname', '--showmeminfo', 'vram', '--json']),
      ),
  ],
  [
    'hy-smi',
    async (run) =>
      tolerant((o) => parseRocmSmiJson(o, 'hygon', 'hy-smi'))(
        await run('hy-smi', ['--showproductname', '--showmeminfo', 'vram', '--json']),
      ),
  ],
  ['npu-smi', async (run) => tolerant(parseNpuSmiMap)(await run('npu-smi', ['info', '-m']))],
  [
    'cnmon',
    async (run) => {
      // cnmon writes its JSON to cnmon_info.json in the working directory.
      const dir = mkdtempSync(join(tmpdir(), 'skyhop-cnmon-'))
      try {
        if ((await run('cnmon', ['info', '-e', '-m', '-u', '-j'], {cwd: dir})) === null) return null
        let text: string
        try {
          text = readFileSync(join(dir, 'cnmon_info.json'), 'utf8')
        } catch {
          return 'unreadable'
        }
        return tolerant(parseCnmonJson)(text)
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    },
  ],
  ['xpu-smi', async (run) => tolerant(parseXpuSmi)(await run('xpu-smi', []))],
  ['xpu_smi', async (run) => tolerant((o) => parseXpuSmi(o, 'xpu_smi'))(await run('xpu_smi', []))],
  ['mx-smi', async (run) => tolerant(parseMxSmi)(await run('mx-smi', []))],
  ['mthreads-gmi', async (run) => tolerant(parseMthreadsGmi)(await run('mthreads-gmi', []))],
]

export async function detectMachine(run: ToolRunner = runTool): Promise<MachineInfo> {
  const results = await Promise.all(PROBES.map(async ([tool, probe]) => [tool, await probe(run)] as const))
  const accelerators: DetectedAccelerator[] = []
  const unreadable: string[] = []
  for (const [tool, result] of results) {
    if (result === 'unreadable') unreadable.push(tool)
    else if (result) accelerators.push(...result)
  }
  return {
    vcpus: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    accelerators,
    unreadable,
  }
}

/**
 * A tool's marketing name made closer to the catalog's spelling (`NVIDIA H100 80GB HBM3`
 * → `H100 80GB HBM3`, `Ascend 910B3` → `Ascend910B3`). The catalog resolves aliases; this
 * only strips what no alias list carries.
 */
export function cleanAcceleratorName(raw: string): string {
  return raw
    .replace(/^(NVIDIA|AMD|Tesla)\s+/i, '')
    .replace(/^Ascend\s+/i, 'Ascend')
    .replace(/\s+/g, ' ')
    .trim()
}
