import init, { create } from './pkg/switchboard_js.js';

const params = new URLSearchParams(location.search);
let result;
try {
  await init();
  const node = await create({ websocketFilter: params.get('filter') ?? 'all' });
  const started = performance.now();
  const peer = await node.dial(params.get('addr') ?? '');
  result = { ok: true, ms: performance.now() - started, peer };
  await node.stop();
} catch (e) {
  result = { ok: false, error: e.message ?? String(e) };
}
document.getElementById('result').textContent = JSON.stringify(result, null, 2);
document.body.dataset.result = JSON.stringify(result);
