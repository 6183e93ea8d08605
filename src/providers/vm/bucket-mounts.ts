// The boot script's lines that mount a job's `files:` entries with `mode: mount`
// (docs/job-file.md#files-and-outputs), each with its cloud's FUSE tool: mountpoint-s3
// (`mount-s3`), ossfs, obsfs, cosfs, gcsfuse. skyhop puts no key on the instance for them:
// each tool is pointed at the instance's own role (an IAM instance profile, a RAM role, a
// CAM role, a service account) where it can use one, and the mount fails, before the job
// starts, where the instance has none. A tool that is missing is installed from the
// distribution's packages or the vendor's package where one is published. Every value is
// shell-quoted; the lines are tested as text (test/unit/providers/bucket-mounts.test.ts).
import type {FileEntry} from '../../model/job-spec.js'
import {shellQuote as q} from '../../runner/contract.js'

type MountEntry = FileEntry & {source: Extract<FileEntry['source'], {kind: 'bucket'}>}

export function isMount(entry: FileEntry): entry is MountEntry {
  return entry.mode === 'mount' && entry.source.kind === 'bucket'
}

/** A prefix as the tools want it: '' for the bucket's root, else without a leading and with a trailing slash. */
function prefix(key: string): string {
  const k = key.replace(/^\/+|\/+$/g, '')
  return k === '' ? '' : `${k}/`
}

/** The command that mounts one entry (after its tool is there), and the tool's install line. */
export function mountCommand(entry: MountEntry, fallbackRegion: string): {tool: string; install: string; command: string} {
  const {scheme, bucket, key, endpoint} = entry.source
  const region = entry.source.region ?? fallbackRegion
  const dest = q(entry.path)
  const p = prefix(key)
  switch (scheme) {
    case 's3':
      // mountpoint-s3 reads the instance profile's credentials itself (the SDK's chain).
      return {
        tool: 'mount-s3',
        install:
          'command -v mount-s3 >/dev/null 2>&1 || { a=$(uname -m); curl -fsSL -o /tmp/mount-s3.deb "https://s3.amazonaws.com/mountpoint-s3-release/latest/$a/mount-s3.deb" && apt-get install -y -qq /tmp/mount-s3.deb; } || { curl -fsSL -o /tmp/mount-s3.rpm "https://s3.amazonaws.com/mountpoint-s3-release/latest/$(uname -m)/mount-s3.rpm" && yum install -y /tmp/mount-s3.rpm; }',
        command: [
          'mount-s3',
          '--region',
          q(region),
          ...(endpoint === null ? [] : ['--endpoint-url', q(endpoint)]),
          ...(p === '' ? [] : ['--prefix', q(p)]),
          '--allow-other',
          q(bucket),
          dest,
        ].join(' '),
      }
    case 'oss':
      // ossfs takes the RAM role's credentials from the metadata server (-oram_role), named there too.
      return {
        tool: 'ossfs',
        install: 'command -v ossfs >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq ossfs; } || yum install -y ossfs',
        command: [
          'ossfs',
          q(`${bucket}:/${p}`),
          dest,
          q(`-ourl=${endpoint ?? `https://oss-${region}-internal.aliyuncs.com`}`),
          '"-oram_role=http://100.100.100.200/latest/meta-data/ram/security-credentials/$(curl -fsS http://100.100.100.200/latest/meta-data/ram/security-credentials/)"',
          '-oallow_other',
        ].join(' '),
      }
    case 'obs':
      return {
        tool: 'obsfs',
        install: 'command -v obsfs >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq obsfs; } || yum install -y obsfs',
        command: [
          'obsfs',
          q(`${bucket}:/${p}`),
          dest,
          '-o',
          q(`url=${endpoint ?? `https://obs.${region}.myhuaweicloud.com`}`),
          '-o',
          'allow_other',
        ].join(' '),
      }
    case 'cos':
      // cosfs asks the metadata server for the CAM role's temporary keys (-ocam_role=sts).
      return {
        tool: 'cosfs',
        install: 'command -v cosfs >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq cosfs; } || yum install -y cosfs',
        command: [
          'cosfs',
          q(`${bucket}:/${p}`),
          dest,
          q(`-ourl=${endpoint ?? `https://cos.${region}.myqcloud.com`}`),
          '-ocam_role=sts',
          '-oallow_other',
        ].join(' '),
      }
    case 'gs':
      // gcsfuse uses the instance's service account (application default credentials).
      return {
        tool: 'gcsfuse',
        install: 'command -v gcsfuse >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq gcsfuse; }',
        command: ['gcsfuse', ...(p === '' ? [] : ['--only-dir', q(p.replace(/\/$/, ''))]), '-o', 'allow_other', q(bucket), dest].join(' '),
      }
  }
}

/**
 * The boot script's mount lines (empty without mounts): each entry's tool installed when
 * missing, its path made, the mount run. A mount that fails ends the boot before the runner
 * starts, with an `error` event and exit 70 on the console (the runner's own code for an
 * attempt that could not start its job), so the job never runs over an empty directory.
 * `console` is the boot script's console prefixes (CONSOLE_PREFIX).
 */
export function mountLines(files: readonly FileEntry[] | undefined, region: string, console: {event: string; exit: string}): string {
  const mounts = (files ?? []).filter(isMount)
  if (mounts.length === 0) return ''
  const lines = [
    "# The job's files: with mode: mount, each with its cloud's FUSE tool (no key: the instance's role).",
    'sk_mount_fail() {',
    `  sk_say "${console.event} {\\"ts\\":\\"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\\",\\"event\\":\\"error\\",\\"message\\":\\"$1\\"}"`,
    `  sk_say "${console.exit} 70 none"`,
    '  sk_poweroff 70',
    '}',
  ]
  for (const entry of mounts) {
    const {tool, install, command} = mountCommand(entry, region)
    const what = q(`files: cannot mount ${entry.source.scheme}://${entry.source.bucket}/${entry.source.key} at ${entry.path} with ${tool}`)
    lines.push(
      'if [[ -z ${SKYHOP_BOOT_ROOT-} ]]; then',
      `  { ${install}; } >>"$D/runner.log" 2>&1`,
      `  { mkdir -p ${q(entry.path)} && ${command}; } >>"$D/runner.log" 2>&1 || sk_mount_fail ${what}`,
      'fi',
    )
  }
  return lines.join('\n')
}
