// The Slurm parsers against output captured from the test cluster (Debian slurm-wlm
// 22.05.8 as scripts/slurm-up.sh configures it: node `vm`, partitions `low` and `high`).
// GRES lines cannot be captured here (no GPUs); those samples follow the formats in
// Slurm's sinfo/gres.conf documentation and are labelled as such.
import {expect} from 'chai'

import {
  decodeWaitStatus,
  isPreemptible,
  parseClusterName,
  parseExitPair,
  parseGres,
  parseKeyValues,
  parsePartitions,
  parseSacct,
  parseSbatchParsable,
  parseScontrolJob,
  parseSinfo,
  parseSlurmVersion,
  parseSqueue,
  parseTestOnly,
  slurmAtLeast,
  slurmMessage,
  slurmTime,
} from '../../src/providers/slurm/parse.js'

// sinfo --noheader --format='%R|%a|%c|%m|%G|%D|%t|%l'
const SINFO = `low|up|2|8192|(null)|1|idle|infinite
high|up|2|8192|(null)|1|idle|infinite
`
// The same after `scontrol update PartitionName=low State=DOWN`.
const SINFO_DOWN = `low|down|2|8192|(null)|1|idle|infinite
high|up|2|8192|(null)|1|idle|infinite
`

// scontrol show partition --oneliner
const PARTITIONS = `PartitionName=low AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=YES QoS=N/A DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=10 Hidden=NO MaxNodes=UNLIMITED MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=vm PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=REQUEUE State=UP TotalCPUs=2 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=8G,node=1,billing=2
PartitionName=high AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=NO QoS=N/A DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=vm PriorityJobFactor=1 PriorityTier=10 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=2 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=8G,node=1,billing=2
`

// scontrol show config (the lines around ClusterName)
const CONFIG = `Configuration data as of 2026-11-27T23:00:34
AccountingStorageBackupHost = (null)
AccountingStorageType   = accounting_storage/none
ClusterName             = skyhop
CompleteWait            = 0 sec
PreemptMode             = REQUEUE
PreemptType             = preempt/partition_prio
SLURM_VERSION           = 22.05.8
`

// squeue --noheader --states=all \
//   --Format='JobID:|,State:|,Reason:|,exit_code:|,RestartCnt:|,StartTime:|,EndTime:|,Partition:|,STDOUT:|,Comment:|'
const SQUEUE = `42|PENDING|None|0|0|N/A|N/A|low|/dev/null|(null)|
39|RUNNING|None|0|0|2026-11-27T23:00:40|NONE|low|/dev/null|(null)|
24|FAILED|NonZeroExitCode|768|0|2026-11-27T22:58:44|2026-11-27T22:58:46|high|/tmp/skyhop-slurm-KzKkyu/slurm/attempts/att-13424-mwzl1ym8-1/slurm.out|skyhop:att-13424-mwzl1ym8-1|
25|COMPLETED|None|0|0|2026-11-27T22:59:08|2026-11-27T22:59:10|high|/tmp/skyhop-slurm-sDQ3mE/slurm/attempts/att-15578-mwzl2gqk-1/slurm.out|skyhop:att-15578-mwzl2gqk-1|
28|CANCELLED|None|15|0|2026-11-27T22:59:17|2026-11-27T22:59:21|high|/dev/null|(null)|
29|CANCELLED|Resources|0|0|2026-11-27T22:59:20|2026-11-27T22:59:20|high|/tmp/skyhop-slurm-sDQ3mE/slurm/attempts/att-15578-mwzl2oh5-4/slurm.out|skyhop:att-15578-mwzl2oh5-4|
20|CANCELLED|PartitionDown|0|0|2026-11-27T22:52:45|2026-11-27T22:52:45|low|/dev/null|(null)|
6|CANCELLED|None|36608|1|2026-11-27T22:52:29|2026-11-27T22:52:36|low|/tmp/sx/low-%j.out|(null)|
`
// A job requeued after preemption, while pending again, and then cancelled.
const SQUEUE_REQUEUED = `4|COMPLETING|None|0|1|2026-11-27T22:48:58|NONE|low|/tmp/sx/low-4.out|skyhop:att-low|
4|PENDING|BeginTime|0|1|2026-11-27T22:51:03|NONE|low|/tmp/sx/low-4.out|skyhop:att-low|
37|CANCELLED|BeginTime|0|1|2026-11-27T23:00:29|2026-11-27T23:00:29|low|/dev/null|skyhop:requeue-20767-1795820400826|
`

