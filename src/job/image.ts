// The job file's `image:`: a VM image (a cloud's image name or id, as before) or a container
// image. A container image is written with the `docker:` prefix (SkyPilot's spelling), or as a
// registry reference that no VM image name looks like: a first component that is a registry
// host (`nvcr.io/nvidia/pytorch:24.05-py3`, `localhost/x:y`, `registry:5000/a/b`) or a
// `namespace/name:tag` / `name@sha256:…` reference (`pytorch/pytorch:2.3.0-cuda12.1`).
// Everything else is a VM image, left to the provider that resolves it.
//
// The grammar is the distribution project's reference grammar (github.com/distribution/
// reference, regexp.go): lower-case path components joined by `.`, `_`, `__` or dashes, a
// domain of dot-separated labels with an optional port, a tag of at most 128 word
// characters, dots and dashes, a digest ALGORITHM:HEX; a name of at most 255 characters.
import type {ContainerImage} from '../model/job-spec.js'

const DOCKER_PREFIX = 'docker:'
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
const NAME_MAX = 255

export type ImageClass = {kind: 'vm'; name: string} | {kind: 'container'; image: ContainerImage}

/** A malformed container reference; the message says what is wrong with which part. */
export class ImageReferenceError extends Error {}

/** Classifies `image:`. Throws ImageReferenceError for a container reference that does not parse. */
export function classifyImage(text: string): ImageClass {
  const value = text.trim()
  if (value.toLowerCase().startsWith(DOCKER_PREFIX))
    return {kind: 'container', image: parseContainerReference(value.slice(DOCKER_PREFIX.length))}
  if (looksLikeContainer(value)) return {kind: 'container', image: parseContainerReference(value)}
  return {kind: 'vm', name: value}
}

/**
 * No VM image name of the clouds skyhop drives has a registry host before a slash, nor the
 * `a/b:tag` or `@sha256:` shapes (AMI names and ids, Alibaba/Huawei/Tencent image names and
 * ids, `family:NAME`): those shapes mean a container.
 */
function looksLikeContainer(value: string): boolean {
  const slash = value.indexOf('/')
  const first = slash === -1 ? '' : value.slice(0, slash)
  // A registry host first is a container even with a typo later: the error says what is wrong.
  if (first !== '' && !/\s/.test(first) && (first === 'localhost' || first.includes('.') || first.includes(':'))) return true
  if (/\s/.test(value)) return false
  if (value.includes('@sha256:')) return true
  if (slash === -1) return false
  return /^[a-z0-9._-]+\/[a-z0-9._/-]+:[\w][\w.-]*$/.test(value)
}

/** Parses a docker/OCI reference: [DOMAIN/]PATH[:TAG][@DIGEST]. */
export function parseContainerReference(reference: string): ContainerImage {
  const ref = reference.trim()
  if (ref === '') throw new ImageReferenceError('the container image reference is empty; expected e.g. docker:ubuntu:22.04')
  if (/\s/.test(ref)) throw new ImageReferenceError(`container image "${ref}" contains whitespace`)
  let rest = ref
  let digest: string | null = null
  const at = rest.indexOf('@')
  if (at !== -1) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest))
      throw new ImageReferenceError(`container image "${ref}": "${digest}" is not a digest like sha256:<64 hex digits>`)
  }
  let tag: string | null = null
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) {
      throw new ImageReferenceError(
        `container image "${ref}": tag "${tag}" is not valid (letters, digits, _, . and -, not starting with . or -, at most 128)`,
      )
    }
  }
  if (rest === '') throw new ImageReferenceError(`container image "${ref}" has no name`)
  if (rest.length > NAME_MAX) throw new ImageReferenceError(`container image "${ref}": the name is longer than ${NAME_MAX} characters`)
  const parts = rest.split('/')
  let registry: string | null = null
  if (parts.length > 1 && (parts[0] === 'localhost' || parts[0].includes('.') || parts[0].includes(':') || /[A-Z]/.test(parts[0]))) {
    registry = parts.shift()!
    if (!DOMAIN.test(registry)) throw new ImageReferenceError(`container image "${ref}": "${registry}" is not a registry host[:port]`)
  }
  for (const part of parts) {
    if (!PATH_COMPONENT.test(part)) {
      throw new ImageReferenceError(
        `container image "${ref}": "${part}" is not a valid repository name component` +
          (/[A-Z]/.test(part) ? ' (repository names are lower case)' : ' (lower-case letters and digits, joined by ., _, __ or -)'),
      )
    }
  }
  return {reference: ref, registry, repository: parts.join('/'), tag, digest}
}
