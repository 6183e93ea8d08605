// The dashboard page: draws the snapshot the server streams (/api/events, Server-Sent
// Events) as tables and inline SVG plots built here, with no library and no network beyond
// this server. Every value from the store enters the page as text (textContent, attributes),
// never as markup.
'use strict'

const SVG_NS = 'http://www.w3.org/2000/svg'
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED'])
const PROVIDER_COLORS = {
  local: '#5b8def',
  slurm: '#8e6bd8',
  aws: '#f29d38',
  gcp: '#3fa66b',
  azure: '#2f7fc1',
  aliyun: '#e8643c',
  tencentcloud: '#20a3a3',
  huaweicloud: '#d8434f',
  kubernetes: '#326ce5',
}
const EXTRA_COLORS = ['#9c7b4f', '#b04fa3', '#6f8f2f', '#4f6f9c', '#c28f00']

/** Jobs whose cancel was asked for from this page and has not ended yet. */
const cancelling = new Set()
let latest = null

function colorOf(provider) {
  if (PROVIDER_COLORS[provider]) return PROVIDER_COLORS[provider]
  let h = 0
  for (const ch of provider) h = (h * 31 + ch.charCodeAt(0)) >>> 0
  return EXTRA_COLORS[h % EXTRA_COLORS.length]
}

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue
    if (k === 'text') node.textContent = v
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    else if (k === 'style') for (const [p, value] of Object.entries(v)) node.style.setProperty(p, value)
    else node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c) node.append(c)
  return node
}

function svg(tag, attrs = {}, children = []) {
  const node = document.createElementNS(SVG_NS, tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) continue
    if (k === 'text') node.textContent = v
    else node.setAttribute(k, String(v))
  }
  for (const c of children) if (c) node.append(c)
  return node
}

const tip = (text) => svg('title', {text})

function money(usd) {
  if (usd === null || usd === undefined) return 'unknown'
  if (usd !== 0 && Math.abs(usd) < 0.01) return `$${usd.toFixed(4)}`
  return `$${usd.toFixed(2)}`
}

const ms = (iso) => (iso ? Date.parse(iso) : NaN)

function clock(t) {
  const d = new Date(t)
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')
}

function where(a) {
  return `${a.provider} · ${a.zone || a.region}${a.accelerator ? ` · ${a.accelerator}` : ''}`
}

// ---- timeline ---------------------------------------------------------------------------

function attemptSpan(a, now) {
  const start = ms(a.startedAt) || ms(a.launchedAt) || ms(a.intentAt)
  const end = a.endedAt ? ms(a.endedAt) : TERMINAL_ATTEMPT.has(a.state) ? start : now
  return [start, Math.max(end, start)]
}
const TERMINAL_ATTEMPT = new Set(['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'])

