// Preloaded (NODE_OPTIONS=--require) into the skyhop processes of the concurrency chaos
// scenario: `skyhop controller` starts SKYHOP_CHAOS_CONTROLLER_START_MS (default 3000) late,
// as it does on a loaded CI machine, so that a `recover` runs while the controller another one
// started has not yet taken over the lease claimed for it. Other commands start as usual.
'use strict'
if (process.argv[2] === 'controller') {
  const ms = Number(process.env.SKYHOP_CHAOS_CONTROLLER_START_MS) || 3000
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}
