/** Worker thread: loads and validates datasets off the extension host's main thread. */
import { parentPort } from 'node:worker_threads';
import { inspect, type InspectRequest } from './inspection';

parentPort?.on('message', (req: InspectRequest) => {
  parentPort!.postMessage(inspect(req));
});