// scontrol show job --oneliner 35: a job that ended inside its preemption grace.
const SCONTROL_PREEMPTED =
  'JobId=35 JobName=skyhop-slurm-test-a1 UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901726 Nice=0 Account=(null) QOS=(null) JobState=COMPLETED Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:03 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-27T22:59:55 EligibleTime=2026-11-27T22:59:55 AccrueTime=2026-11-27T22:59:55 StartTime=2026-11-27T22:59:55 EndTime=2026-11-27T22:59:58 Deadline=N/A PreemptEligibleTime=2026-11-27T22:59:55 PreemptTime=2026-11-27T22:59:58 SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-27T22:59:55 Scheduler=Main Partition=low AllocNode:Sid=localhost:4233 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=2 NumTasks=1 CPUs/Task=2 ReqB:S:C:T=0:0:*:* TRES=cpu=2,node=1,billing=2 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=2 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=/tmp/skyhop-slurm-qq8tHL/slurm/attempts/att-20767-mwzl3hah-1/slurm-batch.sh WorkDir=/tmp/skyhop-slurm-qq8tHL/slurm/attempts/att-20767-mwzl3hah-1 Comment=skyhop:att-20767-mwzl3hah-1  StdErr=/tmp/skyhop-slurm-qq8tHL/slurm/attempts/att-20767-mwzl3hah-1/slurm.out StdIn=/dev/null StdOut=/tmp/skyhop-slurm-qq8tHL/slurm/attempts/att-20767-mwzl3hah-1/slurm.out Power= \n'
// scontrol show job --oneliner 2: a plain failure, no preemption fields at all.
const SCONTROL_FAILED =
  'JobId=2 JobName=sx-bad UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901758 Nice=0 Account=(null) QOS=(null) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=3:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-27T22:48:08 EligibleTime=2026-11-27T22:48:08 AccrueTime=2026-11-27T22:48:08 StartTime=2026-11-27T22:48:08 EndTime=2026-11-27T22:48:08 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-27T22:48:08 Scheduler=Main Partition=high AllocNode:Sid=localhost:4233 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=/tmp/sx/bad.sh WorkDir=/tmp/sx Comment=skyhop:att-bad  StdErr=/tmp/sx/bad.out StdIn=/dev/null StdOut=/tmp/sx/bad.out Power= \n'
// scontrol show job --oneliner 37: requeued after preemption (Restarts=1), then cancelled while pending.
const SCONTROL_REQUEUED =
  'JobId=37 JobName=skyhop-requeue-test UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901724 Nice=0 Account=(null) QOS=(null) JobState=CANCELLED Reason=BeginTime Dependency=(null) Requeue=1 Restarts=1 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-27T23:00:29 EligibleTime=2026-11-27T23:02:30 AccrueTime=2026-11-27T23:02:30 StartTime=2026-11-27T23:00:29 EndTime=2026-11-27T23:00:29 Deadline=N/A PreemptEligibleTime=2026-11-27T23:00:29 PreemptTime=None SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-27T23:00:01 Scheduler=Main Partition=low AllocNode:Sid=localhost:4233 ReqNodeList=(null) ExcNodeList=(null) NodeList= NumNodes=1 NumCPUs=2 NumTasks=N/A CPUs/Task=2 ReqB:S:C:T=0:0:*:* TRES=cpu=2,mem=8G,node=1,billing=2 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=2 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/work/main Comment=skyhop:requeue-20767-1795820400826  StdErr=/dev/null StdIn=/dev/null StdOut=/dev/null Power= \n'

// sbatch --test-only … (stderr)
const TEST_ONLY_IDLE = 'sbatch: Job 18 to start at 2026-11-27T22:52:38 using 2 processors on nodes vm in partition low\n'
const TEST_ONLY_PREEMPTS =
  'sbatch: Job 41 to start at 2026-11-27T23:00:41 using 2 processors on nodes vm in partition high\nsbatch:   Preempts: 39\n'
const TEST_ONLY_NEVER = 'sbatch: Job 40 to start at 2027-11-27T23:00:40 using 2 processors on nodes vm in partition low\n'
const TEST_ONLY_TOO_BIG = 'allocation failure: Requested node configuration is not available\n'

