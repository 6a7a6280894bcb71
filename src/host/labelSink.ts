/**
 * Where the panel's labels go. Every change is journaled first (in the session worker); when the
 * label file is open in an editor the change goes through a workspace edit, so the curator can
 * undo it there, otherwise the worker writes the file atomically.
 */
import * as vscode from 'vscode';
import type { DatasetEntry } from './datasets';
import type { LabelSink } from './labelingPanel';
import type { SessionClient } from './sessionClient';

export function fileLabelSink(session: () => SessionClient | undefined): LabelSink {
  return {
    async write(entry: DatasetEntry, image: string, path: string[] | null): Promise<void> {
      const client = session();
      if (!client) throw new Error('no labelling session is open');
      const file = entry.summary?.format === 'folder' ? undefined : entry.summary?.files[0];
      const doc = file ? vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file) : undefined;
      if (doc && file) {
        const confirmed = await client.request({ type: 'write', image, path, flush: false }, 'written');
        const { edits } = await client.request({ type: 'edits', file, text: doc.getText(), image, path }, 'edits');
        const edit = new vscode.WorkspaceEdit();
        for (const e of edits) edit.replace(doc.uri, new vscode.Range(e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character), e.newText);
        if (!(await vscode.workspace.applyEdit(edit)) || !(await doc.save())) {
          throw new Error(`${confirmed.file}: the label could not be written through the editor; it is kept in the journal (.taxon/journal.jsonl) and will be written on the next save`);
        }
        await client.request({ type: 'flush' }, 'written');
        return;
      }
      const r = await client.request({ type: 'write', image, path, flush: true }, 'written');
      if (r.error) throw new Error(`${r.error} — the label is kept in the journal (${r.pending} pending) and written once the file can be written`);
      if (r.changedOnDisk) void vscode.window.setStatusBarMessage(`Taxon: ${r.file} had changed on disk; re-read and labelled on top`, 5000);
    },
  };
}