function drawTimeline(snapshot) {
  const host = document.getElementById('timeline')
  const jobs = snapshot.jobs
  const now = ms(snapshot.generatedAt)
  let t0 = Infinity
  for (const j of jobs) {
    t0 = Math.min(t0, ms(j.createdAt))
    for (const a of j.attemptsDetail) t0 = Math.min(t0, attemptSpan(a, now)[0])
  }
  if (!Number.isFinite(t0)) t0 = now - 60_000
  const t1 = Math.max(now, t0 + 60_000)
  const width = Math.max(host.clientWidth || 900, 640)
  const left = 170
  const right = 16
  const rowH = 30
  const top = 24
  const height = top + Math.max(jobs.length, 1) * rowH + 8
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right)
  const chart = svg('svg', {width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'attempts on a timeline'})

  for (let i = 0; i <= 5; i++) {
    const t = t0 + ((t1 - t0) * i) / 5
    chart.append(svg('line', {x1: x(t), x2: x(t), y1: top - 4, y2: height - 4, class: 'grid'}))
    chart.append(
      svg('text', {x: x(t), y: 14, class: 'tick', 'text-anchor': i === 0 ? 'start' : i === 5 ? 'end' : 'middle', text: clock(t)}),
    )
  }
  chart.append(svg('line', {x1: x(now), x2: x(now), y1: top - 4, y2: height - 4, class: 'now'}, [tip('now')]))

  const providers = new Set()
  jobs.forEach((job, row) => {
    const y = top + row * rowH
    const g = svg('g', {class: 'job-row', 'data-job': job.id, 'data-name': job.name})
    g.append(
      svg('text', {x: 4, y: y + 19, class: `row-label state-${job.state}`, text: job.name}, [tip(`${job.name} (${job.id}): ${job.state}`)]),
    )
    for (const a of job.attemptsDetail) {
      providers.add(a.provider)
      const [s, e] = attemptSpan(a, now)
      const attrs = {'data-attempt': a.id, 'data-provider': a.provider, 'data-state': a.state, 'data-zone': a.zone || a.region}
      if (a.launchFailed) {
        // A launch that failed (capacity, quota, auth): the controller failed over to the next candidate.
        const cx = x(s)
        g.append(
          svg('g', {class: 'mark failover', ...attrs}, [
            svg('path', {d: `M${cx - 5},${y + 8} L${cx + 5},${y + 20} M${cx + 5},${y + 8} L${cx - 5},${y + 20}`}),
            tip(`attempt ${a.n}: launch on ${where(a)} failed (${a.reason || 'no reason recorded'}); failed over`),
          ]),
        )
        continue
      }
      const bx = x(s)
      const bw = Math.max(x(e) - bx, 3)
      const cls = ['attempt', a.spot ? 'spot' : 'on-demand', TERMINAL_ATTEMPT.has(a.state) ? 'ended' : 'live'].join(' ')
      const describe = `attempt ${a.n}: ${where(a)} · ${a.instanceType} · ${a.spot ? 'spot' : 'on-demand'} · ${a.state}${a.reason ? ` (${a.reason})` : ''}`
      g.append(
        svg('rect', {x: bx, y: y + 5, width: bw, height: rowH - 10, rx: 3, fill: colorOf(a.provider), class: cls, ...attrs}, [
          tip(describe),
        ]),
      )
      const label = where(a)
      if (bw > label.length * 6.2 + 8) g.append(svg('text', {x: bx + 4, y: y + 19, class: 'bar-label', text: label}))
      if (a.state === 'PREEMPTED') {
        const px = bx + bw
        g.append(
          svg('g', {class: 'mark preemption', ...attrs}, [
            svg('path', {d: `M${px - 6},${y + 1} L${px + 6},${y + 1} L${px},${y + 11} Z`}),
            tip(
              `attempt ${a.n} preempted on ${where(a)}${a.endedAt ? ` at ${clock(ms(a.endedAt))}` : ''}${a.reason ? `: ${a.reason}` : ''}`,
            ),
          ]),
        )
      }
    }
    chart.append(g)
  })
  host.replaceChildren(chart)

  const legend = document.getElementById('legend')
  legend.replaceChildren(
    ...[...providers]
      .sort()
      .map((p) => el('span', {class: 'key'}, [el('i', {style: {background: colorOf(p)}}), document.createTextNode(p)])),
    el('span', {class: 'key'}, [el('i', {class: 'spot-key'}), document.createTextNode('spot (dashed)')]),
    el('span', {class: 'key'}, [el('b', {class: 'preempt-key', text: '▼'}), document.createTextNode('preempted')]),
    el('span', {class: 'key'}, [el('b', {class: 'failover-key', text: '✕'}), document.createTextNode('launch failed, failed over')]),
  )
}

// ---- jobs table -------------------------------------------------------------------------

// A live update changes rows in place: swapping a row (and its cancel button) under a person's
// pointer loses their click, so a job's row is built once and only its texts change; it is
// rebuilt only when its button changes (the job ended, or a cancel is under way), and the table
// is re-filled only when the rows or their order changed.
const jobRows = new Map()

function drawJobs(snapshot) {
  const body = document.querySelector('#jobs tbody')
  document.getElementById('no-jobs').hidden = snapshot.jobs.length > 0
  const rows = snapshot.jobs.map((job) => {
    if (TERMINAL.has(job.state)) cancelling.delete(job.id)
    const button = TERMINAL.has(job.state) ? 'none' : cancelling.has(job.id) ? 'busy' : 'cancel'
    let kept = jobRows.get(job.id)
    if (!kept || kept.button !== button) {
      kept = {button, row: jobRow(job, button)}
      jobRows.set(job.id, kept)
    }
    fillJobRow(kept.row, job)
    return kept.row
  })
  const shown = new Set(snapshot.jobs.map((job) => job.id))
  for (const id of jobRows.keys()) if (!shown.has(id)) jobRows.delete(id)
  const current = [...body.children]
  if (current.length !== rows.length || current.some((row, i) => row !== rows[i])) body.replaceChildren(...rows)
}

function jobRow(job, button) {
  let action = null
  if (button !== 'none') {
    const busy = button === 'busy'
    action = el('button', {class: 'cancel', 'data-job': job.id, disabled: busy, text: busy ? 'cancelling…' : 'cancel'})
    action.addEventListener('click', () => cancelJob(latestJob(job)))
  }
  return el('tr', {'data-job': job.id}, [
    el('td', {}, [el('span', {class: 'name'}), el('small')]),
    el('td', {}, [el('span')]),
    el('td'),
    el('td'),
    el('td', {class: 'attempts'}),
    el('td', {class: 'cost', title: 'paid / on-demand'}),
    el('td'),
    el('td', {}, [action]),
  ])
}

