// AWS gangs of a shape with EFA on the fake EC2: one EFA interface per node (NetworkInterface.1,
// InterfaceType efa, device 0 on network card 0) in a security group made for the attempt that
// lets all traffic to and from itself, deleted with the gang; a shape without EFA gets neither;
// and the fake refuses what EC2 refuses about interfaces.
import {expect} from 'chai'

import {interconnectOf} from '../../src/catalog/interconnect.js'
import type {Ec2Client} from '../../src/clouds/aws/ec2-client.js'
import {ProviderError} from '../../src/errors.js'
import type {LaunchHandle} from '../../src/model/attempt.js'
import {efaGroupName, placementGroupName} from '../../src/providers/aws/aws-provider.js'
import {launchError} from '../helpers/fake-cloud-world.js'
import {startGangStore, type GangStore} from '../helpers/gang-store.js'
import {until} from '../helpers/wait.js'
import {jobSpec, launchRequest, offer, world, type World} from './aws-helpers.js'

const P4D = offer({
  instanceType: 'p4d.24xlarge',
  accelerator: {name: 'A100-40GB', count: 8},
  vcpus: 96,
  memoryGiB: 1152,
  interconnect: interconnectOf('aws', 'p4d.24xlarge'),
})

describe('AWS EFA gangs on the fake EC2: interfaces, the self-referencing security group, rollback', function () {
  this.timeout(60_000)
  let w: World
  let store: GangStore
  beforeEach(async function () {
    store = await startGangStore()
    w = await world({
      capacity: {'us-east-1': {'us-east-1a': {'p4d.24xlarge': 2, 'g5.xlarge': 2}}},
      vcpus: {'p4d.24xlarge': 96, 'g5.xlarge': 4},
    })
  })
  afterEach(async function () {
    await w?.close()
    await store?.stop()
  })

  async function gangRequest(o = P4D) {
    const request = launchRequest({spec: jobSpec('true', {nodes: 2}), offer: o})
    return {...request, gang: await store.sign(request.jobId, request.attemptId)}
  }
  const runParams = () => w.fake.calls.filter((c) => c.action === 'RunInstances' && c.status === 200).map((c) => c.params)
  const client = () => (w.provider as unknown as {client(region: string): Promise<Ec2Client>}).client('us-east-1')

  it('a 2-node p4d gang: one EFA interface per node, in a group that allows all traffic to and from itself; cleanup deletes it', async function () {
    const request = await gangRequest()
    const handle = await w.provider.launch(request)
    const [p] = runParams()
    const groups = [...w.fake.securityGroups.values()]
    expect(groups).to.have.length(1)
    const group = groups[0]
    expect(group.name).to.equal(efaGroupName(request.attemptId))
    expect(group.ingressFromGroups).to.deep.equal([`-1 ${group.id}`])
    expect(group.egressToGroups).to.deep.equal([`-1 ${group.id}`])
    expect(p).to.include({
      'NetworkInterface.1.DeviceIndex': '0',
      'NetworkInterface.1.NetworkCardIndex': '0',
      'NetworkInterface.1.InterfaceType': 'efa',
      'NetworkInterface.1.SecurityGroupId.1': group.id,
      'Placement.GroupName': placementGroupName(request.attemptId),
    })
    // One interface only (EC2 gives several no public IPv4), nothing at instance level beside it.
    expect(
      Object.keys(p).filter((k) => k.startsWith('NetworkInterface.2.') || k === 'SubnetId' || k.startsWith('SecurityGroupId.')),
    ).to.deep.equal([])
    for (const i of w.fake.liveInstances()) {
      expect(i.networkInterfaces).to.deep.equal([
        {deviceIndex: 0, networkCardIndex: 0, interfaceType: 'efa', subnetId: null, groups: [group.id]},
      ])
    }
    expect(handle.data.efaSecurityGroup).to.equal(group.id)

    // A gang found again by its tags (after a controller restart) names its group too.
    const [owned] = await w.provider.listOwned({attemptId: request.attemptId})
    expect(owned.data.efaSecurityGroup).to.equal(group.id)
    await w.provider.cleanup(owned as LaunchHandle)
    expect(w.fake.liveInstances()).to.have.length(0)
    expect(w.fake.securityGroups.size).to.equal(0)
    expect(w.fake.placementGroups.size).to.equal(0)
    expect(w.fake.actions()).to.include('DeleteSecurityGroup')
  })

  it('a launch retried on the same attempt finds its group (by name) and its rules, and gets the same instances', async function () {
    const request = await gangRequest()
    const first = await w.provider.launch(request)
    const again = await w.provider.launch(request)
    expect(again.externalId).to.equal(first.externalId)
    expect(again.data.efaSecurityGroup).to.equal(first.data.efaSecurityGroup)
    expect(w.fake.securityGroups.size).to.equal(1)
    expect(w.fake.liveInstances()).to.have.length(2)
    const codes = w.fake.calls.filter((c) => c.code !== null).map((c) => `${c.action} ${c.code}`)
    expect(codes).to.include.members([
      'CreateSecurityGroup InvalidGroup.Duplicate',
      'AuthorizeSecurityGroupIngress InvalidPermission.Duplicate',
      'AuthorizeSecurityGroupEgress InvalidPermission.Duplicate',
    ])
    await w.provider.cleanup(again)
    expect(w.fake.securityGroups.size).to.equal(0)
  })

  it('one node short of capacity: nothing granted, the EFA group and the placement group are deleted', async function () {
    w.fake.setCapacity('us-east-1', 'us-east-1a', 'p4d.24xlarge', 1)
    const error = await launchError(w.provider, await gangRequest())
    expect(error).to.include({category: 'capacity', scope: 'zone', backendCode: 'InsufficientInstanceCapacity'})
    expect(w.fake.calls.some((c) => c.action === 'CreateSecurityGroup' && c.status === 200)).to.equal(true)
    expect(w.fake.securityGroups.size).to.equal(0)
    expect(w.fake.placementGroups.size).to.equal(0)
  })

  it('the group refused its rule (no permission): nothing is launched, the group and the placement group are deleted', async function () {
    w.fake.inject({
      action: 'AuthorizeSecurityGroupEgress',
      code: 'UnauthorizedOperation',
      message: 'You are not authorized to perform this operation.',
    })
    const error = await launchError(w.provider, await gangRequest())
    expect(error).to.include({category: 'auth', backendCode: 'UnauthorizedOperation'})
    expect(w.fake.actions()).to.not.include('RunInstances')
    expect(w.fake.securityGroups.size).to.equal(0)
    expect(w.fake.placementGroups.size).to.equal(0)
  })

  it('a step after the launch failing: every node is terminated, then the EFA group deleted', async function () {
    store.s3.failNext(1, 403, 'AccessDenied', /\/node-ids$/)
    const error = await launchError(w.provider, await gangRequest())
    expect(error.category).to.equal('auth')
    await until(
      async () => w.fake.liveInstances().length,
      (n) => n === 0,
    )
    // Deleted after the terminate (EC2 refuses it while an instance is in the group).
    const actions = w.fake.calls.map((c) => `${c.action} ${c.status}`)
    expect(actions.lastIndexOf('DeleteSecurityGroup 200')).to.be.greaterThan(actions.indexOf('TerminateInstances 200'))
    expect(w.fake.securityGroups.size).to.equal(0)
  })

  it('a shape without EFA gets no interface and no group', async function () {
    await w.provider.launch(await gangRequest(offer()))
    const [p] = runParams()
    expect(Object.keys(p).some((k) => k.startsWith('NetworkInterface.'))).to.equal(false)
    expect(w.fake.actions()).to.not.include('CreateSecurityGroup')
    expect(w.fake.liveInstances().every((i) => i.networkInterfaces.length === 0)).to.equal(true)
  })

  it('a catalog that claims EFA on a type without it: EC2 refuses the interface, the offer is given up, the group deleted', async function () {
    const claimed = offer({interconnect: {kind: 'efa', gbps: 100, source: 'a wrong catalog file'}})
    const error = await launchError(w.provider, await gangRequest(claimed))
    expect(error).to.include({category: 'unavailable', scope: 'offer', backendCode: 'InvalidParameterCombination'})
    expect(error.message).to.include('g5.xlarge instances do not support Elastic Fabric Adapters')
    expect(w.fake.liveInstances()).to.have.length(0)
    expect(w.fake.securityGroups.size).to.equal(0)
    expect(w.fake.placementGroups.size).to.equal(0)
  })

  it('the fake refuses what EC2 refuses about interfaces', async function () {
    const c = await client()
    const groupId = await c.createSecurityGroup('t', 'test', null)
    const base: Array<[string, string]> = [
      ['ImageId', 'ami-0dla000000000001'],
      ['InstanceType', 'p4d.24xlarge'],
      ['MinCount', '1'],
      ['MaxCount', '1'],
    ]
    const nic = (n: number, card: number, device: number, type: string): Array<[string, string]> => [
      [`NetworkInterface.${n}.DeviceIndex`, String(device)],
      [`NetworkInterface.${n}.NetworkCardIndex`, String(card)],
      [`NetworkInterface.${n}.InterfaceType`, type],
      [`NetworkInterface.${n}.SecurityGroupId.1`, groupId],
    ]
    const refusal = async (params: Array<[string, string]>) => {
      const e = await c.call('RunInstances', [...base, ...params]).then(
        () => null,
        (x: unknown) => x,
      )
      expect(e, JSON.stringify(params)).to.be.instanceOf(ProviderError)
      return `${(e as ProviderError).backendCode}: ${(e as ProviderError).message}`
    }
    expect(
      await refusal([...nic(1, 0, 0, 'efa'), ...nic(2, 1, 0, 'efa-only'), ['NetworkInterface.1.AssociatePublicIpAddress', 'true']]),
    ).to.match(
      /^InvalidParameterCombination: .*associatePublicIPAddress parameter cannot be specified when launching with multiple network interfaces/,
    )
    expect(await refusal([...nic(1, 0, 0, 'efa'), ['SubnetId', 'subnet-1']])).to.match(
      /^InvalidParameterCombination: .*instance-level subnet/,
    )
    expect(await refusal([...nic(1, 0, 0, 'efa'), ['SecurityGroupId.1', groupId]])).to.match(
      /^InvalidParameterCombination: .*instance-level security groups/,
    )
    expect(await refusal(nic(1, 0, 0, 'efa-only'))).to.match(/^InvalidParameterCombination: .*EFA-only .*primary/)
    expect(await refusal([...nic(1, 0, 0, 'efa'), ...nic(2, 4, 0, 'efa-only')])).to.match(
      /^InvalidParameterValue: .*Network card index 4 is not valid for instance type p4d.24xlarge/,
    )
    expect(await refusal(nic(1, 0, 0, 'efa').map(([k, v]) => [k, k.endsWith('SecurityGroupId.1') ? 'sg-nope' : v]))).to.match(
      /^InvalidGroup.NotFound/,
    )
    // What EC2 takes: EFA on every card of a p4d, without a public IP.
    const ok = await c.call('RunInstances', [
      ...base,
      ...nic(1, 0, 0, 'efa'),
      ...[1, 2, 3].flatMap((card) => nic(card + 1, card, 0, 'efa-only')),
    ])
    expect(ok).to.not.equal(undefined)
    expect(w.fake.liveInstances()[0].networkInterfaces.map((n) => `${n.networkCardIndex}/${n.interfaceType}`)).to.deep.equal([
      '0/efa',
      '1/efa-only',
      '2/efa-only',
      '3/efa-only',
    ])
    // A group an instance's interface is in cannot go (DependencyViolation): deleteSecurityGroup says not yet.
    expect(await c.deleteSecurityGroup(groupId)).to.equal(false)
    expect(w.fake.calls.at(-1)).to.include({action: 'DeleteSecurityGroup', code: 'DependencyViolation'})
  })
})
