// Drives a running `local-ai run` with the official openai npm SDK.
// usage: node tests/sdk/openai_sdk.mjs BASE_URL   (models: "tiny" = stories260K, "bert" = an encoder)
// Prints one line per check and exits non-zero on the first failure.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const base = process.argv[2];
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
const checks = [];
const check = (name, fn) => checks.push([name, fn]);
const msgs = [{ role: 'user', content: 'Once upon a time' }];

check('models.list', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('tiny'), `models: ${ids}`);
  const m = await client.models.retrieve('tiny');
  assert.equal(m.id, 'tiny');
});

check('chat, plain and streamed give the same text', async () => {
  const r = await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 20, temperature: 0 });
  const text = r.choices[0].message.content;
  assert.ok(text.length > 10);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  assert.equal(r.choices[0].finish_reason, 'length');
  const stream = await client.chat.completions.create({
    model: 'tiny', messages: msgs, max_tokens: 20, temperature: 0, stream: true,
    stream_options: { include_usage: true } });
  let got = '', usage = null, finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      got += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(got, text);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 20);
});

check('completions with stop and echo', async () => {
  const r = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 40, temperature: 0, stop: ['girl'] });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(!r.choices[0].text.includes('girl'));
  const e = await client.completions.create({ model: 'tiny', prompt: 'Once upon', max_tokens: 3, temperature: 0, echo: true });
  assert.ok(e.choices[0].text.startsWith('Once upon'));
});

check('a seed reproduces sampled text; n gives several choices', async () => {
  const a = await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 24, temperature: 1, seed: 7 });
  const b = await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 24, temperature: 1, seed: 7 });
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  const n = await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 8, temperature: 1, n: 3, seed: 1 });
  assert.equal(n.choices.length, 3);
  assert.deepEqual(n.choices.map((c) => c.index), [0, 1, 2]);
});

check('logprobs', async () => {
  const r = await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 2 });
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, 5);
  for (const t of lp) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 2);
  }
});

check('embeddings (the SDK asks for base64 and decodes it)', async () => {
  const r = await client.embeddings.create({ model: 'bert', input: ['Hello, world!', 'The quick brown fox.'] });
  assert.equal(r.data.length, 2);
  for (const d of r.data) {
    assert.equal(d.embedding.length, 256);
    const norm = Math.sqrt(d.embedding.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
  }
  const f = await client.embeddings.create({ model: 'bert', input: 'Hello, world!', encoding_format: 'float', dimensions: 64 });
  assert.equal(f.data[0].embedding.length, 64);
});

check('a required tool call', async () => {
  const r = await client.chat.completions.create({
    model: 'tiny', messages: [{ role: 'user', content: 'Weather?' }], max_tokens: 80, temperature: 0.8, seed: 3,
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 16 } }, required: ['city'] } } }],
    tool_choice: 'required' });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
});

check('16 clients streaming at once all get well-formed streams', async () => {
  const one = async (i) => {
    const stream = await client.chat.completions.create({
      model: 'tiny', messages: [{ role: 'user', content: `Story ${i}` }], max_tokens: 16,
      temperature: 1, seed: i, stream: true, stream_options: { include_usage: true } });
    let text = '', finish = null, usage = null, roles = 0;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        if (c.delta.role) roles++;
        text += c.delta.content ?? '';
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    assert.equal(roles, 1);
    assert.ok(finish === 'length' || finish === 'stop');
    assert.ok(usage && usage.completion_tokens >= 1 && usage.completion_tokens <= 16);
    return text;
  };
  const texts = await Promise.all(Array.from({ length: 16 }, (_, i) => one(i)));
  assert.equal(texts.length, 16);
  assert.ok(new Set(texts).size > 1, 'different seeds give different stories');
});

check('errors arrive as the SDK error classes', async () => {
  await assert.rejects(client.models.retrieve('nope'), (e) => e instanceof OpenAI.NotFoundError);
  await assert.rejects(client.chat.completions.create({ model: 'tiny', messages: msgs, temperature: 5 }),
    (e) => e instanceof OpenAI.BadRequestError && /temperature/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: 'nope', messages: msgs }),
    (e) => e instanceof OpenAI.NotFoundError);
});

let failed = 0;
for (const [name, fn] of checks) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}
console.log(`${checks.length - failed} of ${checks.length} SDK checks passed`);
process.exit(failed ? 1 : 0);