describe('slurm parsers', () => {
  describe('sinfo', () => {
    it('reads partitions, CPUs, memory and node counts', () => {
      expect(parseSinfo(SINFO)).to.deep.equal([
        {partition: 'low', avail: 'up', cpus: 2, memoryMB: 8192, gres: '', nodes: 1, state: 'idle', timeLimit: 'infinite'},
        {partition: 'high', avail: 'up', cpus: 2, memoryMB: 8192, gres: '', nodes: 1, state: 'idle', timeLimit: 'infinite'},
      ])
      expect(parseSinfo(SINFO_DOWN)[0].avail).to.equal('down')
    })

    it('takes the smallest value of a heterogeneous range and keeps GRES text (format from the sinfo man page)', () => {
      const [row] = parseSinfo('gpu|up|64+|515000+|gpu:a100:8(S:0-1)|4|mix|2-00:00:00\n')
      expect(row).to.include({cpus: 64, memoryMB: 515000, gres: 'gpu:a100:8(S:0-1)', nodes: 4, state: 'mix', timeLimit: '2-00:00:00'})
    })

    it('ignores blank and short lines', () => {
      expect(parseSinfo('\n\nlow|up\n')).to.deep.equal([])
    })
  })

  describe('scontrol show partition', () => {
    it('reads state, preemption mode, grace and tier', () => {
      const [low, high] = parsePartitions(PARTITIONS)
      expect(low).to.deep.equal({
        name: 'low',
        state: 'UP',
        preemptMode: 'REQUEUE',
        graceSeconds: 10,
        priorityTier: 1,
        totalCpus: 2,
        totalNodes: 1,
        isDefault: true,
        hidden: false,
        maxTime: 'UNLIMITED',
      })
      expect(high).to.include({name: 'high', preemptMode: 'OFF', graceSeconds: 0, priorityTier: 10, isDefault: false})
      expect(isPreemptible(low)).to.equal(true)
      expect(isPreemptible(high)).to.equal(false)
      expect(isPreemptible({preemptMode: 'SUSPEND,GANG'})).to.equal(true)
    })

    it('reads a DOWN partition', () => {
      expect(parsePartitions(PARTITIONS.replace('State=UP', 'State=DOWN'))[0].state).to.equal('DOWN')
    })

    it('keeps values that hold = and spaces whole', () => {
      const kv = parseKeyValues(
        'JobId=7 Reason=ReqNodeNotAvail, UnavailableNodes:vm TRES=cpu=2,mem=8G,node=1 CPUs/Task=2 AllocNode:Sid=localhost:4233 Power=',
      )
      expect(kv).to.deep.equal({
        JobId: '7',
        Reason: 'ReqNodeNotAvail, UnavailableNodes:vm',
        TRES: 'cpu=2,mem=8G,node=1',
        'CPUs/Task': '2',
        'AllocNode:Sid': 'localhost:4233',
        Power: '',
      })
    })
  })

  it('reads ClusterName from scontrol show config', () => {
    expect(parseClusterName(CONFIG)).to.equal('skyhop')
    expect(parseClusterName('SLURM_VERSION = 22.05.8\n')).to.equal(null)
  })

  describe('squeue', () => {
    it('reads every field of every state seen on the cluster', () => {
      const rows = parseSqueue(SQUEUE)
      expect(rows.map((r) => `${r.jobId}:${r.state}`)).to.deep.equal([
        '42:PENDING',
        '39:RUNNING',
        '24:FAILED',
        '25:COMPLETED',
        '28:CANCELLED',
        '29:CANCELLED',
        '20:CANCELLED',
        '6:CANCELLED',
      ])
      expect(rows[0]).to.deep.equal({
        jobId: '42',
        state: 'PENDING',
        reason: null,
        waitStatus: 0,
        restarts: 0,
        startTime: null,
        endTime: null,
        partition: 'low',
        stdout: '/dev/null',
        comment: null,
      })
      expect(rows[1].startTime).to.equal(new Date('2026-11-27T23:00:40').toISOString())
      expect(rows[1].endTime).to.equal(null)
      expect(rows[2]).to.include({reason: 'NonZeroExitCode', waitStatus: 768, comment: 'skyhop:att-13424-mwzl1ym8-1'})
      expect(rows[2].stdout).to.equal('/tmp/skyhop-slurm-KzKkyu/slurm/attempts/att-13424-mwzl1ym8-1/slurm.out')
      expect(rows[4].waitStatus).to.equal(15)
      expect(rows[6].reason).to.equal('PartitionDown')
      expect(rows[7]).to.include({waitStatus: 36608, restarts: 1})
    })

    it('reads requeued jobs', () => {
      const rows = parseSqueue(SQUEUE_REQUEUED)
      expect(rows.map((r) => [r.state, r.reason, r.restarts])).to.deep.equal([
        ['COMPLETING', null, 1],
        ['PENDING', 'BeginTime', 1],
        ['CANCELLED', 'BeginTime', 1],
      ])
    })

    it('keeps a comment that holds the separator', () => {
      const [row] = parseSqueue('9|RUNNING|None|0|0|2026-11-27T23:00:40|NONE|low|/dev/null|a|b|c|\n')
      expect(row.comment).to.equal('a|b|c')
    })
  })

  describe('scontrol show job', () => {
    it('reads PreemptTime of a job that ended inside its grace', () => {
      expect(parseScontrolJob(SCONTROL_PREEMPTED)).to.deep.equal({
        jobId: '35',
        state: 'COMPLETED',
        reason: null,
        restarts: 0,
        exitCode: 0,
        signal: 0,
        preemptTime: new Date('2026-11-27T22:59:58').toISOString(),
        startTime: new Date('2026-11-27T22:59:55').toISOString(),
        endTime: new Date('2026-11-27T22:59:58').toISOString(),
        partition: 'low',
        comment: 'skyhop:att-20767-mwzl3hah-1',
      })
    })

    it('reads exit codes, restarts and the absence of a preemption', () => {
      expect(parseScontrolJob(SCONTROL_FAILED)).to.include({
        state: 'FAILED',
        reason: 'NonZeroExitCode',
        exitCode: 3,
        signal: 0,
        preemptTime: null,
        comment: 'skyhop:att-bad',
      })
      expect(parseScontrolJob(SCONTROL_REQUEUED)).to.include({state: 'CANCELLED', reason: 'BeginTime', restarts: 1, preemptTime: null})
      expect(parseScontrolJob('slurm_load_jobs error: Invalid job id specified\n')).to.equal(null)
    })
  })

  describe('sbatch', () => {
    it('reads the job id of --parsable, with or without a cluster', () => {
      expect(parseSbatchParsable('24\n')).to.equal('24')
      expect(parseSbatchParsable('24;skyhop\n')).to.equal('24')
      expect(parseSbatchParsable('')).to.equal(null)
      expect(parseSbatchParsable('sbatch: error: something\n')).to.equal(null)
    })

    it('reads --test-only answers', () => {
      expect(parseTestOnly(TEST_ONLY_IDLE)).to.deep.equal({
        jobId: '18',
        startAt: '2026-11-27T22:52:38',
        processors: 2,
        nodes: 'vm',
        partition: 'low',
        preempts: [],
      })
      expect(parseTestOnly(TEST_ONLY_PREEMPTS)?.preempts).to.deep.equal(['39'])
      expect(parseTestOnly(TEST_ONLY_NEVER)?.startAt).to.equal('2027-11-27T23:00:40')
      expect(
        parseTestOnly('sbatch: Job 389 to start at 10193-01-12T03:54:29 using 2 processors on nodes vm in partition high\n')?.startAt,
      ).to.equal('10193-01-12T03:54:29')
      expect(parseTestOnly(TEST_ONLY_TOO_BIG)).to.equal(null)
    })
  })

  describe('sacct', () => {
    it('reads --parsable2 rows (format from the sacct man page; accounting is off on the test cluster)', () => {
      const rows = parseSacct(
        '41|COMPLETED|0:0|2026-11-27T23:00:41|2026-11-27T23:00:43|None|high\n42|CANCELLED by 0|0:15|2026-11-27T23:00:44|2026-11-27T23:00:45|None|low\n43|OUT_OF_MEMORY|0:125|2026-11-27T23:01:00|2026-11-27T23:01:09|OutOfMemory|high\n',
      )
      expect(rows.map((r) => [r.jobId, r.state, r.exitCode, r.signal])).to.deep.equal([
        ['41', 'COMPLETED', 0, 0],
        ['42', 'CANCELLED', 0, 15],
        ['43', 'OUT_OF_MEMORY', 0, 125],
      ])
    })

    it('yields nothing for the disabled-accounting answer', () => {
      expect(parseSacct('Slurm accounting storage is disabled\n')).to.deep.equal([])
    })
  })

  describe('GRES (formats from the Slurm gres documentation)', () => {
    it('reads name, type and count, socket lists included', () => {
      expect(parseGres('gpu:a100:8(S:0-1)')).to.deep.equal([{name: 'gpu', type: 'a100', count: 8}])
      expect(parseGres('gpu:4,npu:910b:8(S:0,1)')).to.deep.equal([
        {name: 'gpu', type: null, count: 4},
        {name: 'npu', type: '910b', count: 8},
      ])
      expect(parseGres('(null)')).to.deep.equal([])
      expect(parseGres('')).to.deep.equal([])
      expect(parseGres('mps')).to.deep.equal([{name: 'mps', type: null, count: 1}])
    })
  })

  describe('exit codes and times', () => {
    it('decodes wait statuses as squeue prints them', () => {
      expect(decodeWaitStatus(0)).to.deep.equal({exitCode: 0, signal: null})
      expect(decodeWaitStatus(768)).to.deep.equal({exitCode: 3, signal: null})
      expect(decodeWaitStatus(36608)).to.deep.equal({exitCode: 143, signal: null})
      expect(decodeWaitStatus(15)).to.deep.equal({exitCode: 143, signal: 15})
      expect(decodeWaitStatus(9)).to.deep.equal({exitCode: 137, signal: 9})
    })

    it('reads exit:signal pairs', () => {
      expect(parseExitPair('3:0')).to.deep.equal({code: 3, signal: 0})
      expect(parseExitPair('0:15')).to.deep.equal({code: 0, signal: 15})
      expect(parseExitPair('N/A')).to.equal(null)
    })

    it('reads Slurm times as local time, and its words for none as null', () => {
      expect(slurmTime('2026-11-27T22:48:08')).to.equal(new Date(2026, 10, 27, 22, 48, 8).toISOString())
      for (const none of ['N/A', 'NONE', 'Unknown', 'None', '']) expect(slurmTime(none)).to.equal(null)
    })

    it('picks the line of stderr worth showing', () => {
      expect(slurmMessage('sbatch: error: Batch job submission failed: Required partition not available (inactive or drain)\n')).to.equal(
        'Batch job submission failed: Required partition not available (inactive or drain)',
      )
      expect(slurmMessage('slurm_load_partitions: Unable to contact slurm controller (connect failure)\n')).to.equal(
        'Unable to contact slurm controller (connect failure)',
      )
      expect(
        slurmMessage('sbatch: error: invalid partition specified: nosuch\nallocation failure: Invalid partition name specified\n'),
      ).to.equal('invalid partition specified: nosuch')
    })
  })

  describe('parseSlurmVersion', () => {
    it('reads the release from what the clients print to --version: upstream, Debian’s and a distribution’s suffixed build', () => {
      expect(parseSlurmVersion('slurm-wlm 22.05.8\n')).to.deep.equal({major: 22, minor: 5, patch: 8, text: '22.05.8'})
      expect(parseSlurmVersion('slurm 23.11.4\n')).to.deep.equal({major: 23, minor: 11, patch: 4, text: '23.11.4'})
      expect(parseSlurmVersion('slurm 20.11.9-1ubuntu2\n')).to.deep.equal({major: 20, minor: 11, patch: 9, text: '20.11.9'})
      expect(parseSlurmVersion('slurm 24.05\n')).to.deep.equal({major: 24, minor: 5, patch: 0, text: '24.05'})
    })

    it('says null for anything else', () => {
      expect(parseSlurmVersion('')).to.equal(null)
      expect(parseSlurmVersion('srun: error: unrecognized option --version')).to.equal(null)
      expect(parseSlurmVersion('slurmd 23.11.4')).to.equal(null)
    })

    it('compares releases by year and month: 20.11 is the first with srun --overlap', () => {
      const at = (text: string) => slurmAtLeast(parseSlurmVersion(text)!, 20, 11)
      expect(['slurm 20.02.7', 'slurm 19.05.5', 'slurm 17.11.13'].map(at)).to.deep.equal([false, false, false])
      expect(['slurm 20.11.0', 'slurm 21.08.8', 'slurm-wlm 22.05.8', 'slurm 25.05.1'].map(at)).to.deep.equal([true, true, true, true])
    })
  })
})
