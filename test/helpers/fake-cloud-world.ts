// The set-up the VM adapters' tests share: a fake cloud on a local port (with a boot
// directory when its instances should really run their user data, as cloud-init would),
// the undici Agent its provider is given as dispatcher, and one close() for all three;
// the fast retry policy; and the check that a launch fails with a ProviderError.
import {expect} from 'chai'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Agent} from 'undici'

import {ProviderError} from '../../src/errors.js'
import type {LaunchRequest, Provider} from '../../src/providers/provider.js'

/** Retries at once: the fakes throttle on demand, and the tests count the retries. */
export const FAST_RETRY = {retries: 3, baseDelayMs: 1, maxDelayMs: 5}

export interface FakeCloudWorld<F> {
  fake: F
  /** Where the fake listens. */
  url: string
  agent: Agent
  bootDir: string | null
  /** Stops the fake (and its instances), closes the agent, removes the boot directory; idempotent. */
  close(): Promise<void>
}

export async function startFakeCloud<F extends {start(): Promise<string>; stop(): Promise<void>}>(
  make: (bootDir: string | null) => F,
  options: {boot?: boolean; bootPrefix: string; agent?: Agent.Options},
): Promise<FakeCloudWorld<F>> {
  const bootDir = options.boot ? mkdtempSync(join(tmpdir(), options.bootPrefix)) : null
  const fake = make(bootDir)
  const url = await fake.start()
  const agent = new Agent(options.agent)
  let closed = false
  return {
    fake,
    url,
    agent,
    bootDir,
    async close() {
      if (closed) return
      closed = true
      await fake.stop()
      await agent.close()
      if (bootDir) rmSync(bootDir, {recursive: true, force: true})
    },
  }
}

export async function launchError(provider: Provider, request: LaunchRequest): Promise<ProviderError> {
  const error = await provider.launch(request).then(
    () => null,
    (e: unknown) => e,
  )
  expect(error, 'launch should fail').to.be.instanceOf(ProviderError)
  return error as ProviderError
}
