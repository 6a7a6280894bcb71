// The harness's stand-in for VS Code and the extension host (not shipped). It provides
// acquireVsCodeApi(), records every message the webview posts in window.__harness.posted, and
// answers them roughly as src/host/labelingPanel.ts does: show first, then labelled.
// ?theme=light|dark|hc picks the theme variables; ?host=0 leaves all answers to the test.
(() => {
  const params = new URLSearchParams(location.search);
  const theme = params.get('theme') ?? 'dark';
  document.documentElement.dataset.theme = theme;
  document.body.className = theme === 'light' ? 'vscode-light' : theme === 'hc' ? 'vscode-high-contrast' : 'vscode-dark';
  const answering = params.get('host') !== '0';

  const { paths, queue: items } = window.__harnessData;
  const queue = items.slice();
  let index = 0;
  const history = [];
  const labels = new Map();

  const deliver = (data) => window.dispatchEvent(new MessageEvent('message', { data }));
  const send = (data) => setTimeout(() => deliver(data), 0);

  function show() {
    if (queue.length === 0) return send({ type: 'empty', message: 'Every image in the queue is labelled.' });
    index = Math.max(0, Math.min(index, queue.length - 1));
    const item = { ...queue[index], current: labels.get(queue[index].image) };
    send({ type: 'show', item, index: index + 1, total: queue.length, next: queue[index + 1]?.src });
  }

  function label(image, path) {
    const i = queue.findIndex((it) => it.image === image);
    if (i < 0) return;
    history.push({ item: queue[i], at: i, previous: labels.get(image) ?? null });
    queue.splice(i, 1);
    labels.set(image, path);
    show();
    send({ type: 'labelled', image, path, count: history.length });
  }

  function answer(m) {
    switch (m.type) {
      case 'ready':
        send({ type: 'init', paths, datasetName: 'tinyimagenet-sample (harness)', strategy: 'hybrid', keys: [] });
        return show();
      case 'accept': {
        const item = queue.find((it) => it.image === m.image);
        if (!item) return;
        const depth = m.confidentOnly ? Math.max(1, item.confidentDepth) : item.predicted.length;
        return label(m.image, item.predicted.slice(0, depth).map((l) => l.node));
      }
      case 'label':
        return label(m.image, m.path);
      case 'skip':
        index++;
        return show();
      case 'navigate':
        index += m.direction === 'next' ? 1 : -1;
        return show();
      case 'undo': {
        const last = history.pop();
        if (!last) return send({ type: 'notice', level: 'info', text: 'Nothing to undo.' });
        queue.splice(last.at, 0, last.item);
        if (last.previous) labels.set(last.item.image, last.previous);
        else labels.delete(last.item.image);
        index = last.at;
        show();
        return send({ type: 'labelled', image: last.item.image, path: last.previous, count: history.length });
      }
      case 'retrain':
        return setTimeout(
          () =>
            deliver({
              type: 'retrained',
              millis: 84,
              nodes: [
                { node: '(root)', before: 0.81, after: 0.84 },
                { node: 'animal > vertebrate_craniate', before: 0.77, after: 0.76 },
                { node: 'animal > vertebrate_craniate > mammal_mammalian', before: 0.7, after: 0.79 },
              ],
            }),
          120,
        );
    }
  }

  const STATE_KEY = 'taxon-harness-state';
  window.__harness = { posted: [], deliver, send, queue };
  window.acquireVsCodeApi = () => ({
    postMessage(message) {
      // Cloned like a real postMessage: the webview must not rely on sharing objects.
      const copy = structuredClone(message);
      window.__harness.posted.push({ ...copy, at: performance.now() });
      if (answering) answer(copy);
    },
    getState: () => JSON.parse(sessionStorage.getItem(STATE_KEY) ?? 'null') ?? undefined,
    setState: (state) => sessionStorage.setItem(STATE_KEY, JSON.stringify(state)),
  });
})();
