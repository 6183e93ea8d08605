// Build step: compiles the input schemas (job, config, catalog) into standalone ajv
// validators under dist/generated/, so the CLI does not pay ~40 ms compiling them at
// every start. src/util/schemas.ts falls back to compiling at run time (development).
import Ajv from 'ajv'
import addFormats from 'ajv-formats'
import standaloneCode from 'ajv/dist/standalone/index.js'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'

const names = ['job.schema.json', 'config.schema.json', 'catalog.schema.json']
mkdirSync('dist/generated', {recursive: true})
for (const name of names) {
  if (!existsSync(`schemas/${name}`)) continue
  const ajv = new Ajv({allErrors: true, verbose: true, strict: false, code: {source: true}})
  addFormats(ajv)
  const validate = ajv.compile(JSON.parse(readFileSync(`schemas/${name}`, 'utf8')))
  writeFileSync(`dist/generated/${name.replace(/\.json$/, '')}.cjs`, standaloneCode(ajv, validate))
}
