// The `init` wizard's questions. Loaded only on a TTY: @inquirer/prompts is heavy.
import type {InitAnswers} from '../services/init.js'

export async function askInitQuestions(given: Partial<InitAnswers>): Promise<Partial<InitAnswers>> {
  const {input, select, confirm} = await import('@inquirer/prompts')
  const a = {...given}
  a.name ??= await input({
    message: 'Job name',
    default: 'my-job',
    validate: (v) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(v) || 'letters, digits, . _ -',
  })
  a.run ??= await input({message: 'Command to run', validate: (v) => v.trim() !== '' || 'required'})
  if (a.accelerators === undefined) {
    const acc = await input({message: 'Accelerators (e.g. H100:8, or alternatives "H100:8 Ascend910B:8"; empty for CPU only)'})
    a.accelerators = acc.split(/[\s]+/).filter(Boolean)
  }
  if (a.runtimes === undefined && a.accelerators.length > 0) {
    const rt = await input({message: 'Software stacks the job can use (e.g. "cuda cann"; empty for any)'})
    a.runtimes = rt.split(/[\s,]+/).filter(Boolean)
  }
  a.spot ??= await select({
    message: 'Spot policy',
    choices: [
      {value: 'on-demand' as const, name: 'on-demand: never preempted'},
      {value: 'auto' as const, name: 'auto: spot when it is cheaper and safe for the deadline'},
      {value: 'spot' as const, name: 'spot: only spot (job must checkpoint)'},
    ],
  })
  a.objective ??= await select({
    message: 'Optimize for',
    choices: [
      {value: 'cost' as const, name: 'cost'},
      {value: 'time' as const, name: 'time'},
      {value: 'balanced' as const, name: 'balanced'},
    ],
  })
  if (a.workHours === undefined && (await confirm({message: 'Do you know how long it runs on some configuration?', default: false}))) {
    a.workHours = Number(await input({message: 'Hours', validate: (v) => Number(v) > 0 || 'a positive number'}))
    a.reference ??= (await input({message: 'On which configuration (e.g. A100-80GB:8)?'})) || undefined
  }
  return a
}
