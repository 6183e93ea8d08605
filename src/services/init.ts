// The `init` service: turns answers into a job file that validates. Knows nothing of
// prompts or flags; the command gathers the answers.
import {existsSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {stringify} from 'yaml'

import {InvalidFileError, UsageError} from '../errors.js'
import type {Objective, SpotPolicy} from '../model/job-spec.js'
import {loadJobFile} from '../job/load.js'

export interface InitAnswers {
  name: string
  run: string
  setup?: string
  accelerators?: string[]
  runtimes?: string[]
  spot?: SpotPolicy
  objective?: Objective
  workHours?: number
  reference?: string
  deadline?: string
  budget?: string
  checkpointDir?: string
}

export interface InitResult {
  file: string
  name: string
  content: string
}

/** Keys a non-interactive run must be given; the rest have defaults. */
export const REQUIRED_ANSWERS = ['name', 'run'] as const

export function renderJobFile(a: InitAnswers): string {
  const doc: Record<string, unknown> = {name: a.name}
  const resources: Record<string, unknown> = {}
  if (a.accelerators && a.accelerators.length > 0) resources.accelerators = a.accelerators.length === 1 ? a.accelerators[0] : a.accelerators
  if (a.runtimes && a.runtimes.length > 0) resources.runtimes = a.runtimes
  if (Object.keys(resources).length > 0) doc.resources = resources
  doc.spot = a.spot ?? 'on-demand'
  doc.objective = a.objective ?? 'cost'
  if (a.workHours !== undefined) doc.work = a.reference ? {reference: a.reference, hours: a.workHours} : {hours: a.workHours}
  if (a.deadline) doc.deadline = a.deadline
  if (a.budget) doc.budget = a.budget
  if (a.checkpointDir) doc.checkpoint = {dir: a.checkpointDir, interval: '30m'}
  if (a.setup) doc.setup = a.setup
  doc.run = a.run
  return `# yaml-language-server: $schema=https://skyhop.dev/schemas/job.schema.json\n${stringify(doc, {lineWidth: 0})}`
}

/**
 * Writes the job file and re-reads it through the same loader `launch` uses, so a file
 * that `init` writes is always valid. An invalid answer leaves no file behind.
 */
export function writeJobFile(file: string, answers: InitAnswers, options: {force: boolean; now: Date}): InitResult {
  if (existsSync(file) && !options.force) {
    throw new UsageError(`${file} already exists`, {
      code: 'FILE_EXISTS',
      hint: 'Pass --force to overwrite it, or --output to write elsewhere.',
    })
  }
  const content = renderJobFile(answers)
  const tmp = `${file}.skyhop-init-${process.pid}`
  writeFileSync(tmp, content, {mode: 0o644})
  try {
    loadJobFile(tmp, {now: options.now})
  } catch (error) {
    rmSync(tmp, {force: true})
    // Report the problem against the file the user asked for, not our temporary name.
    if (error instanceof InvalidFileError)
      throw new InvalidFileError(
        error.issues.map((i) => ({...i, file})),
        {code: 'INIT_ANSWER_INVALID'},
      )
    throw error
  }
  renameSync(tmp, file)
  return {file, name: answers.name, content}
}

/**
 * The answers of a run that may not prompt: every required one must have been given as a
 * flag; `why` says why there is no prompt (exit 2 names the missing flags and the reason).
 */
export function requireAnswers(given: Partial<InitAnswers>, why: string): InitAnswers {
  const missing = REQUIRED_ANSWERS.filter((k) => !given[k])
  if (missing.length > 0) {
    throw new UsageError(`missing ${missing.map((k) => `--${k}`).join(' and ')}: not prompting because ${why}`, {
      code: 'MISSING_ANSWER',
      hint: 'Pass every answer as a flag; see `skyhop init --help`.',
    })
  }
  return given as InitAnswers
}

/** `skyhop init`: writes the answers to `output` (default NAME.yaml). */
export function init(answers: InitAnswers, options: {output?: string; force: boolean; now?: Date}): InitResult {
  return writeJobFile(options.output ?? `${answers.name}.yaml`, answers, {force: options.force, now: options.now ?? new Date()})
}
