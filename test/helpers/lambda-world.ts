// A Lambda Cloud world for tests: the fake API (test/fakes/fake-lambda-server.ts) with its
// instances' user data run on this machine, the fake `ssh` first on PATH, an SSH key file,
// and the environment that points the plugin's provider at all of it.
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join, resolve} from 'node:path'

import {FakeLambdaServer, type FakeLambdaOptions} from '../fakes/fake-lambda-server.js'

export const LAMBDA_KEY = 'secret_lambda_test_0123456789abcdef'
export const FAKE_SSH_DIR = resolve(import.meta.dirname, '..', 'fakes', 'fake-ssh')

export interface LambdaWorld {
  fake: FakeLambdaServer
  /** LAMBDA_API_KEY, LAMBDA_API_URL, the SSH key, PATH with the fake ssh, FAKE_SSH_HOSTS. */
  env: Record<string, string>
  dir: string
  stop(): Promise<void>
}

export async function lambdaWorld(options: Partial<FakeLambdaOptions> = {}): Promise<LambdaWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-fake-lambda-'))
  const bootDir = join(dir, 'instances')
  const fake = new FakeLambdaServer({
    apiKey: LAMBDA_KEY,
    sshKeys: ['laptop'],
    bootDir,
    bootMs: 50,
    types: {
      cpu_4x_general: {vcpus: 4, memoryGiB: 16, gpus: 0, priceCents: 20, description: '4x CPU'},
      cpu_4x_generalx: {vcpus: 4, memoryGiB: 16, gpus: 0, priceCents: 20, description: '4x CPU (x86)'},
      gpu_1x_a10: {vcpus: 30, memoryGiB: 200, gpus: 1, priceCents: 129, description: '1x A10 (24 GB PCIe)'},
    },
    stock: {'us-east-1': {cpu_4x_general: 4, gpu_1x_a10: 2}, 'us-west-1': {cpu_4x_general: 4, gpu_1x_a10: 2}},
    ...options,
  })
  await fake.start()
  const keyFile = join(dir, 'id_ed25519')
  writeFileSync(keyFile, '-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n', {mode: 0o600})
  const env = {
    LAMBDA_API_KEY: LAMBDA_KEY,
    LAMBDA_API_URL: fake.apiUrl,
    LAMBDA_SSH_KEY_FILE: keyFile,
    PATH: `${FAKE_SSH_DIR}${delimiter}${process.env.PATH ?? ''}`,
    FAKE_SSH_HOSTS: join(bootDir, 'hosts'),
  }
  return {
    fake,
    env,
    dir,
    async stop() {
      await fake.stop()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}
