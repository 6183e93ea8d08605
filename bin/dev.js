#!/usr/bin/env -S node --import tsx --no-warnings
// Runs the TypeScript sources directly (development only): the commands are read from
// src/commands/index.ts instead of the built bundle that package.json names.
import {readFileSync} from 'node:fs'
import {Config, execute} from '@oclif/core'

const root = new URL('..', import.meta.url)
const pjson = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
pjson.oclif.commands = {...pjson.oclif.commands, target: './src/commands/index.ts'}
const config = await Config.load({root: root.pathname, pjson, development: true})
await execute({development: true, loadOptions: config})
