// test/helpers/slurm.ts decides whether the running Slurm is the test cluster that
// scripts/slurm-up.sh starts, not merely one that has partitions named low and high.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {resolve} from 'node:path'

import {configValues, notOurCluster, SLURM_UP_MARKER, TEST_CLUSTER} from '../helpers/slurm.js'

const running = (over: Record<string, string> = {}): Map<string, string> =>
  new Map(Object.entries({ClusterName: TEST_CLUSTER, SlurmctldPort: '6817', SlurmdPort: '6818', ...over}))

const ours = [SLURM_UP_MARKER, `ClusterName=${TEST_CLUSTER}`, 'SlurmctldPort=6817', 'SlurmdPort=6818', 'PartitionName=low Nodes=n1'].join(
  '\n',
)

describe('the Slurm test cluster check', () => {
  it('accepts the config slurm-up.sh writes, as the running controller reports it', () => {
    expect(notOurCluster(running(), ours, '/etc/slurm/slurm.conf')).to.equal(null)
  })

  it('refuses a cluster whose slurm.conf slurm-up.sh did not write, even with partitions low and high', () => {
    const other = ours.replace(SLURM_UP_MARKER, '# site config').replace('PartitionName=low', 'PartitionName=high')
    expect(notOurCluster(running(), other, '/etc/slurm/slurm.conf')).to.match(/not written by scripts\/slurm-up.sh.*another Slurm cluster/)
  })

  it('refuses another cluster name, and a controller that runs with other ports than the file', () => {
    expect(notOurCluster(running({ClusterName: 'prod'}), ours, '/x/slurm.conf')).to.match(/running cluster is "prod", not the test cluster/)
    expect(notOurCluster(running({SlurmctldPort: '7817'}), ours, '/x/slurm.conf')).to.match(/SlurmctldPort=7817, \/x\/slurm.conf says 6817/)
    expect(notOurCluster(running(), null, '/x/slurm.conf')).to.match(/cannot read \/x\/slurm.conf/)
  })

  it('reads both `scontrol show config` and slurm.conf lines', () => {
    const shown = configValues(
      'ClusterName             = skyhop\nSLURM_CONF              = /etc/slurm/slurm.conf\nSlurmctldHost[0]        = vm(127.0.0.1)\n',
    )
    expect(shown.get('ClusterName')).to.equal('skyhop')
    expect(shown.get('SLURM_CONF')).to.equal('/etc/slurm/slurm.conf')
    expect(shown.get('SlurmctldHost[0]')).to.equal('vm(127.0.0.1)')
  })

  it("knows the script's own marker line", () => {
    const script = readFileSync(resolve(import.meta.dirname, '../../scripts/slurm-up.sh'), 'utf8')
    expect(script).to.include(`MARKER='${SLURM_UP_MARKER}'`)
  })
})
