/** Request/response over a worker thread, paired by id; the one client every Taxon worker uses. */
import { Worker } from 'node:worker_threads';

export type Body<T> = T extends unknown ? Omit<T, 'id'> : never;

interface Message {
  id: number;
  type: string;
}

export class WorkerClient<Request extends Message, Reply extends Message> {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply | { id: number; type: 'error'; message: string }) => void>();

  /**
   * `name` names the worker in the error of a request it never answered; `onEvent` receives the
   * messages that answer no request (it returns true for those it takes).
   */
  constructor(file: string, name: string, onEvent?: (message: unknown) => boolean) {
    this.worker = new Worker(file);
    this.worker.on('message', (reply: Reply) => {
      if (onEvent?.(reply)) return;
      const resolve = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      resolve?.(reply);
    });
    const fail = (message: string) => {
      for (const [id, resolve] of this.pending) resolve({ id, type: 'error', message });
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(err.message));
    this.worker.on('exit', (code) => fail(`the ${name} worker stopped (exit code ${code})`));
  }

  request<K extends Reply['type']>(body: Body<Request>, expect: K): Promise<Extract<Reply, { type: K }>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => {
        if (reply.type === expect) resolve(reply as Extract<Reply, { type: K }>);
        else reject(new Error(reply.type === 'error' && 'message' in reply ? String(reply.message) : `unexpected reply ${reply.type}`));
      });
      this.worker.postMessage({ ...body, id });
    });
  }

  dispose(): void {
    void this.worker.terminate();
  }
}
