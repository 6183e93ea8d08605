// The `validate` service: loads each file, collects the valid ones and throws one
// InvalidFileError carrying every problem of every invalid file.
import {type FileIssue, InvalidFileError} from '../errors.js'
import {loadJobFile} from '../job/load.js'

export interface ValidationResult {
  files: Array<{file: string; name: string; accelerators: string[]; spot: string; objective: string}>
}

export function validateJobFiles(files: string[], options: {now: Date}): ValidationResult {
  const valid: ValidationResult['files'] = []
  const issues: FileIssue[] = []
  let foreign = 0
  for (const file of files) {
    try {
      const {spec} = loadJobFile(file, options)
      valid.push({
        file,
        name: spec.name,
        accelerators: spec.resources.accelerators.map((a) => a.text),
        spot: spec.spot,
        objective: spec.objective,
      })
    } catch (error) {
      if (!(error instanceof InvalidFileError)) throw error
      if (error.code === 'FOREIGN_JOB_FILE') foreign++
      issues.push(...error.issues)
    }
  }
  if (issues.length > 0) {
    const bad = new Set(issues.map((i) => i.file)).size
    const how =
      foreign === bad
        ? '`skyhop import FILE --output job.yaml` converts SkyPilot and dstack files (docs/job-file.md#coming-from-skypilot-or-dstack).'
        : 'The job file format is described in schemas/job.schema.json and docs/job-file.md.'
    throw new InvalidFileError(issues, {hint: `${bad} of ${files.length} file(s) invalid. ${how}`})
  }
  return {files: valid}
}
