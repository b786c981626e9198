// Load benchmark of `local-ai run`: N concurrent streaming completions, reporting time to
// first token, tokens/s per stream and in total.
// usage: node bench/server_load.mjs BASE_URL MODEL [CONCURRENCY...]   (default 1 4)
const [base, model, ...cs] = process.argv.slice(2);
const conc = cs.length ? cs.map(Number) : [1, 4];
const N_TOKENS = 32;

async function one(i) {
  const t0 = performance.now();
  const r = await fetch(`${base}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt: `Request ${i}: once upon a time`, max_tokens: N_TOKENS,
      temperature: 0.8, seed: i, stream: true, stream_options: { include_usage: true } }) });
  if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let ttft = null, tokens = 0, rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += dec.decode(value, { stream: true });
    let k;
    while ((k = rest.indexOf('\n\n')) >= 0) {
      const ev = rest.slice(0, k);
      rest = rest.slice(k + 2);
      if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
      const j = JSON.parse(ev.slice(6));
      if (j.usage) tokens = j.usage.completion_tokens;
      else if (ttft === null) ttft = performance.now() - t0;
    }
  }
  return { ttft, tokens, ms: performance.now() - t0 };
}

await one(0); // warm-up: loads the model
for (const c of conc) {
  const t0 = performance.now();
  const rs = await Promise.all(Array.from({ length: c }, (_, i) => one(i + 1)));
  const wall = (performance.now() - t0) / 1000;
  const total = rs.reduce((s, r) => s + r.tokens, 0);
  const ttft = rs.reduce((s, r) => s + r.ttft, 0) / rs.length;
  const per = rs.reduce((s, r) => s + r.tokens / (r.ms / 1000), 0) / rs.length;
  console.log(`concurrency ${c}: ${total} tokens in ${wall.toFixed(2)} s = ${(total / wall).toFixed(1)} tokens/s in total, ` +
    `${per.toFixed(1)} tokens/s per stream, mean time to first token ${ttft.toFixed(0)} ms`);
}
