/** Runs dataset inspections in a worker thread; restarts it if it dies. */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as vscode from 'vscode';
import type { DatasetSummary, InspectRequest, InspectResponse } from './inspection';
import { expandPreview } from './preview';

type Final = Exclude<InspectResponse, { preview: true }>;
type Pending = { resolve: (r: Final) => void; target: string; onPreview?: (summary: DatasetSummary) => void };

export class Inspector implements vscode.Disposable {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly extensionPath: string) {}

  inspect(request: Omit<InspectRequest, 'id'>, onPreview?: (summary: DatasetSummary) => void): Promise<Final> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, target: request.target, onPreview });
      this.ensureWorker().postMessage({ ...request, id } satisfies InspectRequest);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(path.join(this.extensionPath, 'dist', 'worker.js'));
    worker.on('message', (res: InspectResponse) => {
      const p = this.pending.get(res.id);
      if (!p) return;
      if (res.ok && res.preview) {
        if (p.onPreview) p.onPreview(expandPreview(res.taxonomy));
        return;
      }
      this.pending.delete(res.id);
      p.resolve(res);
    });
    const fail = (why: string) => {
      this.worker = undefined;
      for (const [id, p] of this.pending) {
        const message = `${p.target}: validation stopped (${why})`;
        p.resolve({
          id,
          ok: false,
          file: p.target,
          message,
          diagnostics: [],
        });
      }
      this.pending.clear();
    };
    worker.on('error', (err) => fail(err.message));
    worker.on('exit', (code) => {
      if (this.worker === worker) fail(`worker exited with code ${code}`);
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }

  dispose(): void {
    const w = this.worker;
    this.worker = undefined;
    void w?.terminate();
  }
}