function fillJobRow(row, job) {
  const counts = [`${job.attempts}`]
  if (job.preemptions) counts.push(`${job.preemptions} preempted`)
  if (job.failovers) counts.push(`${job.failovers} failed over`)
  const [name, state, where, accelerator, attempts, cost, created] = row.children
  row.setAttribute('data-state', job.state)
  setText(name.children[0], job.name)
  setText(name.children[1], ` ${job.id}`)
  state.children[0].className = `chip state-${job.state}`
  setText(state.children[0], job.state)
  setText(where, job.provider ? `${job.provider}/${job.region}` : '–')
  setText(accelerator, job.accelerator || '–')
  setText(attempts, counts.join(', '))
  setText(cost, job.cost ? `${money(job.cost.usd)} / ${money(job.cost.onDemandUsd)}` : '–')
  setText(created, clock(ms(job.createdAt)))
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text
}

/** The job as the latest snapshot has it (a row's button outlives the snapshot it was built from). */
function latestJob(job) {
  return latest?.jobs.find((j) => j.id === job.id) ?? job
}

async function cancelJob(job) {
  if (!window.confirm(`Cancel ${job.name} (${job.id})? Its attempts get their signal, then SIGKILL after the grace.`)) return
  cancelling.add(job.id)
  if (latest) drawJobs(latest)
  const csrf = document.querySelector('meta[name="skyhop-csrf"]').content
  try {
    const res = await fetch(`/api/jobs/${encodeURIComponent(job.id)}/cancel`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'X-Skyhop-CSRF': csrf, 'Content-Type': 'application/json'},
      body: '{}',
    })
    const body = await res.json()
    if (!res.ok) throw new Error(body.error ? `${body.error.message}${body.error.hint ? ` — ${body.error.hint}` : ''}` : res.statusText)
    toast(body.alreadyEnded ? `${job.name} had already ended` : `${job.name} cancelled`)
  } catch (error) {
    cancelling.delete(job.id)
    toast(`cancel of ${job.name} failed: ${error.message}`, true)
    if (latest) drawJobs(latest)
  }
}

function toast(message, bad = false) {
  const t = document.getElementById('toast')
  t.textContent = message
  t.className = bad ? 'show bad' : 'show'
  clearTimeout(toast.timer)
  toast.timer = setTimeout(() => (t.className = ''), 6000)
}

// ---- cost -------------------------------------------------------------------------------

function drawCost(snapshot) {
  const c = snapshot.cost
  const paid = c.total.usd === null ? `at least ${money(c.total.knownUsd)}` : money(c.total.usd)
  const head = document.getElementById('cost-total')
  head.replaceChildren(
    document.createTextNode('paid '),
    el('b', {class: 'paid', text: paid}),
    document.createTextNode(' · on-demand '),
    el('b', {class: 'on-demand', text: money(c.total.onDemandUsd)}),
    document.createTextNode(' · spot saved '),
    el('b', {class: 'saved', text: money(c.total.spotSavedUsd)}),
  )
  const rows = c.byProvider
  const host = document.getElementById('cost-plot')
  if (rows.length === 0) {
    host.replaceChildren(el('p', {class: 'empty', text: 'Nothing paid yet.'}))
    return
  }
  const width = Math.max(host.clientWidth || 600, 420)
  const left = 120
  const barH = 12
  const rowH = 2 * barH + 14
  const height = rows.length * rowH + 10
  const max = Math.max(...rows.map((r) => Math.max(r.onDemandUsd, r.knownUsd)), 0.0001)
  const scale = (v) => (v / max) * (width - left - 140)
  const chart = svg('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': 'cost against on-demand by provider',
  })
  rows.forEach((r, i) => {
    const y = 6 + i * rowH
    const paidUsd = r.usd === null ? r.knownUsd : r.usd
    chart.append(
      svg('g', {class: 'cost-row', 'data-provider': r.provider}, [
        svg('text', {x: 4, y: y + barH + 4, class: 'row-label', text: r.provider}),
        svg('rect', {x: left, y, width: Math.max(scale(paidUsd), 1), height: barH, fill: colorOf(r.provider), class: 'paid'}, [
          tip(`${r.provider}: paid ${money(r.usd)}`),
        ]),
        svg('text', {x: left + scale(paidUsd) + 6, y: y + barH - 2, class: 'value', text: `${money(r.usd)} paid`}),
        svg('rect', {x: left, y: y + barH + 2, width: Math.max(scale(r.onDemandUsd), 1), height: barH, class: 'on-demand-bar'}, [
          tip(`${r.provider}: ${money(r.onDemandUsd)} on demand`),
        ]),
        svg('text', {x: left + scale(r.onDemandUsd) + 6, y: y + 2 * barH, class: 'value', text: `${money(r.onDemandUsd)} on-demand`}),
      ]),
    )
  })
  host.replaceChildren(chart)
}

