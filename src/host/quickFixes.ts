/** Code actions: turns the quick fixes that core attached to a diagnostic into workspace edits. */
import * as vscode from 'vscode';
import type { Datasets } from './datasets';

export class QuickFixProvider implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];

  constructor(private readonly datasets: Datasets) {}

  provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    for (const diagnostic of context.diagnostics) {
      if (diagnostic.source !== 'taxon') continue;
      for (const fix of this.datasets.fixesFor(document.uri, diagnostic)) {
        const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        action.diagnostics = [diagnostic];
        action.edit = new vscode.WorkspaceEdit();
        for (const e of fix.edits) {
          action.edit.replace(document.uri, new vscode.Range(e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character), e.newText);
        }
        actions.push(action);
      }
    }
    if (actions.length === 1) actions[0].isPreferred = true;
    return actions;
  }
}
