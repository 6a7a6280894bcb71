/** Request/response over the session worker, paired by id. */
import * as path from 'node:path';
import type { SessionReply, SessionRequest } from './sessionProtocol';
import { WorkerClient } from './workerClient';

export class SessionClient extends WorkerClient<SessionRequest, SessionReply> {
  constructor(extensionPath: string) {
    super(path.join(extensionPath, 'dist', 'sessionWorker.js'), 'session');
  }
}
