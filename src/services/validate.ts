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
      issues.push(...error.issues)
    }
  }
  if (issues.length > 0) {
    const bad = new Set(issues.map((i) => i.file)).size
    throw new InvalidFileError(issues, {
      hint: `${bad} of ${files.length} file(s) invalid. The job file format is described in schemas/job.schema.json and docs/job-file.md.`,
    })
  }
  return {files: valid}
}
