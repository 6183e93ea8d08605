import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {duration} from '../cli/flags.js'
import {abortOn} from '../cli/signals.js'
import {resolveDashboardToken, startDashboard} from '../services/dashboard.js'

export interface DashboardResult {
  url: string
  host: string
  port: number
  /** Whether every request must carry the token; the token itself is never in this output. */
  tokenRequired: boolean
  tokenSource: 'none' | 'file' | 'generated' | 'users'
}

export default class Dashboard extends BaseCommand {
  static override summary = 'Serve a web page of jobs, attempts, sweeps, services and cost, live, until interrupted.'
  static override description = `Bound to 127.0.0.1 by default. Bound to any other address every request needs a token: from --token-file, or generated and printed once (never under --json, which then requires --token-file), or one per user from --tokens. The page reads the same state as \`status\`, \`sweeps\`, \`serve status\` and \`cost\`; its cancel button is \`skyhop cancel\`, run as the user who started the dashboard, or with --tokens as the user whose token the request carries (so the same role rules apply). See docs/dashboard.md.`
  static override examples = [
    '<%= config.bin %> dashboard',
    '<%= config.bin %> dashboard --port 0',
    '<%= config.bin %> dashboard --host 0.0.0.0 --port 8350 --token-file ~/.skyhop-dashboard-token',
    '<%= config.bin %> dashboard --host 0.0.0.0 --tokens /etc/skyhop/dashboard-tokens',
  ]
  static override flags = {
    host: Flags.string({description: 'address to listen on; anything but loopback requires a token', default: '127.0.0.1'}),
    port: Flags.integer({description: 'port to listen on (0: any free port)', default: 8350, min: 0, max: 65535}),
    'token-file': Flags.string({
      description: 'file holding the access token (one word, at least 32 characters)',
      exclusive: ['tokens'],
    }),
    tokens: Flags.string({
      description: "file of per-user tokens: `USER: SHA256` lines (the hash of each user's token); the page acts as the token's user",
      exclusive: ['token-file'],
    }),
    interval: duration({description: 'how often the page is brought up to date', default: 1, defaultHelp: async () => '1s'}),
    limit: Flags.integer({description: 'most jobs shown', default: 50, min: 1}),
    'all-users': Flags.boolean({description: "every user's jobs, as status --all-users (default: only yours)"}),
    grace: duration({
      description: "time a job cancelled from the page gets to exit, as cancel's --grace",
      default: 30,
      defaultHelp: async () => '30s',
    }),
  }

  /** Under --json the one document is printed once the server listens; the command then runs until a signal. */
  private printed = false

  override logJson(json: unknown): void {
    if (this.printed) return
    super.logJson(json)
  }

  async run(): Promise<DashboardResult> {
    const {flags} = await this.parse(Dashboard)
    const token = resolveDashboardToken({
      host: flags.host,
      tokenFile: flags['token-file'],
      tokensFile: flags.tokens,
      canShowToken: !this.jsonEnabled(),
    })
    const stop = abortOn(['SIGINT', 'SIGTERM', 'SIGHUP'])
    const running = await startDashboard(this.ctx, {
      host: flags.host,
      port: flags.port,
      token,
      intervalSeconds: Math.max(flags.interval, 0.2),
      limit: flags.limit,
      allUsers: flags['all-users'] === true,
      graceSeconds: flags.grace,
    })
    const result: DashboardResult = {
      url: running.url,
      host: running.host,
      port: running.port,
      tokenRequired: token.source !== 'none',
      tokenSource: token.source,
    }
    if (this.jsonEnabled()) {
      this.logJson(this.toSuccessJson(result))
      this.printed = true
    } else {
      this.out(`dashboard: ${running.openUrl}`)
      if (token.source === 'generated')
        this.note('The token is in that address and is shown only this once; anyone with it can cancel jobs.')
      if (token.source === 'file')
        this.note(`Every request needs the token of ${flags['token-file']}: open ${running.url}?token=TOKEN once.`)
      if (token.source === 'users')
        this.note(
          `Every request needs a token of ${flags.tokens} (${token.users!.length} user(s)): each opens ${running.url}?token=THEIR_TOKEN once and acts as themselves.`,
        )
      this.note('Ctrl-C stops it.')
    }
    await new Promise<void>((resolve) => (stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), {once: true})))
    await running.close()
    return result
  }
}