// ---- sweeps and services ----------------------------------------------------------------

const SWEEP_PARTS = [
  ['succeeded', '#3fa66b'],
  ['running', '#5b8def'],
  ['failed', '#d8434f'],
  ['cancelled', '#9aa0a6'],
  ['pending', '#dde3ea'],
]

function drawSweeps(snapshot) {
  const host = document.getElementById('sweeps')
  if (snapshot.sweeps.length === 0) {
    host.replaceChildren(el('p', {class: 'empty', text: 'No sweeps.'}))
    return
  }
  host.replaceChildren(
    ...snapshot.sweeps.map((s) => {
      const total = Math.max(s.jobs, 1)
      const width = 320
      const bar = svg('svg', {
        width,
        height: 16,
        class: 'progress',
        role: 'img',
        'aria-label': `${s.counts.succeeded} of ${s.jobs} succeeded`,
      })
      let at = 0
      for (const [part, color] of SWEEP_PARTS) {
        const n = s.counts[part] || 0
        if (n === 0) continue
        const w = (n / total) * width
        bar.append(svg('rect', {x: at, y: 0, width: w, height: 16, fill: color, class: `part ${part}`}, [tip(`${n} ${part}`)]))
        at += w
      }
      const budget = s.budget ? ` of ${s.budget.amount} ${s.budget.currency} budget` : ''
      return el('div', {class: 'sweep', 'data-sweep': s.id}, [
        el('span', {class: 'name', text: s.name}),
        el('span', {class: `chip state-${s.state}`, text: s.state}),
        bar,
        el('span', {class: 'counts', text: `${s.counts.succeeded}/${s.jobs} done · ${money(s.costUsd)}${budget}`}),
      ])
    }),
  )
}

function drawServices(snapshot) {
  const host = document.getElementById('services')
  if (snapshot.services.length === 0) {
    host.replaceChildren(el('p', {class: 'empty', text: 'No services running.'}))
    return
  }
  host.replaceChildren(
    ...snapshot.services.map((s) => {
      const perHour = s.costPerHour ? `${s.costPerHour.amount} ${s.costPerHour.currency}/h` : 'price unknown'
      const od = s.onDemandCostPerHour ? ` (on-demand ${s.onDemandCostPerHour.amount} ${s.onDemandCostPerHour.currency}/h)` : ''
      return el('div', {class: 'service', 'data-service': s.id}, [
        el('div', {}, [
          el('span', {class: 'name', text: s.name}),
          el('span', {class: `chip state-${s.state}`, text: s.state}),
          el('span', {class: 'counts', text: `${s.readyReplicas}/${s.targetReplicas} ready · ${perHour}${od}`}),
          s.endpoint ? el('code', {text: s.endpoint}) : null,
        ]),
        el(
          'div',
          {class: 'replicas'},
          s.replicas.map((r) =>
            el('span', {class: `replica state-${r.state}`, 'data-provider': r.provider, style: {'border-color': colorOf(r.provider)}}, [
              el('b', {text: `#${r.n}`}),
              document.createTextNode(
                ` ${r.provider} · ${r.zone || r.region}${r.accelerator ? ` · ${r.accelerator}` : ''}${r.spot ? ' · spot' : ''} · ${r.state}`,
              ),
            ]),
          ),
        ),
      ])
    }),
  )
}

// ---- live updates -----------------------------------------------------------------------

function render(snapshot) {
  latest = snapshot
  drawTimeline(snapshot)
  drawJobs(snapshot)
  drawCost(snapshot)
  drawSweeps(snapshot)
  drawServices(snapshot)
  const live = document.getElementById('live')
  live.className = 'live ok'
  live.textContent = `live · updated ${clock(ms(snapshot.generatedAt))}`
  document.body.dataset.generatedAt = snapshot.generatedAt
}

function connect() {
  const events = new EventSource('/api/events')
  const live = document.getElementById('live')
  events.addEventListener('snapshot', (e) => render(JSON.parse(e.data)))
  events.addEventListener('failure', (e) => {
    live.className = 'live bad'
    live.textContent = `cannot read the state: ${JSON.parse(e.data).message}`
  })
  events.addEventListener('error', () => {
    live.className = 'live bad'
    live.textContent = 'disconnected, retrying…'
  })
}

window.addEventListener('resize', () => latest && render(latest))
connect()
