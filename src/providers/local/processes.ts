// What this machine's kernel says about the processes of an attempt. Pids are reused and
// an init that reaps slowly (containers) leaves zombies that `kill -0` still sees, so
// liveness is read from /proc where there is one, and a runner is recognized by its
// command line, not by its pid alone.
import {readdirSync, readFileSync} from 'node:fs'

const HAS_PROC = (() => {
  try {
    readFileSync('/proc/self/stat')
    return true
  } catch {
    return false
  }
})()

interface Stat {
  state: string
  pgid: number
  /** Clock ticks after boot at which the process started: with the pid, who it is (pids are reused). */
  startTime: string
}

function readStat(pid: number): Stat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses; starttime is field 22.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return {state: fields[0], pgid: Number(fields[2]), startTime: fields[19]}
  } catch {
    return null
  }
}

/** When the process started (/proc's starttime), to tell it from a later one with its pid; null without /proc. */
export function processStartTime(pid: number): string | null {
  return HAS_PROC ? (readStat(pid)?.startTime ?? null) : null
}

/** `pid` alive and, when its start time was recorded, still the process that had it then. */
export function sameProcessAlive(pid: number, startTime: string | null | undefined): boolean {
  if (!processAlive(pid)) return false
  return startTime == null || !HAS_PROC || readStat(pid)?.startTime === startTime
}

function killZero(target: number): boolean {
  try {
    process.kill(target, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Running (or stopped), not a zombie. */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  if (!HAS_PROC) return killZero(pid)
  const stat = readStat(pid)
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X'
}

/** Whether `pid` is alive and is the runner of `attemptDir` (not a stranger that got its pid). */
export function isRunnerOf(pid: number, attemptDir: string): boolean {
  if (!processAlive(pid)) return false
  if (!HAS_PROC) return true
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    return argv.some((arg) => arg.endsWith('skyhop-runner.sh')) && argv.includes(attemptDir)
  } catch {
    return false
  }
}

/** Whether any live (non-zombie) process is left in process group `pgid`. */
export function groupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false
  if (!killZero(-pgid)) return false
  if (!HAS_PROC) return true
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = readStat(Number(entry))
    if (stat && stat.pgid === pgid && stat.state !== 'Z' && stat.state !== 'X') return true
  }
  return false
}

/** Sends `signal` to a process (or a group, with a negative id); false if nothing was there. */
export function sendSignal(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal)
    return true
  } catch {
    return false
  }
}
