// A launch's idempotency key as the ClientToken of the clouds that take 1-64 printable
// ASCII characters (EC2, Alibaba ECS, Tencent CVM): the key itself when it fits, else its
// SHA-256, so a retried launch, even from another controller, sends the same token.
import {sha256Hex} from './signing-util.js'

export function asciiClientToken(key: string): string {
  return /^[\x21-\x7e]{1,64}$/.test(key) ? key : sha256Hex(key)
}
