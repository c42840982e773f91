// The keyless package's main entry, for code that drives migrations itself: the pipeline spec and
// route schemas, the worker, the activities, the embedded Google Cloud and the CLI's main. A
// pipeline imports 'keyless/gemini-client' instead, which pulls in none of this.

export { PipelineSpecSchema, type PipelineSpec } from './contracts/spec';
export { RouteSchema, type Route } from './contracts/route';
export { createActivities } from './activities';
export { createKeylessWorker, runWorker, workflowsPath } from './worker/worker';
export { startEmulator, type RunningEmulator } from './emulator';
export { main } from './client/main';
