// Where the store keeps its data under skyhop's home; a module of its own so that callers
// can look for the store without loading it.

/** The SQLite file of the store. */
export const STATE_DB = 'state.db'
