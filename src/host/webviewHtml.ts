/** The HTML shell of Taxon's webviews: a strict Content-Security-Policy with a nonce, one bundle, its stylesheets. */
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';

export interface WebviewShell {
  /** `dist/webview/<bundle>.js` */
  bundle: string;
  /** `media/<name>` stylesheets, in order. */
  stylesheets: string[];
  /** The accessible name of the app root (and its role, when it has one). */
  label: string;
  role?: string;
  /** Whether images may also come from the extension's own files (besides data: URLs). */
  localImages?: boolean;
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, shell: WebviewShell): string {
  const nonce = crypto.randomBytes(16).toString('base64');
  const dist = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist'));
  const media = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media'));
  const codicons = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'node_modules', '@vscode', 'codicons', 'dist', 'codicon.css'));
  const imgSrc = shell.localImages ? `${webview.cspSource} data:` : 'data:';
  const role = shell.role ? ` role="${shell.role}"` : '';
  return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${imgSrc}; style-src ${webview.cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}'; font-src ${webview.cspSource};">
${shell.stylesheets.map((s) => `<link rel="stylesheet" href="${media}/${s}" nonce="${nonce}">`).join('\n')}
<link rel="stylesheet" href="${codicons}" id="vscode-codicon-stylesheet" nonce="${nonce}">
</head><body><div id="app"${role} aria-label="${shell.label}"></div>
<script nonce="${nonce}" src="${dist}/webview/${shell.bundle}.js"></script></body></html>`;
}
