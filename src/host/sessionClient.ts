/** Request/response over the session worker, paired by id. */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SessionReply, SessionRequest } from './sessionProtocol';

type Body<T> = T extends unknown ? Omit<T, 'id'> : never;

export class SessionClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, (reply: SessionReply) => void>();

  constructor(extensionPath: string) {
    this.worker = new Worker(path.join(extensionPath, 'dist', 'sessionWorker.js'));
    this.worker.on('message', (reply: SessionReply) => {
      const resolve = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      resolve?.(reply);
    });
    const fail = (message: string) => {
      for (const [id, resolve] of this.pending) resolve({ id, type: 'error', message });
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(err.message));
    this.worker.on('exit', (code) => fail(`the session worker stopped (exit code ${code})`));
  }

  request<K extends SessionReply['type']>(body: Body<SessionRequest>, expect: K): Promise<Extract<SessionReply, { type: K }>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => {
        if (reply.type === expect) resolve(reply as Extract<SessionReply, { type: K }>);
        else reject(new Error(reply.type === 'error' ? reply.message : `unexpected reply ${reply.type}`));
      });
      this.worker.postMessage({ ...body, id } as SessionRequest);
    });
  }

  dispose(): void {
    void this.worker.terminate();
  }
}
