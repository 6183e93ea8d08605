// Which AMI a job boots on EC2. A job's `image: ami-…` is used as given (AMI ids are
// regional). Otherwise the newest public image suited to the offer's accelerator:
//   NVIDIA GPUs          AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04),
//                        which carries the driver, CUDA and Docker with the NVIDIA toolkit
//   Trainium/Inferentia  AWS Deep Learning AMI Neuron (Ubuntu 22.04)
//   no accelerator       Canonical's Ubuntu 22.04 server image
// arm64 variants for Graviton families (m7g, c7g, g5g, …). Any other `image` value is an
// image name pattern (`*` wildcards) searched among the account's own and Amazon's images.
import {ProviderError} from '../../errors.js'
import type {Offer} from '../../model/catalog.js'
import type {Ec2Client, Ec2Filter} from '../../clouds/aws/ec2-client.js'

export interface ImageChoice {
  imageId: string
  name: string
  rootDeviceName: string | null
}

export interface ImageQuery {
  owners: string[]
  namePattern: string
  architecture: 'x86_64' | 'arm64'
}

const CANONICAL = '099720109477'

/** Graviton families carry a `g` right after the generation digit (m7g, c7gn, x2gd, g5g). */
export function architectureOf(instanceType: string): 'x86_64' | 'arm64' {
  return /^[a-z]+\d+g[a-z]*$/.test(instanceType.split('.')[0] ?? '') ? 'arm64' : 'x86_64'
}

export function imageQueryFor(offer: Offer, image: string | null): ImageQuery | {imageId: string} {
  if (image && /^ami-[0-9a-f]{8,17}$/.test(image)) return {imageId: image}
  const architecture = architectureOf(offer.instanceType)
  if (image) return {owners: ['self', 'amazon'], namePattern: image, architecture}
  const acc = offer.accelerator?.name.toLowerCase() ?? ''
  if (/trainium|inferentia|neuron/.test(acc))
    return {owners: ['amazon'], namePattern: 'Deep Learning AMI Neuron (Ubuntu 22.04) *', architecture}
  if (offer.accelerator) {
    const arm = architecture === 'arm64' ? 'ARM64 ' : ''
    return {owners: ['amazon'], namePattern: `Deep Learning ${arm}Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *`, architecture}
  }
  const arch = architecture === 'arm64' ? 'arm64' : 'amd64'
  return {owners: [CANONICAL], namePattern: `ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-${arch}-server-*`, architecture}
}

/** Resolves and caches (per region and query) the image to boot. */
export class ImageResolver {
  private readonly cache = new Map<string, Promise<ImageChoice>>()

  resolve(client: Ec2Client, offer: Offer, image: string | null): Promise<ImageChoice> {
    const query = imageQueryFor(offer, image)
    const key = `${client.region}|${JSON.stringify(query)}`
    let found = this.cache.get(key)
    if (!found) {
      found = this.lookup(client, query)
      this.cache.set(key, found)
      found.catch(() => this.cache.delete(key))
    }
    return found
  }

  private async lookup(client: Ec2Client, query: ImageQuery | {imageId: string}): Promise<ImageChoice> {
    if ('imageId' in query) {
      const [img] = await client.describeImages({imageIds: [query.imageId]})
      if (!img)
        throw new ProviderError('aws', 'unavailable', `image ${query.imageId} does not exist in ${client.region}`, {
          scope: 'region',
          backendCode: 'InvalidAMIID.NotFound',
        })
      return {imageId: img.imageId, name: img.name, rootDeviceName: img.rootDeviceName}
    }
    const filters: Ec2Filter[] = [
      {name: 'name', values: [query.namePattern]},
      {name: 'architecture', values: [query.architecture]},
      {name: 'state', values: ['available']},
    ]
    const images = await client.describeImages({owners: query.owners, filters})
    const newest = images.sort((a, b) => (a.creationDate < b.creationDate ? 1 : a.creationDate > b.creationDate ? -1 : 0))[0]
    if (!newest) {
      throw new ProviderError('aws', 'unavailable', `no ${query.architecture} image named "${query.namePattern}" in ${client.region}`, {
        scope: 'region',
        backendCode: 'NoImage',
      })
    }
    return {imageId: newest.imageId, name: newest.name, rootDeviceName: newest.rootDeviceName}
  }
}
