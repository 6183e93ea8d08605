// A directory of fake accelerator tools for PATH: each a link, under the vendor tool's name, to
// test/fakes/fake-vendor-tool, which prints that tool's recorded real output (or garbage, or
// hangs, with FAKE_VENDOR_TOOL_MODE). Jobs whose runner sees it look like they run on a
// machine with those accelerators.
import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {ROOT} from './cli.js'

export const FAKE_VENDOR_TOOL = join(ROOT, 'test', 'fakes', 'fake-vendor-tool')

/**
 * `dir/bin` holding the named tools, each answering in `mode`; returns that directory (to put
 * first on PATH). The mode is a file beside the links: the runner passes on little environment.
 */
export function fakeToolDir(dir: string, tools: readonly string[], mode: 'record' | 'garbage' | 'hang' = 'record'): string {
  const bin = join(dir, 'bin')
  mkdirSync(bin, {recursive: true})
  for (const tool of tools) symlinkSync(FAKE_VENDOR_TOOL, join(bin, tool))
  writeFileSync(join(bin, '.fake-vendor-tool-mode'), `${mode}\n`)
  return bin
}

/** PATH with the fake tools first. */
export function pathWith(bin: string): string {
  return `${bin}:${process.env.PATH ?? ''}`
}
