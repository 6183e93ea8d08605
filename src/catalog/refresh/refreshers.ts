// The providers with a live price refresh, by id. Adding one is adding its refresher here.
import {azureRefresher} from './azure.js'
import type {Refresher} from './types.js'

export const REFRESHERS: Readonly<Record<string, Refresher>> = {azure: azureRefresher}
